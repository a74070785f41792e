//! Failed sign-ins are counted per client address (the peer, or what a trusted proxy says) and
//! per account, in the database: one client cannot lock others out, many addresses cannot spray
//! one account, a spoofed X-Forwarded-For changes nothing, and every node shares the counts.

use reqwest::{Client, StatusCode, header};

use crate::helpers::{PASSWORD, TestApp, field_value};

/// A browser at `address` (sent as X-Forwarded-For), holding the known-device cookie it was
/// given at its last successful sign-in (and no session, so each sign-in is a fresh one).
struct Browser {
    client: Client,
    device: std::sync::Mutex<Option<String>>,
}

fn client_at(address: Option<&str>) -> Browser {
    let mut headers = header::HeaderMap::new();
    if let Some(address) = address {
        headers.insert("x-forwarded-for", address.parse().unwrap());
    }
    Browser {
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap(),
        device: Default::default(),
    }
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

async fn sign_in(base: &str, browser: &Browser, email: &str, password: &str) -> StatusCode {
    let page = browser
        .client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap();
    let csrf_cookie = set_cookie(&page, "biotz_csrf").unwrap();
    let csrf = field_value(&page.text().await.unwrap(), "_csrf").unwrap();
    let mut cookies = format!("biotz_csrf={csrf_cookie}");
    if let Some(device) = browser.device.lock().unwrap().as_deref() {
        cookies.push_str(&format!("; biotz_device={device}"));
    }
    let answer = browser
        .client
        .post(format!("{base}/login"))
        .header(header::COOKIE, cookies)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    if let Some(device) = set_cookie(&answer, "biotz_device") {
        *browser.device.lock().unwrap() = Some(device);
    }
    answer.status()
}

async fn trusting_loopback() -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await
}

#[tokio::test]
async fn a_spoofed_forwarded_header_does_not_make_a_new_client() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let base = app.url("");
    for n in 0..10 {
        let rotating = client_at(Some(&format!("198.51.100.{n}")));
        let status = sign_in(&base, &rotating, &format!("guess{n}@acme.example"), "nope").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let next = client_at(Some("198.51.100.99"));
    assert_eq!(
        sign_in(&base, &next, &acme.email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "without a trusted proxy the peer address is counted, whatever the header says"
    );
}

#[tokio::test]
async fn one_failing_client_does_not_lock_out_others() {
    let app = trusting_loopback().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let base = app.url("");
    let victim = client_at(Some("198.51.100.5"));
    assert_eq!(
        sign_in(&base, &victim, &acme.email, PASSWORD).await,
        StatusCode::SEE_OTHER
    );

    let attacker = client_at(Some("203.0.113.66"));
    for _ in 0..10 {
        assert_eq!(
            sign_in(&base, &attacker, &acme.email, "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in(&base, &attacker, &other.email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the failing client is refused, for every account"
    );
    assert_eq!(
        sign_in(&base, &victim, &acme.email, PASSWORD).await,
        StatusCode::SEE_OTHER,
        "the account's owner still signs in from a device it used before"
    );
    let colleague = client_at(Some("198.51.100.9"));
    assert_eq!(
        sign_in(&base, &colleague, &other.email, PASSWORD).await,
        StatusCode::SEE_OTHER,
        "other clients and accounts are untouched"
    );
}

#[tokio::test]
async fn many_addresses_cannot_spray_one_account() {
    let app = trusting_loopback().await;
    let acme = app.tenant("Acme").await;
    let base = app.url("");
    let owner = client_at(Some("198.51.100.5"));
    assert_eq!(
        sign_in(&base, &owner, &acme.email, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    for n in 0..10 {
        let sprayer = client_at(Some(&format!("203.0.113.{n}")));
        assert_eq!(
            sign_in(&base, &sprayer, &acme.email, "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let fresh = client_at(Some("203.0.113.200"));
    assert_eq!(
        sign_in(&base, &fresh, &acme.email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the account refuses new clients once it has had too many failures"
    );
    assert_eq!(
        sign_in(&base, &owner, &acme.email, PASSWORD).await,
        StatusCode::SEE_OTHER,
        "its known device still signs in"
    );
}

#[tokio::test]
async fn every_node_shares_the_counts() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let (second, _) = app.another_node().await;
    let client = client_at(None);
    for base in [app.url(""), second.clone()] {
        for _ in 0..5 {
            assert_eq!(
                sign_in(&base, &client, &acme.email, "guess").await,
                StatusCode::UNAUTHORIZED
            );
        }
    }
    for base in [app.url(""), second] {
        assert_eq!(
            sign_in(&base, &client, &acme.email, PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{base}: five failures here and five on the other node"
        );
    }
}
