//! Setup (Device Types, Devices, Alarm Triggers, Edit Webhook List) and Activity → Alarms,
//! driven as a browser would: forms with their CSRF token, redirects, pages read back.

mod device_types;
mod devices;
mod done_when;
mod security;
mod triggers;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, TestApp, href_starting, text_after};

/// The id at the end of a redirect such as `/device-types/dty_…`.
pub(super) fn id_in(location: &Option<String>, prefix: &str) -> String {
    let location = location.as_deref().expect("a redirect");
    location
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{location} does not start with {prefix}"))
        .to_owned()
}

pub(super) async fn save_device_type(browser: &Browser<'_>, name: &str, schema: &Value) -> String {
    let saved = browser
        .post_with_csrf(
            "/device-types",
            &[
                ("name", name),
                ("description", ""),
                ("mt_name", "telemetry"),
                ("mt_schema", &schema.to_string()),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    id_in(&saved.location, "/device-types/")
}

/// Creates a device through New Device; returns its id, and the token and `curl` line shown.
pub(super) async fn new_device(
    browser: &Browser<'_>,
    name: &str,
    device_type: &str,
) -> (String, String, String) {
    let created = browser
        .post_with_csrf(
            "/devices",
            &[("name", name), ("device_type_id", device_type)],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    let shown = created.location.expect("a redirect to the token page");
    assert!(shown.contains("/token?once="), "{shown}");
    let created = browser.get(&shown).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.html);
    let token =
        text_after(&created.html, "<code id=\"device-token\">").expect("the token is shown");
    let curl = text_after(&created.html, "<pre id=\"curl\">").expect("a curl line");
    let link = href_starting(&created.html, "/devices/dev_").expect("a link to the device");
    (link.trim_start_matches("/devices/").to_owned(), token, curl)
}

pub(super) fn trigger_fields<'a>(
    name: &'a str,
    field: &'a str,
    op: &'a str,
    value: &'a str,
    value_type: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("message_type", "telemetry"),
        ("field", field),
        ("op", op),
        ("value", value),
        ("value_type", value_type),
        ("severity", "critical"),
        ("enabled", "on"),
    ]
}

/// The ids of the webhooks a trigger has, as the API reads them.
pub(super) async fn saved_webhooks(
    app: &TestApp,
    tenant: &crate::helpers::Tenant,
    trigger: &str,
) -> Vec<String> {
    let read = app
        .api(tenant)
        .get(&format!("/api/v1/alarm-triggers/{trigger}"))
        .await;
    read.body["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids the editor holds in its hidden `webhook_ids`.
pub(super) fn staged(html: &str) -> Vec<String> {
    html.split("name=\"webhook_ids\" value=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}
