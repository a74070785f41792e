//! Setup → Alarm Triggers and Edit Webhook List.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, field_value, text_after, unescape_html};

use super::*;

#[tokio::test]
async fn triggers_are_chosen_by_device_type_and_errors_show_beside_their_field() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    assert!(
        browser
            .get("/alarm-triggers")
            .await
            .html
            .contains("No device types yet")
    );
    let freezer = api.create_freezer_type("Freezer").await;
    let type_id = freezer["id"].as_str().unwrap();

    let choose = browser.get("/alarm-triggers").await;
    let list_path = format!("/device-types/{type_id}/alarm-triggers");
    assert!(
        choose
            .html
            .contains(&format!("href=\"{list_path}\">Freezer</a>"))
    );
    assert!(choose.html.contains("0 alarm triggers"));
    let list = browser.get(&list_path).await;
    assert!(list.html.contains("No alarm triggers for Freezer yet"));
    assert!(
        list.html
            .contains(&format!("href=\"{list_path}/new\">New Alarm Trigger"))
    );
    let form = browser.get(&format!("{list_path}/new")).await;
    assert!(
        form.html
            .contains("<option value=\"telemetry\" selected>telemetry</option>")
    );

    let bad = browser
        .post_with_csrf(
            &list_path,
            &trigger_fields("", "/temperature", ">", "hot", "number"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_after(&bad.html, "id=\"value-error\">")
            .unwrap()
            .starts_with("Enter a number")
    );
    assert!(
        text_after(&bad.html, "id=\"name-error\">")
            .unwrap()
            .starts_with("Enter a name")
    );
    assert_eq!(
        field_value(&bad.html, "value").as_deref(),
        Some("hot"),
        "the typed value is kept"
    );
    assert_eq!(
        field_value(&bad.html, "field").as_deref(),
        Some("/temperature")
    );
    let typo = browser
        .post_with_csrf(
            &list_path,
            &trigger_fields("Typo", "/temprature", ">", "1", "number"),
        )
        .await;
    assert!(
        text_after(&typo.html, "id=\"field-error\">")
            .unwrap()
            .contains("no field /temprature")
    );
    let ordered = browser
        .post_with_csrf(
            &list_path,
            &trigger_fields("Door", "/door_open", ">", "true", "bool"),
        )
        .await;
    assert!(
        text_after(&ordered.html, "id=\"op-error\">")
            .unwrap()
            .contains("== or !=")
    );
    assert!(
        ordered
            .html
            .contains("<option value=\"bool\" selected>true/false</option>")
    );
    let listed = api.get(&format!("/api/v1{list_path}")).await;
    assert_eq!(listed.body["data"], json!([]), "nothing saved");

    let created = browser
        .post_with_csrf(
            &list_path,
            &trigger_fields("Too warm", "/temperature", ">", "-10", "number"),
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    let id = id_in(&created.location, "/alarm-triggers/");
    let read = api.get(&format!("/api/v1/alarm-triggers/{id}")).await;
    assert_eq!(
        read.body["condition"],
        json!({ "field": "/temperature", "op": ">", "value": -10 })
    );
    assert_eq!(
        (
            read.body["severity"].as_str(),
            read.body["enabled"].as_bool()
        ),
        (Some("critical"), Some(true))
    );
    let ajar = browser
        .post_with_csrf(
            &list_path,
            &trigger_fields("Ajar", "/status", "==", "door ajar", "text"),
        )
        .await;
    let ajar = api
        .get(&format!(
            "/api/v1/alarm-triggers/{}",
            id_in(&ajar.location, "/alarm-triggers/")
        ))
        .await;
    assert_eq!(ajar.body["condition"]["value"], "door ajar");

    let list = browser.get(&list_path).await;
    assert!(unescape_html(&list.html).contains("<code>/temperature > -10</code>"));
    assert!(list.html.contains("badge severity-critical"));
    let page = browser.get(&format!("/alarm-triggers/{id}")).await;
    assert!(page.html.contains(&format!(
        "href=\"/alarm-triggers/{id}/webhooks\">Edit Webhook List"
    )));

    let edit_path = format!("/alarm-triggers/{id}/edit");
    let edit = browser.get(&edit_path).await;
    assert_eq!(field_value(&edit.html, "value").as_deref(), Some("-10"));
    let mut fields = trigger_fields("Too warm", "/temperature", ">=", "-5.5", "number");
    fields.retain(|(name, _)| *name != "enabled");
    let saved = browser.post_with_csrf(&edit_path, &fields).await;
    assert_eq!(
        saved.location.as_deref(),
        Some(format!("/alarm-triggers/{id}").as_str())
    );
    let read = api.get(&format!("/api/v1/alarm-triggers/{id}")).await;
    assert_eq!(
        read.body["condition"],
        json!({ "field": "/temperature", "op": ">=", "value": -5.5 })
    );
    assert_eq!(read.body["enabled"], false, "an unticked box disables");

    let confirm = browser.get(&format!("/alarm-triggers/{id}/delete")).await;
    assert!(confirm.html.contains("Delete <strong>Too warm</strong>"));
    let deleted = browser
        .post_with_csrf(&format!("/alarm-triggers/{id}/delete"), &[])
        .await;
    assert_eq!(deleted.location.as_deref(), Some(list_path.as_str()));
    assert_eq!(
        api.get(&format!("/api/v1/alarm-triggers/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_webhook_list_editor_searches_adds_and_removes_but_saves_only_on_save() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too warm",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            &[],
        )
        .await;
    let trigger = trigger["id"].as_str().unwrap();
    let ops = api
        .create_webhook("Ops pager", "https://example.com/ops")
        .await;
    let billing = api
        .create_webhook("Billing", "https://example.com/billing")
        .await;
    let foreign = app
        .api(&other)
        .create_webhook("Their pager", "https://example.com/x")
        .await;
    let (ops, billing, foreign) = (
        ops["id"].as_str().unwrap(),
        billing["id"].as_str().unwrap(),
        foreign["id"].as_str().unwrap(),
    );
    let browser = app.browser(&acme).await;
    let path = format!("/alarm-triggers/{trigger}/webhooks");

    let start = browser.get(&path).await;
    assert!(staged(&start.html).is_empty());
    let found = browser
        .post_with_csrf(&path, &[("q", "PAGER"), ("action", "search")])
        .await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(
        found
            .html
            .contains(&format!("<option value=\"{ops}\">Ops pager</option>")),
        "case-insensitive"
    );
    assert!(!found.html.contains(billing) && !found.html.contains(foreign));
    assert_eq!(field_value(&found.html, "q").as_deref(), Some("PAGER"));

    let added = browser
        .post_with_csrf(
            &path,
            &[("q", "PAGER"), ("candidate", ops), ("action", "add")],
        )
        .await;
    assert_eq!(staged(&added.html), vec![ops.to_owned()]);
    assert!(added.html.contains("Not saved yet"));
    assert!(
        !added.html.contains(&format!("<option value=\"{ops}\">")),
        "no longer offered"
    );
    let both = browser
        .post_with_csrf(
            &path,
            &[
                ("webhook_ids", ops),
                ("candidate", billing),
                ("action", "add"),
            ],
        )
        .await;
    assert_eq!(staged(&both.html), vec![ops.to_owned(), billing.to_owned()]);
    let again = browser
        .post_with_csrf(
            &path,
            &[("webhook_ids", ops), ("candidate", ops), ("action", "add")],
        )
        .await;
    assert_eq!(staged(&again.html), vec![ops.to_owned()], "added once");
    let removal = format!("remove:{ops}");
    let removed = browser
        .post_with_csrf(
            &path,
            &[
                ("webhook_ids", ops),
                ("webhook_ids", billing),
                ("action", &removal),
            ],
        )
        .await;
    assert_eq!(staged(&removed.html), vec![billing.to_owned()]);
    let intruding = browser
        .post_with_csrf(
            &path,
            &[
                ("webhook_ids", billing),
                ("candidate", foreign),
                ("action", "add"),
            ],
        )
        .await;
    assert_eq!(intruding.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(intruding.html.contains("id=\"candidate-error\""));
    assert_eq!(staged(&intruding.html), vec![billing.to_owned()]);
    assert!(
        saved_webhooks(&app, &acme, trigger).await.is_empty(),
        "nothing stored before Save"
    );

    let refused = browser
        .post_with_csrf(
            &path,
            &[
                ("webhook_ids", ops),
                ("webhook_ids", foreign),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_after(&refused.html, "id=\"webhook_ids-error\" role=\"alert\">")
            .unwrap()
            .contains("Webhook not found")
    );
    assert!(saved_webhooks(&app, &acme, trigger).await.is_empty());

    let saved = browser
        .post_with_csrf(
            &path,
            &[
                ("webhook_ids", ops),
                ("webhook_ids", billing),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(
        saved.location.as_deref(),
        Some(format!("/alarm-triggers/{trigger}").as_str())
    );
    let mut ids = saved_webhooks(&app, &acme, trigger).await;
    ids.sort();
    let mut expected = vec![ops.to_owned(), billing.to_owned()];
    expected.sort();
    assert_eq!(ids, expected);
    let page = browser.get(&format!("/alarm-triggers/{trigger}")).await;
    assert!(
        page.html.contains("Webhook list saved")
            && page.html.contains("Ops pager")
            && page.html.contains("Billing")
    );
    let reopened = browser.get(&path).await;
    assert_eq!(staged(&reopened.html).len(), 2);
    assert!(!reopened.html.contains("Not saved yet"));
}
