//! The double-submit CSRF cookie and flash cookies are signed with a key derived from the master
//! key: forged ones, ones from another server and a flash left for another session are ignored.

use reqwest::{Client, StatusCode, header};

use crate::helpers::{PASSWORD, Tenant, TestApp, field_value};

fn raw_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value a response sets for the cookie `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// The login form's CSRF cookie and field.
async fn login_form(app: &TestApp) -> (String, String) {
    let response = raw_client().get(app.url("/login")).send().await.unwrap();
    let cookie = set_cookie(&response, "biotz_csrf").expect("a CSRF cookie");
    let field = field_value(&response.text().await.unwrap(), "_csrf").unwrap();
    (cookie, field)
}

async fn post_login(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    raw_client()
        .post(app.url("/login"))
        .header(header::COOKIE, format!("biotz_csrf={cookie}"))
        .form(&[("_csrf", csrf), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

async fn session_of(app: &TestApp, tenant: &Tenant) -> String {
    let (cookie, csrf) = login_form(app).await;
    let response = post_login(app, &cookie, &csrf, &tenant.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    set_cookie(&response, "biotz_session").unwrap()
}

#[tokio::test]
async fn the_sign_in_form_accepts_only_a_csrf_cookie_this_server_signed() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let (cookie, csrf) = login_form(&app).await;
    assert_ne!(
        cookie, csrf,
        "the cookie carries a signature, not the bare token"
    );
    let wrong_password = post_login(&app, &cookie, &csrf, &acme.email, "nope").await;
    assert_eq!(
        wrong_password.status(),
        StatusCode::UNAUTHORIZED,
        "a signed cookie is accepted"
    );

    let forged = "f".repeat(43);
    let answer = post_login(&app, &forged, &forged, &acme.email, PASSWORD).await;
    assert_eq!(
        answer.status(),
        StatusCode::FORBIDDEN,
        "an unsigned cookie is refused"
    );

    let tampered = cookie.replacen(&csrf, &"f".repeat(csrf.len()), 1);
    let answer = post_login(
        &app,
        &tampered,
        &"f".repeat(csrf.len()),
        &acme.email,
        PASSWORD,
    )
    .await;
    assert_eq!(
        answer.status(),
        StatusCode::FORBIDDEN,
        "a changed token breaks the signature"
    );

    let other = TestApp::spawn().await;
    let (foreign_cookie, foreign_csrf) = login_form(&other).await;
    let answer = post_login(&app, &foreign_cookie, &foreign_csrf, &acme.email, PASSWORD).await;
    assert_eq!(
        answer.status(),
        StatusCode::FORBIDDEN,
        "a cookie signed under another master key is refused"
    );
}

#[tokio::test]
async fn a_flash_shows_only_when_signed_here_and_for_this_session() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let session = session_of(&app, &acme).await;
    let page = |cookies: String| {
        let app = &app;
        async move {
            raw_client()
                .get(app.url("/webhooks"))
                .header(header::COOKIE, cookies)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let tokens = raw_client()
        .get(app.url("/tokens"))
        .header(header::COOKIE, format!("biotz_session={session}"))
        .send()
        .await
        .unwrap();
    let csrf = field_value(&tokens.text().await.unwrap(), "_csrf").unwrap();
    let token_id = app.api(&acme).get("/api/v1/tokens").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = raw_client()
        .post(app.url(&format!("/tokens/{token_id}/delete")))
        .header(header::COOKIE, format!("biotz_session={session}"))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let flash = set_cookie(&deleted, "biotz_flash").expect("a flash cookie");

    let shown = page(format!("biotz_session={session}; biotz_flash={flash}")).await;
    assert!(
        shown.contains("API token deleted."),
        "the flash shows in its session"
    );

    let other_session = session_of(&app, &intruder).await;
    let replayed = page(format!(
        "biotz_session={other_session}; biotz_flash={flash}"
    ))
    .await;
    assert!(
        !replayed.contains("API token deleted."),
        "a flash left for another session is not shown"
    );

    let forged = page(format!(
        "biotz_session={session}; biotz_flash=Call%20support%20at%20555-0100"
    ))
    .await;
    assert!(
        !forged.contains("Call support"),
        "an unsigned flash is not shown"
    );
}
