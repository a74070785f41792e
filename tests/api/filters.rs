//! Event filters: a webhook receives only the alarm event types it chose and alarms of at least
//! its minimum severity; a filtered-out event makes no delivery and its page says why.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Api, TestApp};
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(15);

async fn webhook(api: &Api<'_>, name: &str, url: &str, filter: Value) -> Value {
    let mut body = json!({ "name": name, "url": url });
    body.as_object_mut()
        .unwrap()
        .extend(filter.as_object().unwrap().clone());
    let answer = api.post("/api/v1/webhooks", body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

/// The names of the webhooks the event was delivered to.
async fn delivered_to(api: &Api<'_>, event: &str, names: &[(&str, &str)]) -> Vec<String> {
    let event = api.get(&format!("/api/v1/events/{event}")).await;
    let mut to: Vec<String> = event.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let id = d["webhook_id"].as_str().unwrap();
            names
                .iter()
                .find(|(webhook, _)| *webhook == id)
                .map(|(_, name)| (*name).to_owned())
                .unwrap_or_else(|| id.to_owned())
        })
        .collect();
    to.sort();
    to
}

#[tokio::test]
async fn a_filtered_out_event_makes_no_delivery_and_its_page_says_why() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let all = webhook(&api, "All", &receiver.url, json!({})).await;
    let raised_only = webhook(
        &api,
        "Raised only",
        &receiver.url,
        json!({ "event_types": ["alarm.raised"] }),
    )
    .await;
    assert_eq!(raised_only["event_types"], json!(["alarm.raised"]));
    let critical = webhook(
        &api,
        "Critical only",
        &receiver.url,
        json!({ "min_severity": "critical" }),
    )
    .await;
    assert_eq!(critical["min_severity"], "critical");
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    let trigger = api
        .post(
            &format!(
                "/api/v1/device-types/{}/alarm-triggers",
                freezer["id"].as_str().unwrap()
            ),
            json!({
                "name": "Warm",
                "message_type": "telemetry",
                "condition": { "field": "/temperature", "op": ">", "value": 0 },
                "severity": "warning",
                "webhook_ids": [all["id"], raised_only["id"], critical["id"]],
            }),
        )
        .await;
    assert_eq!(trigger.status, StatusCode::CREATED, "{}", trigger.body);

    let mut events = Vec::new();
    for temperature in [5, -5] {
        let answer = app
            .ingest(&token, "telemetry", json!({ "temperature": temperature }))
            .await;
        events.push(answer.body["events"][0].as_str().unwrap().to_owned());
    }
    let names = [
        (all["id"].as_str().unwrap(), "All"),
        (raised_only["id"].as_str().unwrap(), "Raised only"),
        (critical["id"].as_str().unwrap(), "Critical only"),
    ];
    assert_eq!(
        delivered_to(&api, &events[0], &names).await,
        ["All", "Raised only"]
    );
    assert_eq!(delivered_to(&api, &events[1], &names).await, ["All"]);
    // Three requests in all arrive, and no more: the filtered ones were never made.
    let received = receiver.wait_for(3, WAIT).await;
    assert_eq!(received.len(), 3);

    let browser = app.browser(&tenant).await;
    let page = browser.get(&format!("/events/{}", events[1])).await;
    let text = crate::helpers::unescape_html(&page.html);
    assert!(
        text.contains("Critical only</strong> was not sent this event: it receives only alarms of severity critical or higher."),
        "{text}"
    );
    assert!(
        text.contains(
            "Raised only</strong> was not sent this event: it receives only alarm.raised."
        )
    );

    // Filters change with PATCH; null takes the severity filter away.
    let id = critical["id"].as_str().unwrap();
    let changed = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({ "min_severity": null, "event_types": ["alarm.cleared"] }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["min_severity"], Value::Null);
    assert_eq!(changed.body["event_types"], json!(["alarm.cleared"]));
    let hot = app
        .ingest(&token, "telemetry", json!({ "temperature": 6 }))
        .await;
    let cold = app
        .ingest(&token, "telemetry", json!({ "temperature": -6 }))
        .await;
    assert_eq!(
        delivered_to(&api, hot.body["events"][0].as_str().unwrap(), &names).await,
        ["All", "Raised only"]
    );
    assert_eq!(
        delivered_to(&api, cold.body["events"][0].as_str().unwrap(), &names).await,
        ["All", "Critical only"]
    );
}

#[tokio::test]
async fn filters_refuse_unknown_types_and_severities_by_field() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let refused = api
        .post(
            "/api/v1/webhooks",
            json!({
                "name": "X",
                "url": "https://example.com/x",
                "event_types": ["alarm.raised", "alarm.exploded"],
                "min_severity": "urgent",
            }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .field_error("event_types[1]")
            .contains("alarm.exploded")
    );
    assert!(
        refused
            .field_error("min_severity")
            .contains("info, warning or critical")
    );

    let webhook = api.create_webhook("Y", "https://example.com/y").await;
    assert_eq!(webhook["event_types"], json!([]));
    let id = webhook["id"].as_str().unwrap();
    let bad = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({ "event_types": ["webhook.test"] }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.field_error("event_types[0]").contains("webhook.test"));

    // The form: ticked types and a severity, shown on the webhook's page.
    let browser = app.browser(&tenant).await;
    let edit = format!("/webhooks/{id}/edit");
    let saved = browser
        .submit(
            &edit,
            &edit,
            &[
                ("name", "Y"),
                ("url", "https://example.com/y"),
                ("filters_shown", "1"),
                ("event_types", "alarm.raised"),
                ("event_types", "alarm.acknowledged"),
                ("min_severity", "warning"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let page = browser.get(&format!("/webhooks/{id}")).await;
    assert!(
        page.html.contains(
            "<code>alarm.raised</code>, <code>alarm.acknowledged</code>, severity warning and above"
        ),
        "{}",
        page.html
    );
    let read = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(
        read.body["event_types"],
        json!(["alarm.raised", "alarm.acknowledged"])
    );
}
