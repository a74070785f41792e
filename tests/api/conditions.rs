//! Compound conditions (`all`/`any`) and hysteresis (`clear_condition`), in the API, in the
//! form without JavaScript, and in how ingest raises and clears.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, unescape_html};

fn cmp(field: &str, op: &str, value: Value) -> Value {
    json!({ "field": field, "op": op, "value": value })
}

fn event_count(answer: &Answer) -> usize {
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    answer.body["events"].as_array().unwrap().len()
}

#[tokio::test]
async fn compound_conditions_raise_when_their_parts_say_so() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    let condition = json!({ "all": [
        cmp("/temperature", ">", json!(8)),
        { "any": [cmp("/door_open", "==", json!(true)), cmp("/status", "==", json!("defrost"))] },
    ] });
    let trigger = api
        .create_trigger(&freezer, "Warm and open", condition.clone(), &[])
        .await;
    assert_eq!(
        trigger["condition"], condition,
        "stored and read back whole"
    );
    let send = |payload: Value| app.ingest(&token, "telemetry", payload);

    assert_eq!(
        event_count(&send(json!({ "temperature": 9, "door_open": false, "status": "ok" })).await),
        0
    );
    assert_eq!(
        event_count(&send(json!({ "temperature": 9 })).await),
        0,
        "the any part says nothing: nothing changes"
    );
    let raised = send(json!({ "temperature": 9, "door_open": false, "status": "defrost" })).await;
    assert_eq!(event_count(&raised), 1, "all parts hold");
    let event = api
        .get(&format!(
            "/api/v1/events/{}",
            raised.body["events"][0].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        event.body["body"]["data"]["trigger"]["condition"],
        condition
    );
    assert_eq!(
        event_count(&send(json!({ "temperature": 2 })).await),
        1,
        "one false part of all clears, whatever the others say"
    );

    let browser = app.browser(&acme).await;
    let described = browser
        .get(&format!(
            "/alarm-triggers/{}",
            trigger["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        unescape_html(&described.html)
            .contains(r#"/temperature > 8 and (/door_open == true or /status == "defrost")"#)
    );
}

#[tokio::test]
async fn compound_conditions_are_checked_part_by_part() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let path = format!(
        "/api/v1/device-types/{}/alarm-triggers",
        freezer["id"].as_str().unwrap()
    );
    let post = |condition: Value| {
        api.post(
            &path,
            json!({ "name": "Rule", "message_type": "telemetry", "condition": condition }),
        )
    };

    let typo = post(
        json!({ "any": [cmp("/temperature", ">", json!(1)), cmp("/temprature", ">", json!(1))] }),
    )
    .await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        typo.field_error("condition.any[1].field")
            .contains("no field /temprature")
    );
    let bad_op = post(json!({ "all": [cmp("/temperature", "=>", json!(1))] })).await;
    assert!(
        bad_op
            .field_error("condition.all[0].op")
            .contains("> >= < <= == !=")
    );
    let deep = post(json!({ "all": [{ "any": [{ "all": [{ "any": [cmp("/temperature", ">", json!(1))] }] }] }] })).await;
    assert!(
        deep.field_error("condition.all[0].any[0].all[0]")
            .contains("at most 3 deep")
    );
    let many: Vec<Value> = (0..11)
        .map(|i| cmp("/temperature", ">", json!(i)))
        .collect();
    assert!(
        post(json!({ "any": many }))
            .await
            .field_error("condition")
            .contains("at most 10")
    );
    assert!(
        post(json!({ "all": [] }))
            .await
            .field_error("condition.all")
            .contains("at least one")
    );
    assert!(
        post(json!({ "all": [cmp("/temperature", ">", json!(1))], "any": [] }))
            .await
            .field_error("condition")
            .contains("not both")
    );
    let clear = api
        .post(&path, json!({ "name": "Rule", "message_type": "telemetry",
            "condition": cmp("/temperature", ">", json!(8)), "clear_condition": cmp("/status", "<", json!(6)) }))
        .await;
    assert!(
        clear
            .field_error("clear_condition.field")
            .contains("/status is string")
    );
    let seconds = api
        .post(
            &path,
            json!({ "name": "Rule", "message_type": "telemetry",
            "condition": cmp("/temperature", ">", json!(8)), "for_seconds": 86_401 }),
        )
        .await;
    assert!(
        seconds
            .field_error("for_seconds")
            .contains("0 (raise at once) to 86400")
    );
    assert_eq!(
        api.get(&path).await.body["data"],
        json!([]),
        "nothing was saved"
    );

    // A device type change that would break any part of a condition is refused.
    let trigger = api
        .create_trigger(&freezer, "Open", json!({ "any": [cmp("/temperature", ">", json!(1)), cmp("/door_open", "==", json!(true))] }), &[])
        .await;
    let narrowed = api
        .patch(
            &format!("/api/v1/device-types/{}", freezer["id"].as_str().unwrap()),
            json!({ "message_types": [{ "name": "telemetry", "schema": {
                "type": "object", "properties": { "temperature": { "type": "number" } }, "additionalProperties": false } }] }),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        narrowed
            .field_error("message_types[0].schema")
            .contains("“Open”")
    );
    assert!(trigger["id"].is_string());
}

#[tokio::test]
async fn a_reading_between_the_hysteresis_thresholds_changes_nothing() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    let created = api
        .post(
            &format!(
                "/api/v1/device-types/{}/alarm-triggers",
                freezer["id"].as_str().unwrap()
            ),
            json!({ "name": "Warm", "message_type": "telemetry",
                    "condition": cmp("/temperature", ">", json!(8)),
                    "clear_condition": cmp("/temperature", "<", json!(6)) }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["clear_condition"],
        cmp("/temperature", "<", json!(6))
    );
    let send = |t: f64| app.ingest(&token, "telemetry", json!({ "temperature": t }));

    assert_eq!(
        event_count(&send(7.0).await),
        0,
        "between, not raised: nothing"
    );
    assert_eq!(event_count(&send(9.0).await), 1, "raised above 8");
    assert_eq!(
        event_count(&send(7.0).await),
        0,
        "between, raised: stays raised"
    );
    assert_eq!(event_count(&send(6.0).await), 0, "6 is not below 6");
    let alarms = api.get("/api/v1/alarms?state=raised").await;
    assert_eq!(alarms.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(event_count(&send(5.5).await), 1, "cleared below 6");
    assert_eq!(
        event_count(&send(7.0).await),
        0,
        "between, cleared: stays cleared"
    );

    // Without the clear condition, the alarm clears as soon as the condition is false.
    let trigger = created.body["id"].as_str().unwrap();
    let patched = api
        .patch(
            &format!("/api/v1/alarm-triggers/{trigger}"),
            json!({ "clear_condition": null }),
        )
        .await;
    assert_eq!(patched.body["clear_condition"], Value::Null);
    assert_eq!(event_count(&send(9.0).await), 1);
    assert_eq!(event_count(&send(7.0).await), 1, "plain: false clears");
}

#[tokio::test]
async fn the_form_adds_and_removes_comparison_rows_without_javascript() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let list_path = format!(
        "/device-types/{}/alarm-triggers",
        freezer["id"].as_str().unwrap()
    );
    let mut fields = vec![
        ("name", "Warm and open"),
        ("message_type", "telemetry"),
        ("combine", "any"),
        ("field", "/temperature"),
        ("op", ">"),
        ("value", "8"),
        ("value_type", "number"),
        ("severity", "critical"),
        ("enabled", "on"),
        ("for_seconds", "0"),
    ];
    let mut add = fields.clone();
    add.push(("add_row", "1"));
    let added = browser.post_with_csrf(&list_path, &add).await;
    assert_eq!(added.status, StatusCode::OK, "shown again, not saved");
    assert!(added.html.contains(r#"id="field-1""#), "a second row");
    assert!(
        added.html.contains(r#"value="/temperature""#),
        "the first row kept"
    );
    assert_eq!(
        api.get(&format!("/api/v1{list_path}")).await.body["data"],
        json!([])
    );

    fields.extend([
        ("field", "/door_open"),
        ("op", "=="),
        ("value", "maybe"),
        ("value_type", "bool"),
    ]);
    let refused = browser.post_with_csrf(&list_path, &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .html
            .contains(r#"id="value-1-error">Enter true or false"#),
        "the error beside the second row"
    );

    let mut remove = fields.clone();
    remove.push(("remove_row", "1"));
    let removed = browser.post_with_csrf(&list_path, &remove).await;
    assert_eq!(removed.status, StatusCode::OK);
    assert!(
        !removed.html.contains(r#"id="field-1""#),
        "the second row is gone"
    );

    let last = fields.len() - 2;
    fields[last] = ("value", "true");
    fields.extend([
        ("clear_field", "/temperature"),
        ("clear_op", "<"),
        ("clear_value", "6"),
        ("clear_value_type", "number"),
    ]);
    let saved = browser.post_with_csrf(&list_path, &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let id = saved
        .location
        .as_deref()
        .unwrap()
        .trim_start_matches("/alarm-triggers/");
    let read = api.get(&format!("/api/v1/alarm-triggers/{id}")).await;
    assert_eq!(
        read.body["condition"],
        json!({ "any": [cmp("/temperature", ">", json!(8)), cmp("/door_open", "==", json!(true))] })
    );
    assert_eq!(
        read.body["clear_condition"],
        cmp("/temperature", "<", json!(6))
    );

    let edit = browser.get(&format!("/alarm-triggers/{id}/edit")).await;
    assert!(edit.html.contains(r#"id="field-1""#) && edit.html.contains(r#"value="/door_open""#));
    assert!(edit.html.contains(r#"<option value="any" selected>"#));
    assert!(
        edit.html
            .contains(r#"id="clear_field" name="clear_field" value="/temperature""#)
    );
}
