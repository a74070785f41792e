//! What most tests start from: the app, an organization with its administrator, and a browser
//! signed in as that person through the sign-in form.

use crate::browser::Browser;
use crate::helpers::{PASSWORD, Tenant, TestApp};

pub struct Scene {
    pub app: TestApp,
    pub tenant: Tenant,
    pub browser: Browser,
}

impl Scene {
    /// `None` when the browser tests are skipped on this machine.
    pub async fn signed_in(test: &'static str) -> Option<Self> {
        let app = TestApp::spawn().await;
        let tenant = app.tenant("Acme").await;
        let browser = Browser::open(test, &app.address).await?;
        sign_in(&browser, &tenant.email, PASSWORD).await;
        Some(Self {
            app,
            tenant,
            browser,
        })
    }
}

/// Signs in through the form and waits for the first page after it.
pub async fn sign_in(browser: &Browser, email: &str, password: &str) {
    browser.step("sign in").await;
    browser.goto("/login").await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.press("Sign in").await;
    browser.wait_for_path("/overview").await;
}
