//! The "Done when", through the pages alone.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, freezer_schema, href_starting, text_after};

use super::*;

/// The "Done when", through the pages alone: a device type with a schema, a device, a
/// trigger, a webhook found by name and added, then a device message raises an alarm whose
/// event waits as a pending delivery to that webhook.
#[tokio::test]
async fn done_when_an_alarm_set_up_in_the_ui_queues_a_delivery_to_the_webhook() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let browser = app.browser(&acme).await;
    let alarms = browser.get("/alarms").await;
    assert!(
        alarms.html.contains("No raised alarms") && alarms.html.contains("No cleared alarms yet")
    );

    let created = browser
        .submit(
            "/webhooks/new",
            "/webhooks",
            &[("name", "Ops pager"), ("url", "https://example.com/biotz")],
        )
        .await;
    let webhook = id_in(&created.location, "/webhooks/").replace("?created=1", "");
    let device_type = save_device_type(&browser, "Freezer", &freezer_schema()).await;
    let (device, token, _) = new_device(&browser, "Freezer 7", &device_type).await;
    let list_path = format!("/device-types/{device_type}/alarm-triggers");
    let trigger = browser
        .submit(
            &format!("{list_path}/new"),
            &list_path,
            &trigger_fields("Too warm", "/temperature", ">", "-10", "number"),
        )
        .await;
    let trigger = id_in(&trigger.location, "/alarm-triggers/");

    let editor = format!("/alarm-triggers/{trigger}/webhooks");
    let found = browser
        .submit(&editor, &editor, &[("q", "ops"), ("action", "search")])
        .await;
    let option = format!("<option value=\"{webhook}\">Ops pager</option>");
    assert!(found.html.contains(&option), "{}", found.html);
    let added = browser
        .submit(
            &editor,
            &editor,
            &[("q", "ops"), ("candidate", &webhook), ("action", "add")],
        )
        .await;
    assert_eq!(staged(&added.html), vec![webhook.clone()]);
    let saved = browser
        .submit(
            &editor,
            &editor,
            &[("webhook_ids", &webhook), ("action", "save")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);

    let payload = json!({ "temperature": -2.5, "status": "door ajar" });
    let ingested = app.ingest(&token, "telemetry", payload.clone()).await;
    assert_eq!(ingested.status, StatusCode::ACCEPTED, "{}", ingested.body);
    let event = ingested.body["events"][0]
        .as_str()
        .expect("the message raised an alarm")
        .to_owned();

    let alarms = browser.get("/alarms").await;
    assert!(
        alarms
            .html
            .contains(&format!("href=\"/devices/{device}\">Freezer 7</a>"))
    );
    assert!(
        alarms
            .html
            .contains(&format!("href=\"/alarm-triggers/{trigger}\">Too warm</a>"))
    );
    assert!(
        alarms.html.contains("badge state-raised")
            && alarms.html.contains("badge severity-critical")
    );
    let link = href_starting(&alarms.html, "/events/").expect("a link to the latest event");
    assert_eq!(link, format!("/events/{event}"));

    let page = browser.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html
            .contains(&format!("href=\"/webhooks/{webhook}\">Ops pager</a>"))
    );
    assert!(page.html.contains("<span class=\"badge\">Pending</span>"));
    assert!(
        href_starting(&page.html, "/deliveries/dlv_").is_some(),
        "a link to the delivery"
    );
    let shown = text_after(&page.html, "<pre id=\"event-body\">").expect("the body");
    let body: Value = serde_json::from_str(&shown).unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        vec!["id", "type", "created_at", "data"],
        "the SPEC §2 envelope"
    );
    assert_eq!(
        (body["id"].as_str(), body["type"].as_str()),
        (Some(event.as_str()), Some("alarm.raised"))
    );
    assert_eq!(body["data"]["alarm"]["state"], "raised");
    assert_eq!(body["data"]["trigger"]["id"], trigger.as_str());
    assert_eq!(body["data"]["device_type"]["id"], device_type.as_str());
    assert_eq!(body["data"]["device"]["name"], "Freezer 7");
    assert_eq!(body["data"]["message"]["payload"], payload);
    let api_event = app.api(&acme).get(&format!("/api/v1/events/{event}")).await;
    assert_eq!(body, api_event.body["body"], "the very body receivers get");
    assert_eq!(api_event.body["deliveries"][0]["status"], "pending");

    app.ingest(&token, "telemetry", json!({ "temperature": -20 }))
        .await;
    let alarms = browser.get("/alarms").await;
    assert!(
        alarms.html.contains("No raised alarms") && alarms.html.contains("badge state-cleared")
    );
}
