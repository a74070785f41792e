//! The first start: the printed setup link creates the organization and its administrator, who
//! can then sign out and sign in again.

use serde_json::json;

use crate::browser::Browser;
use crate::checks;
use crate::helpers::TestApp;
use crate::scene::sign_in;

const EMAIL: &str = "ada@acme.example";
const PASSWORD: &str = "a long enough password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_link_creates_the_first_account_which_then_signs_in() {
    let app = TestApp::spawn().await;
    let Some(browser) = Browser::open("first_run", &app.address).await else {
        return;
    };
    let link = app
        .setup_link
        .clone()
        .expect("a fresh server prints a setup link");
    let path = &link[link.find("/setup/").expect("the link's path")..];

    browser
        .step("signing in before setup points to the link")
        .await;
    browser.goto("/webhooks").await;
    browser.wait_for_path("/login").await;
    browser.wait_for_text("main", "setup link").await;

    browser.step("the sign-in page reads well").await;
    assert_eq!(checks::unnamed(&browser).await, json!([]));
    assert_eq!(checks::faint_text(&browser).await, json!([]));

    browser
        .step("a mismatched password is refused beside the field")
        .await;
    browser.goto(path).await;
    browser.fill("#organization", "Acme Cold Chain").await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser.fill("#confirm", "not the same password").await;
    browser.press("Create organization").await;
    browser.find("#confirm-error").await;
    assert_eq!(
        browser
            .attribute("#confirm", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        browser.attribute("#organization", "value").await.as_deref(),
        Some("Acme Cold Chain"),
        "what was typed is kept"
    );

    assert_eq!(checks::unnamed(&browser).await, json!([]));
    assert_eq!(checks::faint_text(&browser).await, json!([]));

    browser
        .step("setup creates the organization and signs in")
        .await;
    browser.fill("#password", PASSWORD).await;
    browser.fill("#confirm", PASSWORD).await;
    browser.press("Create organization").await;
    browser.wait_for_path("/webhooks").await;
    browser.wait_for_text(".flash", "Welcome").await;
    browser.wait_for_text(".account", "Acme Cold Chain").await;
    browser.wait_for_text(".empty", "No webhooks yet").await;

    browser.step("the setup link works once").await;
    browser.goto(path).await;
    browser.wait_for_text("main", "not valid").await;

    browser.step("sign out").await;
    browser.goto("/webhooks").await;
    browser.press("Sign out").await;
    browser.wait_for_path("/login").await;
    browser.wait_for_text(".flash", "signed out").await;

    browser.step("a wrong password is refused").await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", "a wrong password!").await;
    browser.press("Sign in").await;
    browser.wait_for_text("[role=alert]", "").await;
    assert_eq!(browser.path().await, "/login");

    sign_in(&browser, EMAIL, PASSWORD).await;
    browser.step("signed in").await;
    browser.wait_for_text(".account", EMAIL).await;
}
