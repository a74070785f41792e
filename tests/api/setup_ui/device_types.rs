//! Setup → Device Types.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    TestApp, field_value, freezer_schema, occurrences, text_after, unescape_html,
};

use super::*;

#[tokio::test]
async fn device_types_keep_typed_rows_and_show_schema_errors_beside_their_row() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;

    let empty = browser.get("/device-types").await;
    assert!(
        empty
            .html
            .contains("No device types yet — <a href=\"/device-types/new\">create one")
    );
    let form = browser.get("/device-types/new").await;
    assert_eq!(
        occurrences(&form.html, "name=\"mt_name\""),
        1,
        "one empty row"
    );

    let schema = freezer_schema().to_string();
    let more = browser
        .post_with_csrf(
            "/device-types",
            &[
                ("name", "Freezer"),
                ("mt_name", "telemetry"),
                ("mt_schema", &schema),
                ("action", "add_row"),
            ],
        )
        .await;
    assert_eq!(more.status, StatusCode::OK);
    assert_eq!(
        occurrences(&more.html, "name=\"mt_name\""),
        2,
        "the typed row and a new one"
    );
    assert_eq!(field_value(&more.html, "name").as_deref(), Some("Freezer"));
    assert!(
        unescape_html(&more.html).contains(&schema),
        "the schema is kept"
    );
    assert_eq!(
        api.get("/api/v1/device-types").await.body["data"],
        json!([]),
        "nothing saved"
    );

    // Rows 0 and 2 are read by the service as its message_types[0] and [1]: the blank row 1 is
    // ignored, and each error must land on the row it came from.
    let refused = browser
        .post_with_csrf(
            "/device-types",
            &[
                ("name", "Freezer"),
                ("mt_name", "telemetry"),
                ("mt_schema", "{not json"),
                ("mt_name", ""),
                ("mt_schema", ""),
                ("mt_name", "status"),
                ("mt_schema", r#"{"type": "nonsense"}"#),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let not_json = text_after(&refused.html, "id=\"mt-schema-0-error\">").unwrap();
    assert!(
        not_json.starts_with("The schema is not valid JSON"),
        "{not_json}"
    );
    let invalid = text_after(&refused.html, "id=\"mt-schema-2-error\">").unwrap();
    assert!(
        invalid.starts_with("This is not a valid JSON Schema"),
        "{invalid}"
    );
    assert!(!refused.html.contains("mt-schema-1-error"));
    assert!(
        refused
            .html
            .contains("aria-describedby=\"mt-schema-2-error\"")
    );
    assert!(
        refused.html.contains(">{not json</textarea>"),
        "the typed text is kept"
    );
    assert_eq!(
        api.get("/api/v1/device-types").await.body["data"],
        json!([])
    );

    let id = save_device_type(&browser, "Freezer", &freezer_schema()).await;
    let read = api.get(&format!("/api/v1/device-types/{id}")).await;
    assert_eq!(read.body["message_types"][0]["name"], "telemetry");
    assert_eq!(read.body["message_types"][0]["schema"], freezer_schema());
    let shown = browser.get(&format!("/device-types/{id}")).await;
    assert!(shown.html.contains("Device type “Freezer” created."));
    let pretty = serde_json::to_string_pretty(&freezer_schema()).unwrap();
    assert!(unescape_html(&shown.html).contains(&format!("<pre>{pretty}</pre>")));
    assert!(shown.html.contains(&format!(
        "href=\"/device-types/{id}/alarm-triggers\">0 alarm triggers"
    )));
    let listed = browser.get("/device-types").await;
    assert!(listed.html.contains("Freezer") && listed.html.contains("<code>telemetry</code>"));

    let duplicate = browser
        .post_with_csrf("/device-types", &[("name", "FREEZER"), ("action", "save")])
        .await;
    assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_after(&duplicate.html, "id=\"name-error\">")
            .unwrap()
            .contains("already exists")
    );
}

#[tokio::test]
async fn a_device_type_is_edited_and_deleted_with_what_goes_with_it() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let id = freezer["id"].as_str().unwrap();
    api.create_device("Freezer 7", &freezer).await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": -10 }),
        &[],
    )
    .await;

    let edit = browser.get(&format!("/device-types/{id}/edit")).await;
    assert_eq!(field_value(&edit.html, "name").as_deref(), Some("Freezer"));
    assert_eq!(
        occurrences(&edit.html, "name=\"mt_name\""),
        2,
        "the stored row and an empty one"
    );

    let schema = freezer_schema().to_string();
    let fields = [
        ("name", "Walk-in freezer"),
        ("description", "Cold rooms"),
        ("mt_name", "telemetry"),
        ("mt_schema", schema.as_str()),
        ("mt_name", "status"),
        ("mt_schema", r#"{"type": "object"}"#),
        ("action", "save"),
    ];
    let path = format!("/device-types/{id}/edit");
    let saved = browser.post_with_csrf(&path, &fields).await;
    assert_eq!(
        saved.location.as_deref(),
        Some(format!("/device-types/{id}").as_str())
    );
    let read = api.get(&format!("/api/v1/device-types/{id}")).await;
    assert_eq!(
        (
            read.body["name"].as_str(),
            read.body["description"].as_str()
        ),
        (Some("Walk-in freezer"), Some("Cold rooms"))
    );
    assert_eq!(read.body["message_types"].as_array().unwrap().len(), 2);

    // Dropping the message type a trigger uses is refused with the service's reason.
    let dropped = browser
        .post_with_csrf(
            &path,
            &[
                ("name", "Walk-in freezer"),
                ("mt_name", "status"),
                ("mt_schema", "{}"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(dropped.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        dropped
            .html
            .contains("is used by the alarm trigger “Too warm”")
    );

    let confirm = browser.get(&format!("/device-types/{id}/delete")).await;
    assert!(
        confirm.html.contains("<strong>1 device</strong>")
            && confirm.html.contains("<strong>1 alarm trigger</strong>")
    );
    let deleted = browser
        .post_with_csrf(&format!("/device-types/{id}/delete"), &[])
        .await;
    assert_eq!(deleted.location.as_deref(), Some("/device-types"));
    assert_eq!(
        api.get(&format!("/api/v1/device-types/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.get("/api/v1/devices").await.body["data"], json!([]));
}
