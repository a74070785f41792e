//! Acknowledging alarms (API and UI), the history of every transition, and the Alarms list's
//! filters.

use std::time::Duration;

use biotz_signature::{Tolerance, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::dispatch::Scene;
use crate::helpers::{TestApp, unescape_html};
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(15);

fn alarm_id(api_alarms: &Value) -> String {
    api_alarms["data"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn acknowledging_sends_a_signed_alarm_acknowledged_and_keeps_the_history() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let raised_event = scene.raise(&app).await;
    receiver.wait_for(1, WAIT).await;
    let alarm = alarm_id(&api.get("/api/v1/alarms").await.body);

    let too_long = api
        .post(
            &format!("/api/v1/alarms/{alarm}/acknowledge"),
            json!({ "note": "x".repeat(501) }),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.field_error("note").contains("500 characters"));
    let acked = api
        .post(
            &format!("/api/v1/alarms/{alarm}/acknowledge"),
            json!({ "note": "Technician on the way" }),
        )
        .await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.body);
    assert_eq!(acked.body["state"], "acknowledged");
    assert_eq!(acked.body["acknowledge_note"], "Technician on the way");
    let again = api
        .post(&format!("/api/v1/alarms/{alarm}/acknowledge"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "once per raise");
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("acknowledged")
    );

    let request = &receiver.wait_for(2, WAIT).await[1];
    assert_eq!(
        verify(
            scene.secret(),
            request.header("biotz-iot-signature"),
            &request.body,
            biotz::domain::time::now_ms() / 1000,
            Tolerance::default()
        ),
        Ok(())
    );
    let body = request.json();
    assert_eq!(body["type"], "alarm.acknowledged");
    assert_eq!(body["id"], acked.body["event_id"]);
    assert_eq!(body["data"]["alarm"]["id"], alarm.as_str());
    assert_eq!(body["data"]["alarm"]["state"], "acknowledged");
    assert_eq!(body["data"]["note"], "Technician on the way");
    assert_eq!(
        body["data"]["acknowledged_by"],
        Value::Null,
        "an API token is no user"
    );
    assert!(
        body["data"]["acknowledged_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(
        body["data"]["message"]["payload"],
        json!({ "temperature": 5 })
    );
    assert_eq!(body["data"]["device"]["name"], "Freezer 7");

    // An acknowledged alarm still clears on its message; a later raise can be acknowledged again.
    let cleared = app
        .ingest(&scene.token, "telemetry", json!({ "temperature": -5 }))
        .await;
    assert_eq!(cleared.body["events"].as_array().unwrap().len(), 1);
    let detail = api.get(&format!("/api/v1/alarms/{alarm}")).await;
    assert_eq!(detail.body["state"], "cleared");
    let history = detail.body["history"].as_array().unwrap();
    let states: Vec<&str> = history
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["raised", "acknowledged", "cleared"]);
    assert_eq!(history[0]["cause"], "message");
    assert!(
        history[0]["message_id"]
            .as_str()
            .unwrap()
            .starts_with("msg_")
    );
    assert_eq!(history[0]["event_id"], raised_event.as_str());
    assert_eq!(history[1]["cause"], "api_token");
    assert_eq!(history[1]["note"], "Technician on the way");
    assert_eq!(history[2]["message_id"], cleared.body["id"]);
    assert_eq!(
        api.post(&format!("/api/v1/alarms/{alarm}/acknowledge"), json!({}))
            .await
            .status,
        StatusCode::CONFLICT,
        "a cleared alarm has nothing to acknowledge"
    );

    let other = app.tenant("Other").await;
    let stranger = app.api(&other);
    assert_eq!(
        stranger
            .get(&format!("/api/v1/alarms/{alarm}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stranger
            .post(&format!("/api/v1/alarms/{alarm}/acknowledge"), json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_ui_acknowledges_from_the_list_and_the_alarm_page_and_shows_the_history() {
    let app = TestApp::without_dispatcher().await;
    let scene = Scene::new(&app, "https://example.com/hook").await;
    let api = app.api(&scene.tenant);
    let browser = app.browser(&scene.tenant).await;
    scene.raise(&app).await;
    let alarm = alarm_id(&api.get("/api/v1/alarms").await.body);

    let list = browser.get("/alarms").await;
    let action = format!("action=\"/alarms/{alarm}/acknowledge\"");
    assert!(
        list.html.contains(&action),
        "an Acknowledge button in the list"
    );
    let page = browser.get(&format!("/alarms/{alarm}")).await;
    assert!(page.html.contains(r#"id="acknowledge""#));

    let refused = browser
        .post_with_csrf(
            &format!("/alarms/{alarm}/acknowledge"),
            &[("note", &"n".repeat(501))],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .html
            .contains(r#"id="note-error">Keep the note to 500 characters"#)
    );
    let no_csrf = browser
        .post_form(&format!("/alarms/{alarm}/acknowledge"), &[("note", "")])
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);

    let done = browser
        .post_with_csrf(
            &format!("/alarms/{alarm}/acknowledge"),
            &[("note", "On it"), ("from", "list")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location.as_deref(), Some("/alarms"));
    let list = browser.get("/alarms").await;
    assert!(list.html.contains("Alarm acknowledged"), "the flash");
    assert!(!list.html.contains(&action), "no button once acknowledged");

    let page = unescape_html(&browser.get(&format!("/alarms/{alarm}")).await.html);
    assert!(!page.contains(r#"id="acknowledge""#));
    assert!(
        page.contains(&format!("by {}", scene.tenant.email)),
        "{page}"
    );
    assert!(page.contains("“On it”"));
    assert!(page.contains("by a message"));
    let detail = api.get(&format!("/api/v1/alarms/{alarm}")).await;
    assert_eq!(detail.body["history"][1]["cause"], "user");
    assert_eq!(
        detail.body["history"][1]["user_email"],
        scene.tenant.email.as_str()
    );
    assert!(
        detail.body["history"][1]["user_id"]
            .as_str()
            .unwrap()
            .starts_with("usr_")
    );
    assert_eq!(detail.body["acknowledged_by"], scene.tenant.email.as_str());

    let stranger = app.tenant("Other").await;
    let intruder = app.browser(&stranger).await;
    assert_eq!(
        intruder.get(&format!("/alarms/{alarm}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        intruder
            .post_with_csrf(&format!("/alarms/{alarm}/acknowledge"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_alarms_list_filters_by_state_severity_device_type_and_device() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let fridge = api.create_freezer_type("Fridge").await;
    let (freezer_7, freezer_token) = api.create_device("Freezer 7", &freezer).await;
    let (_, fridge_token) = api.create_device("Fridge 1", &fridge).await;
    let (_, other_token) = api.create_device("Freezer 8", &freezer).await;
    let hot = json!({ "field": "/temperature", "op": ">", "value": 0 });
    api.create_trigger(&freezer, "Warm freezer", hot.clone(), &[])
        .await; // critical
    let fridge_trigger = api.create_trigger(&fridge, "Warm fridge", hot, &[]).await;
    api.patch(
        &format!(
            "/api/v1/alarm-triggers/{}",
            fridge_trigger["id"].as_str().unwrap()
        ),
        json!({ "severity": "info" }),
    )
    .await;
    for token in [&freezer_token, &fridge_token, &other_token] {
        app.ingest(token, "telemetry", json!({ "temperature": 5 }))
            .await;
    }
    app.ingest(&other_token, "telemetry", json!({ "temperature": -5 }))
        .await;
    let fridge_alarm = api
        .get(&format!(
            "/api/v1/alarms?device_type_id={}",
            fridge["id"].as_str().unwrap()
        ))
        .await;
    let fridge_alarm = alarm_id(&fridge_alarm.body);
    api.post(
        &format!("/api/v1/alarms/{fridge_alarm}/acknowledge"),
        json!({}),
    )
    .await;

    let names = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["device_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&api.get("/api/v1/alarms?state=raised").await.body),
        ["Freezer 7"]
    );
    assert_eq!(
        names(&api.get("/api/v1/alarms?state=acknowledged").await.body),
        ["Fridge 1"]
    );
    assert_eq!(
        names(&api.get("/api/v1/alarms?state=cleared").await.body),
        ["Freezer 8"]
    );
    assert_eq!(
        names(&api.get("/api/v1/alarms?severity=info").await.body),
        ["Fridge 1"]
    );
    assert_eq!(
        names(
            &api.get(&format!(
                "/api/v1/alarms?device_type_id={}&state=cleared",
                freezer["id"].as_str().unwrap()
            ))
            .await
            .body
        ),
        ["Freezer 8"]
    );
    assert_eq!(
        names(
            &api.get(&format!("/api/v1/alarms?device_id={freezer_7}"))
                .await
                .body
        ),
        ["Freezer 7"]
    );
    let bad = api
        .get("/api/v1/alarms?state=open&severity=loud&device_id=nope")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["state", "severity", "device_id"] {
        assert!(!bad.field_error(field).is_empty());
    }

    let browser = app.browser(&acme).await;
    let filtered = browser.get("/alarms?state=acknowledged&severity=").await;
    assert!(filtered.html.contains(">Fridge 1</a>") && !filtered.html.contains(">Freezer 7</a>"));
    assert!(
        filtered
            .html
            .contains(r#"<option value="acknowledged" selected>"#)
    );
    let by_device = browser.get(&format!("/alarms?device_id={freezer_7}")).await;
    assert!(by_device.html.contains(">Freezer 7</a>") && !by_device.html.contains(">Fridge 1</a>"));
    assert_eq!(
        browser.get("/alarms?state=open").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
