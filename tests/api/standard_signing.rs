//! The Standard Webhooks scheme (`signing: "standard"`): deliveries to a real HTTPS receiver,
//! checked by this crate, by `biotz verify --scheme standard`, and by the scheme's official
//! Python and JavaScript libraries (installed by `tests/standardwebhooks/setup.sh`).

use std::path::PathBuf;
use std::time::Duration;

use biotz_signature::{Tolerance, standard};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::dispatch::delivery_when;
use crate::helpers::TestApp;
use crate::receiver::{Received, Receiver, Reply};

const WAIT: Duration = Duration::from_secs(15);

fn now_secs() -> i64 {
    biotz::domain::time::now_ms() / 1000
}

/// Where `setup.sh` installed the official verifiers, if it did. Without them the check is
/// skipped loudly, unless BIOTZ_STANDARDWEBHOOKS_TESTS=required (as CI sets).
fn verifiers() -> Option<PathBuf> {
    let dir = std::env::var_os("BIOTZ_STANDARDWEBHOOKS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/standardwebhooks")
        });
    let ready =
        dir.join("venv/bin/python").exists() && dir.join("node_modules/standardwebhooks").exists();
    if ready {
        return Some(dir);
    }
    let required = std::env::var("BIOTZ_STANDARDWEBHOOKS_TESTS").as_deref() == Ok("required");
    assert!(
        !required,
        "the Standard Webhooks verifiers are not in {}: run tests/standardwebhooks/setup.sh",
        dir.display()
    );
    eprintln!(
        "SKIPPED: the official Standard Webhooks verifiers are not installed in {}; run \
         tests/standardwebhooks/setup.sh to check deliveries with them",
        dir.display()
    );
    None
}

/// Runs the Python and the JavaScript verifier over these requests, each with its secrets.
async fn official_verifiers_accept(cases: &[(&Received, Vec<String>)], dir: &std::path::Path) {
    let cases: Vec<Value> = cases
        .iter()
        .map(|(request, secrets)| {
            json!({
                "headers": {
                    "webhook-id": request.header("webhook-id"),
                    "webhook-timestamp": request.header("webhook-timestamp"),
                    "webhook-signature": request.header("webhook-signature"),
                },
                "body": String::from_utf8(request.body.to_vec()).unwrap(),
                "secrets": secrets,
            })
        })
        .collect();
    let expected = format!(
        "verified {}",
        cases
            .iter()
            .map(|c| c["secrets"].as_array().unwrap().len())
            .sum::<usize>()
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&cases).unwrap()).unwrap();
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/standardwebhooks");
    let python = tokio::process::Command::new(dir.join("venv/bin/python"))
        .arg(scripts.join("verify.py"))
        .arg(file.path())
        .output()
        .await
        .unwrap();
    let node = tokio::process::Command::new("node")
        .arg(scripts.join("verify.js"))
        .arg(file.path())
        .env("NODE_PATH", dir.join("node_modules"))
        .output()
        .await
        .unwrap();
    for (language, output) in [("Python", python), ("JavaScript", node)] {
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.trim() == expected,
            "the {language} verifier: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn standard_deliveries_verify_with_the_official_libraries_on_every_attempt_and_overlap() {
    let receiver = Receiver::start().await;
    receiver.reply_next([Reply::Status(500)]);
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let created = api
        .post(
            "/api/v1/webhooks",
            json!({ "name": "Standard", "url": receiver.url, "signing": "standard" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["signing"], "standard");
    let webhook = &created.body;
    let id = webhook["id"].as_str().unwrap();
    let first_secret = webhook["secret"].as_str().unwrap().to_owned();
    assert!(standard::is_valid_secret(&first_secret), "{first_secret}");
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    api.create_trigger(
        &freezer,
        "Too hot",
        json!({ "field": "/temperature", "op": ">", "value": 0 }),
        &[webhook],
    )
    .await;
    let raised = app
        .ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    let event = raised.body["events"][0].as_str().unwrap().to_owned();

    // A failed attempt, then a retry: both signed afresh under the standard scheme.
    let attempts = receiver.wait_for(2, WAIT).await;
    for (number, request) in attempts.iter().enumerate() {
        assert_eq!(request.header("webhook-id"), event);
        assert!(request.headers.get("biotz-iot-signature").is_none());
        assert_eq!(
            request.header("biotz-iot-delivery-attempt"),
            (number + 1).to_string()
        );
        assert!(!request.header("biotz-iot-delivery-id").is_empty());
        assert_eq!(
            standard::verify(
                &first_secret,
                request.header("webhook-id"),
                request.header("webhook-timestamp"),
                request.header("webhook-signature"),
                &request.body,
                now_secs(),
                Tolerance::default(),
            ),
            Ok(())
        );
    }
    let delivery = attempts[0].header("biotz-iot-delivery-id").to_owned();
    let logged = delivery_when(&api, &delivery, "two attempts", |d| {
        d["status"] == "succeeded" && d["attempts"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    assert!(
        logged["attempts"][0]["request_headers"]
            .as_str()
            .unwrap()
            .contains("webhook-signature: v1,")
    );

    // `biotz verify` learns the scheme.
    let body = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(body.path(), &attempts[1].body).unwrap();
    let verify = |secret: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_biotz"))
            .args(["verify", "--scheme", "standard", "--secret", secret])
            .args(["--id", attempts[1].header("webhook-id")])
            .args(["--timestamp", attempts[1].header("webhook-timestamp")])
            .args(["--header", attempts[1].header("webhook-signature")])
            .arg(body.path())
            .env_remove("BIOTZ_WEBHOOK_SECRET")
            .output()
            .unwrap()
    };
    let valid = verify(&first_secret);
    assert_eq!(String::from_utf8_lossy(&valid.stdout), "valid\n");
    let other = verify("whsec_c2Vjb25kIHNlY3JldCBrZXkgb2YgdGhpcyB0ZXN0");
    assert_eq!(other.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other.stdout).contains("no matching signature"));

    // During a rotation overlap both secrets sign: a receiver with either one verifies.
    let rotated = api
        .post(
            &format!("/api/v1/webhooks/{id}/secret/regenerate"),
            json!({ "keep_previous_for_seconds": 3600 }),
        )
        .await;
    let second_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    let test = api
        .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    let all = receiver.wait_for(3, WAIT).await;
    let overlap = &all[2];
    assert_eq!(
        overlap.header("webhook-signature").split(' ').count(),
        2,
        "{}",
        overlap.header("webhook-signature")
    );
    for secret in [&first_secret, &second_secret] {
        assert_eq!(
            standard::verify(
                secret,
                overlap.header("webhook-id"),
                overlap.header("webhook-timestamp"),
                overlap.header("webhook-signature"),
                &overlap.body,
                now_secs(),
                Tolerance::default(),
            ),
            Ok(())
        );
    }

    if let Some(dir) = verifiers() {
        let cases = [
            (&all[0], vec![first_secret.clone()]),
            (&all[1], vec![first_secret.clone()]),
            (overlap, vec![first_secret.clone(), second_secret.clone()]),
        ];
        official_verifiers_accept(&cases, &dir).await;
    }
}

#[tokio::test]
async fn the_signing_scheme_is_chosen_checked_and_changed_per_webhook() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);

    let refused = api
        .post(
            "/api/v1/webhooks",
            json!({ "name": "X", "url": "http://example.com", "signing": "svix" }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.field_error("signing").contains("biotz or standard"));
    assert!(refused.field_error("url").contains("HTTPS"));

    let webhook = api.create_webhook("Default", &receiver.url).await;
    assert_eq!(webhook["signing"], "biotz");
    let id = webhook["id"].as_str().unwrap();
    let bad = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({ "signing": "v2" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.field_error("signing").contains("biotz or standard"));
    let switched = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({ "signing": "standard" }),
        )
        .await;
    assert_eq!(switched.status, StatusCode::OK, "{}", switched.body);
    assert_eq!(switched.body["signing"], "standard");
    assert_eq!(switched.body["name"], "Default", "the rest stays");

    // The next attempt follows the change.
    api.post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    let request = &receiver.wait_for(1, WAIT).await[0];
    assert!(request.headers.get("biotz-iot-signature").is_none());
    assert_eq!(
        standard::verify(
            webhook["secret"].as_str().unwrap(),
            request.header("webhook-id"),
            request.header("webhook-timestamp"),
            request.header("webhook-signature"),
            &request.body,
            now_secs(),
            Tolerance::default(),
        ),
        Ok(())
    );

    // Back to the default scheme through the form.
    let browser = app.browser(&tenant).await;
    let saved = browser
        .submit(
            &format!("/webhooks/{id}/edit"),
            &format!("/webhooks/{id}/edit"),
            &[
                ("name", "Default"),
                ("url", &receiver.url),
                ("signing", "biotz"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let read = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(read.body["signing"], "biotz");
    let page = browser.get(&format!("/webhooks/{id}")).await;
    assert!(page.html.contains("Biotz-IoT-Signature"));
}
