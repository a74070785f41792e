//! Activity → Deliveries and the delivery tools on a webhook's page, as a browser uses them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::dispatch::{Scene, delivery_of, delivery_when};
use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_delivery_page_lists_attempts_and_helps_debug_a_signature() {
    let receiver = Receiver::start().await;
    receiver.reply_next([Reply::Status(500)]);
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let id = delivery_of(&api, &scene.raise(&app).await).await;
    delivery_when(&api, &id, "success after a retry", |d| {
        d["status"] == "succeeded"
    })
    .await;
    let browser = app.browser(&scene.tenant).await;

    let page = browser.get(&format!("/deliveries/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("HTTP 500") && page.html.contains("HTTP 200"),
        "both attempts are listed"
    );
    assert!(!page.html.contains("http_status"), "no internal error kind");
    let body = browser
        .client
        .get(app.url(&format!("/deliveries/{id}/body")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let sent = receiver.received()[1].body.clone();
    assert_eq!(body, sent, "the download is the exact body");
    // Each attempt shows the headers it sent, the signature as the receiver got it.
    let signature = receiver.received()[1]
        .header("biotz-iot-signature")
        .to_owned();
    assert!(
        page.html
            .contains(&format!("Biotz-IoT-Signature: {signature}")),
        "{}",
        page.html
    );
    assert!(page.html.contains("Biotz-IoT-Delivery-Attempt: 2"));
    assert!(page.html.contains("content-type: text/plain"));
    use sha2::Digest;
    assert!(
        page.html
            .contains(&hex::encode(sha2::Sha256::digest(&body)))
    );
    let start = page
        .html
        .find("biotz verify --header &#39;")
        .or_else(|| page.html.find("biotz verify --header '"))
        .unwrap();
    let command = &page.html[start..start + page.html[start..].find(" evt_").unwrap()];
    let header = command
        .split('\'')
        .nth(1)
        .or_else(|| command.split("&#39;").nth(1))
        .unwrap();
    let t: i64 = command
        .rsplit("--at ")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        biotz_signature::verify(
            scene.secret(),
            header,
            &body,
            t,
            biotz_signature::Tolerance::Seconds(0)
        ),
        Ok(())
    );

    let list = browser.get("/deliveries?status=succeeded").await;
    assert!(list.html.contains(&format!("/deliveries/{id}")));
    let failed = browser.get("/deliveries?status=failed").await;
    assert!(
        !failed.html.contains(&format!("/deliveries/{id}"))
            && failed.html.contains("No deliveries match")
    );

    let resent = browser
        .submit(
            &format!("/deliveries/{id}"),
            &format!("/deliveries/{id}/resend"),
            &[],
        )
        .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER);
    let third = &receiver.wait_for(3, WAIT).await[2];
    assert_eq!(third.header("biotz-iot-delivery-id"), id);
    assert_eq!(third.header("biotz-iot-delivery-attempt"), "3");
}

#[tokio::test]
async fn the_webhook_page_sends_test_events_and_replays_what_was_skipped() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let browser = app.browser(&scene.tenant).await;
    let page = format!("/webhooks/{}", scene.webhook_id());

    let sent = browser.submit(&page, &format!("{page}/test"), &[]).await;
    assert!(
        sent.location
            .as_deref()
            .unwrap()
            .starts_with("/deliveries/dlv_")
    );
    assert_eq!(
        receiver.wait_for(1, WAIT).await[0].json()["type"],
        "webhook.test"
    );

    browser.submit(&page, &format!("{page}/disable"), &[]).await;
    scene.raise_and_clear(&app).await;
    browser.submit(&page, &format!("{page}/enable"), &[]).await;
    let shown = browser.get(&page).await;
    assert!(
        shown
            .html
            .contains("2 deliveries were skipped while this webhook was disabled"),
        "re-enabling offers the replay"
    );
    let since = crate::helpers::field_value(
        &shown.html[shown.html.find("Replay them").unwrap() - 400..],
        "since",
    )
    .unwrap();
    let replayed = browser
        .submit(&page, &format!("{page}/replay"), &[("since", &since)])
        .await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER);
    assert!(
        browser
            .get(&page)
            .await
            .html
            .contains("2 deliveries queued again.")
    );
    receiver.wait_for(3, WAIT).await;
    let skipped = api
        .get(&format!(
            "/api/v1/webhooks/{}/deliveries?status=skipped",
            scene.webhook_id()
        ))
        .await;
    assert_eq!(skipped.body["data"], json!([]));

    let nothing = browser
        .submit(
            &page,
            &format!("{page}/replay"),
            &[("since", "2026-01-01T00:00")],
        )
        .await;
    assert_eq!(nothing.status, StatusCode::SEE_OTHER);
    let bad = browser
        .submit(&page, &format!("{page}/replay"), &[("since", "whenever")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn another_organization_gets_404_on_delivery_pages() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let id = delivery_of(&api, &scene.raise(&app).await).await;
    let intruder = app.tenant("Intruder").await;
    let browser = app.browser(&intruder).await;
    for path in [
        format!("/deliveries/{id}"),
        format!("/deliveries/{id}/body"),
    ] {
        assert_eq!(
            browser.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let csrf = browser.get("/deliveries").await.csrf();
    let webhook = scene.webhook_id();
    for path in [
        format!("/deliveries/{id}/resend"),
        format!("/webhooks/{webhook}/test"),
        format!("/webhooks/{webhook}/replay"),
    ] {
        let answer = browser
            .post_form(&path, &[("_csrf", &csrf), ("since", "2026-01-01T00:00")])
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    let other = app.api(&intruder);
    assert_eq!(
        other.get(&format!("/api/v1/deliveries/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .post(&format!("/api/v1/deliveries/{id}/resend"), json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .post(&format!("/api/v1/webhooks/{webhook}/test"), json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other.get("/api/v1/deliveries").await.body["data"],
        json!([])
    );
    assert!(!browser.get("/deliveries").await.html.contains(&id));
}

#[tokio::test]
async fn a_delivery_in_flight_says_sending_not_its_lease_end() {
    let receiver = Receiver::start().await;
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    receiver.reply_next([Reply::Held(gate.clone())]);
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let id = delivery_of(&api, &scene.raise(&app).await).await;
    receiver.wait_for(1, WAIT).await;
    let browser = app.browser(&scene.tenant).await;

    let page = browser.get(&format!("/deliveries/{id}")).await;
    assert!(page.html.contains("Sending…"), "{}", page.html);
    assert!(!page.html.contains("Next attempt"), "{}", page.html);
    let list = browser.get("/deliveries?status=pending").await;
    assert!(list.html.contains("Sending…"), "{}", list.html);

    gate.add_permits(1);
    delivery_when(&api, &id, "success", |d| d["status"] == "succeeded").await;
    let page = browser.get(&format!("/deliveries/{id}")).await;
    assert!(page.html.contains("Succeeded"), "{}", page.html);
    assert!(!page.html.contains("Sending…"), "{}", page.html);
}
