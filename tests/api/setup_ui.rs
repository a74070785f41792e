//! Setup (Device Types, Devices, Alarm Triggers, Edit Webhook List) and Activity → Alarms,
//! driven as a browser would: forms with their CSRF token, redirects, pages read back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Browser, TestApp, field_value, freezer_schema, href_starting, occurrences, text_after,
    unescape_html,
};

/// The id at the end of a redirect such as `/device-types/dty_…`.
fn id_in(location: &Option<String>, prefix: &str) -> String {
    let location = location.as_deref().expect("a redirect");
    location
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{location} does not start with {prefix}"))
        .to_owned()
}

async fn save_device_type(browser: &Browser<'_>, name: &str, schema: &Value) -> String {
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

/// Creates a device through New Device; returns its id, and the token and `curl` line shown.
async fn new_device(
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
    assert_eq!(created.status, StatusCode::OK, "{}", created.html);
    let token =
        text_after(&created.html, "<code id=\"device-token\">").expect("the token is shown");
    let curl = text_after(&created.html, "<pre id=\"curl\">").expect("a curl line");
    let link = href_starting(&created.html, "/devices/dev_").expect("a link to the device");
    (link.trim_start_matches("/devices/").to_owned(), token, curl)
}

#[tokio::test]
async fn a_new_device_shows_its_token_once_with_a_curl_line_that_works() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    assert!(
        browser
            .get("/devices/new")
            .await
            .html
            .contains("No device types yet")
    );
    let freezer = api.create_freezer_type("Freezer").await;
    let type_id = freezer["id"].as_str().unwrap();

    let refused = browser
        .post_with_csrf("/devices", &[("name", " "), ("device_type_id", type_id)])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_after(&refused.html, "id=\"name-error\">")
            .unwrap()
            .starts_with("Enter a name")
    );
    assert!(
        refused
            .html
            .contains(&format!("<option value=\"{type_id}\" selected>"))
    );

    let (id, token, curl) = new_device(&browser, "Freezer 7", type_id).await;
    assert!(token.starts_with("bdt_"), "{token}");
    assert!(curl.contains(&app.url("/api/v1/ingest")), "{curl}");
    assert!(
        curl.contains(&format!("'Authorization: Bearer {token}'")),
        "{curl}"
    );
    // The line's body, as curl would send it, is accepted: the payload fits the schema.
    let body: Value =
        serde_json::from_str(curl.rsplit_once("-d '").unwrap().1.trim_end_matches('\'')).unwrap();
    assert_eq!(body["message_type"], "telemetry");
    let sent = app
        .ingest(&token, "telemetry", body["payload"].clone())
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);

    let page = browser.get(&format!("/devices/{id}")).await;
    assert!(!page.html.contains(&token), "shown once only");
    let device = api.get(&format!("/api/v1/devices/{id}")).await;
    assert!(
        page.html
            .contains(device.body["token_hint"].as_str().unwrap())
    );
    assert!(page.html.contains("<code>telemetry</code>"));
    let pretty = serde_json::to_string_pretty(&body["payload"]).unwrap();
    assert!(
        unescape_html(&page.html).contains(&pretty),
        "the payload as received"
    );

    let regenerated = browser
        .post_with_csrf(&format!("/devices/{id}/token/regenerate"), &[])
        .await;
    assert_eq!(regenerated.status, StatusCode::OK);
    let fresh = text_after(&regenerated.html, "<code id=\"device-token\">").unwrap();
    assert_ne!(fresh, token);
    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": 1 }))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.ingest(&fresh, "telemetry", json!({ "temperature": 1 }))
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn devices_are_filtered_renamed_paged_and_deleted() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let fridge = api.create_freezer_type("Fridge").await;
    let (id, token) = api.create_device("Freezer 7", &freezer).await;
    api.create_device("Fridge 1", &fridge).await;

    let all = browser.get("/devices").await;
    assert!(all.html.contains("Freezer 7") && all.html.contains("Fridge 1"));
    let only = browser
        .get(&format!(
            "/devices?device_type_id={}",
            fridge["id"].as_str().unwrap()
        ))
        .await;
    assert!(only.html.contains("Fridge 1") && !only.html.contains("Freezer 7"));

    let renamed = browser
        .post_with_csrf(&format!("/devices/{id}/edit"), &[("name", "")])
        .await;
    assert_eq!(renamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(renamed.html.contains("id=\"name-error\""));
    let taken = browser
        .post_with_csrf(&format!("/devices/{id}/edit"), &[("name", "fridge 1")])
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_value(&taken.html, "name").as_deref(),
        Some("fridge 1")
    );
    let renamed = browser
        .post_with_csrf(&format!("/devices/{id}/edit"), &[("name", "Freezer 8")])
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        api.get(&format!("/api/v1/devices/{id}")).await.body["name"],
        "Freezer 8"
    );

    // One page of messages more than fits: the pager leads to the oldest.
    for temperature in 0..51 {
        app.ingest(&token, "telemetry", json!({ "temperature": temperature }))
            .await;
    }
    let newest = browser.get(&format!("/devices/{id}")).await;
    assert!(
        newest.html.contains("&#34;temperature&#34;: 50")
            && !newest.html.contains("&#34;temperature&#34;: 0\n")
    );
    let older = href_starting(&newest.html, &format!("/devices/{id}?cursor=")).expect("a pager");
    let oldest = browser.get(&older).await;
    assert!(
        oldest.html.contains("&#34;temperature&#34;: 0\n")
            && !oldest.html.contains("&#34;temperature&#34;: 50")
    );

    let confirm = browser.get(&format!("/devices/{id}/delete")).await;
    assert!(confirm.html.contains("Delete <strong>Freezer 8</strong>"));
    let deleted = browser
        .post_with_csrf(&format!("/devices/{id}/delete"), &[])
        .await;
    assert_eq!(deleted.location.as_deref(), Some("/devices"));
    assert_eq!(
        api.get(&format!("/api/v1/devices/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

fn trigger_fields<'a>(
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

/// The ids of the webhooks a trigger has, as the API reads them.
async fn saved_webhooks(
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
fn staged(html: &str) -> Vec<String> {
    html.split("name=\"webhook_ids\" value=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
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
            .contains("Not a webhook of your organization")
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

#[tokio::test]
async fn another_organizations_ids_get_404_on_every_setup_page_and_action() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let ops = api.create_webhook("Ops", "https://example.com/ops").await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too warm",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            &[&ops],
        )
        .await;
    let raised = app
        .ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    let (t, tr) = (
        freezer["id"].as_str().unwrap(),
        trigger["id"].as_str().unwrap(),
    );
    let event = raised.body["events"][0].as_str().unwrap();

    let browser = app.browser(&intruder).await;
    let pages = [
        format!("/device-types/{t}"),
        format!("/device-types/{t}/edit"),
        format!("/device-types/{t}/delete"),
        format!("/device-types/{t}/alarm-triggers"),
        format!("/device-types/{t}/alarm-triggers/new"),
        format!("/devices/{device}"),
        format!("/devices/{device}/edit"),
        format!("/devices/{device}/delete"),
        format!("/alarm-triggers/{tr}"),
        format!("/alarm-triggers/{tr}/edit"),
        format!("/alarm-triggers/{tr}/webhooks"),
        format!("/alarm-triggers/{tr}/delete"),
        format!("/events/{event}"),
    ];
    for path in &pages {
        assert_eq!(
            browser.get(path).await.status,
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
    }
    let mut posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/device-types/{t}/edit"),
            vec![("name", "Mine"), ("action", "save")],
        ),
        (
            format!("/device-types/{t}/edit"),
            vec![("name", "Mine"), ("action", "add_row")],
        ),
        (format!("/device-types/{t}/delete"), vec![]),
        (
            format!("/device-types/{t}/alarm-triggers"),
            trigger_fields("Mine", "/temperature", ">", "1", "number"),
        ),
        (format!("/devices/{device}/edit"), vec![("name", "Mine")]),
        (format!("/devices/{device}/token/regenerate"), vec![]),
        (format!("/devices/{device}/delete"), vec![]),
        (
            format!("/alarm-triggers/{tr}/edit"),
            trigger_fields("Mine", "/temperature", ">", "1", "number"),
        ),
        (format!("/alarm-triggers/{tr}/delete"), vec![]),
    ];
    for action in ["search", "add", "save"] {
        posts.push((
            format!("/alarm-triggers/{tr}/webhooks"),
            vec![("action", action)],
        ));
    }
    for (path, fields) in &posts {
        let answer = browser.post_with_csrf(path, fields).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "POST {path} {fields:?}"
        );
    }
    // A device type of another organization chosen in a form is refused like an unknown one.
    app.api(&intruder).create_freezer_type("Cooler").await;
    let borrowed = browser
        .post_with_csrf("/devices", &[("name", "Mine"), ("device_type_id", t)])
        .await;
    assert_eq!(borrowed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(borrowed.html.contains("id=\"device_type_id-error\""));
    assert_eq!(
        app.api(&intruder).get("/api/v1/devices").await.body["data"],
        json!([])
    );
    for list in ["/device-types", "/devices", "/alarm-triggers", "/alarms"] {
        let html = browser.get(list).await.html;
        assert!(
            !html.contains("Freezer") && !html.contains("Too warm"),
            "{list}"
        );
    }

    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": 6 }))
            .await
            .status,
        StatusCode::ACCEPTED,
        "the token still works"
    );
    let read = api.get(&format!("/api/v1/devices/{device}")).await;
    assert_eq!(read.body["name"], "Freezer 7");
    assert_eq!(
        api.get(&format!("/api/v1/device-types/{t}")).await.body["name"],
        "Freezer"
    );
    let read = api.get(&format!("/api/v1/alarm-triggers/{tr}")).await;
    assert_eq!(
        (
            read.body["name"].as_str(),
            read.body["webhooks"].as_array().map(Vec::len)
        ),
        (Some("Too warm"), Some(1))
    );
    assert_eq!(
        app.api(&intruder).get("/api/v1/devices").await.body["data"],
        json!([])
    );
}

#[tokio::test]
async fn setup_forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let ops = api.create_webhook("Ops", "https://example.com/ops").await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too warm",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            &[&ops],
        )
        .await;
    let (t, tr) = (
        freezer["id"].as_str().unwrap(),
        trigger["id"].as_str().unwrap(),
    );
    let browser = app.browser(&acme).await;

    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/device-types".into(),
            vec![("name", "Fridge"), ("action", "save")],
        ),
        (
            format!("/device-types/{t}/edit"),
            vec![("name", "Renamed"), ("action", "save")],
        ),
        (format!("/device-types/{t}/delete"), vec![]),
        (
            "/devices".into(),
            vec![("name", "Fridge 1"), ("device_type_id", t)],
        ),
        (format!("/devices/{device}/edit"), vec![("name", "Renamed")]),
        (format!("/devices/{device}/token/regenerate"), vec![]),
        (format!("/devices/{device}/delete"), vec![]),
        (
            format!("/device-types/{t}/alarm-triggers"),
            trigger_fields("New", "/temperature", ">", "1", "number"),
        ),
        (
            format!("/alarm-triggers/{tr}/edit"),
            trigger_fields("Renamed", "/temperature", ">", "1", "number"),
        ),
        (
            format!("/alarm-triggers/{tr}/webhooks"),
            vec![("action", "save")],
        ),
        (format!("/alarm-triggers/{tr}/delete"), vec![]),
    ];
    for (path, fields) in &posts {
        let missing = browser.post_form(path, fields).await;
        assert_eq!(
            missing.status,
            StatusCode::FORBIDDEN,
            "POST {path} without _csrf"
        );
        assert!(missing.html.contains("CSRF token"));
        let mut forged = vec![("_csrf", "forged")];
        forged.extend_from_slice(fields);
        assert_eq!(
            browser.post_form(path, &forged).await.status,
            StatusCode::FORBIDDEN,
            "POST {path} forged"
        );
    }
    let types = api.get("/api/v1/device-types").await;
    assert_eq!(types.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(types.body["data"][0]["name"], "Freezer");
    let devices = api.get("/api/v1/devices").await;
    assert_eq!(devices.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(devices.body["data"][0]["name"], "Freezer 7");
    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": -1 }))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let read = api.get(&format!("/api/v1/alarm-triggers/{tr}")).await;
    assert_eq!(
        (
            read.body["name"].as_str(),
            read.body["webhooks"].as_array().map(Vec::len)
        ),
        (Some("Too warm"), Some(1))
    );
    assert_eq!(
        api.get(&format!("/api/v1/device-types/{t}/alarm-triggers"))
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The issue's "Done when", through the pages alone: a device type with a schema, a device, a
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
    assert!(
        page.html
            .contains("<span class=\"badge status-pending\">pending</span>")
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
