//! A webhook disabled automatically: a notice on every page of its organization until someone
//! acts, and a signed `webhook.disabled` event to the organization's notify webhook.

use std::time::Duration;

use biotz::domain::Role;
use biotz_signature::{Tolerance, verify};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_webhook_answering_410_shows_a_notice_everywhere_and_tells_the_notify_webhook() {
    let gone = Receiver::start().await;
    gone.reply_always(Reply::Status(410));
    let pager = Receiver::start().await;
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let api = app.api(&acme);
    let leaving = api.create_webhook("Leaving receiver", &gone.url).await;
    let leaving_id = leaving["id"].as_str().unwrap();
    let notify = api.create_webhook("Ops pager", &pager.url).await;
    let notify_id = notify["id"].as_str().unwrap();

    let admin = app.browser(&acme).await;
    let saved = admin
        .submit(
            "/settings",
            "/settings",
            &[("retain", ""), ("notify_webhook_id", notify_id)],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let refused = admin
        .submit(
            "/settings",
            "/settings",
            &[
                ("retain", ""),
                ("notify_webhook_id", "whk_01jdq7z6w3k9v2x3y4z5a6b7c8"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains(r#"id="notify-error""#));
    assert!(
        admin
            .get("/settings")
            .await
            .html
            .contains(&format!(r#"<option value="{notify_id}" selected>"#)),
        "the refused choice left the saved one"
    );

    api.post(&format!("/api/v1/webhooks/{leaving_id}/test"), json!({}))
        .await;
    gone.wait_for(1, WAIT).await;
    let event = &pager.wait_for(1, WAIT).await[0];
    let body = event.json();
    assert_eq!(body["type"], "webhook.disabled");
    assert_eq!(body["data"]["webhook"]["id"], leaving_id);
    assert!(
        body["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("410 Gone")
    );
    let now = biotz::domain::time::now_ms() / 1000;
    assert_eq!(
        verify(
            notify["secret"].as_str().unwrap(),
            event.header("biotz-iot-signature"),
            &event.body,
            now,
            Tolerance::default(),
        ),
        Ok(()),
        "signed with the notify webhook's own secret"
    );

    // Every page of the organization shows the notice, to a viewer too (without Dismiss).
    for path in ["/overview", "/devices", "/settings"] {
        let page = admin.get(path).await;
        assert!(
            page.html.contains("Leaving receiver</a> was disabled"),
            "{path}"
        );
        assert!(page.html.contains("410 Gone"));
    }
    let viewer = app
        .member("Acme", "viewer@acme.example", Role::Viewer)
        .await;
    let seen = viewer.get("/overview").await;
    assert!(seen.html.contains("Leaving receiver</a> was disabled"));
    assert!(
        !seen
            .html
            .contains(&format!("/webhooks/{leaving_id}/dismiss"))
    );
    let elsewhere = app.browser(&other).await.get("/overview").await;
    assert!(
        !elsewhere.html.contains("Leaving receiver"),
        "another organization sees nothing"
    );

    let dismissed = admin
        .post_with_csrf(&format!("/webhooks/{leaving_id}/dismiss"), &[])
        .await;
    assert_eq!(dismissed.status, StatusCode::SEE_OTHER);
    assert!(!admin.get("/overview").await.html.contains("was disabled"));
    let read = api.get(&format!("/api/v1/webhooks/{leaving_id}")).await;
    assert_eq!(read.body["enabled"], false, "dismissing leaves it disabled");
    let foreign = app
        .browser(&other)
        .await
        .post_with_csrf(&format!("/webhooks/{leaving_id}/dismiss"), &[])
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}
