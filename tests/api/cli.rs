//! `biotz verify` and `biotz receive`, run as a user runs them.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::dispatch::Scene;
use crate::helpers::TestApp;
use crate::receiver::TLS;

const SECRET: &str = "whsec_cli-test-secret";

fn verify(args: &[&str], stdin: &[u8]) -> (i32, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_biotz"))
        .arg("verify")
        .args(args)
        .env_remove("BIOTZ_WEBHOOK_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn verify_accepts_a_valid_body_and_names_the_failed_rule_otherwise() {
    let body = br#"{"id":"evt_1","type":"webhook.test"}"#;
    let now = biotz::domain::time::now_ms() / 1000;
    let header = biotz_signature::sign_header(&[SECRET], now, body);
    assert_eq!(
        verify(&["--secret", SECRET, "--header", &header], body),
        (0, "valid\n".into())
    );
    assert_eq!(
        verify(&["--secret", SECRET, "--header", &header, "-"], body).0,
        0
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, body).unwrap();
    assert_eq!(
        verify(
            &[
                "--secret",
                SECRET,
                "--header",
                &header,
                file.to_str().unwrap()
            ],
            b""
        )
        .0,
        0
    );

    let (code, out) = verify(
        &["--secret", SECRET, "--header", &header],
        b"{\"id\":\"evt_2\"}",
    );
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: no matching signature"), "{out}");
    let (code, out) = verify(&["--secret", "whsec_other", "--header", &header], body);
    assert_eq!(
        (code, out.starts_with("invalid: no matching signature")),
        (1, true)
    );

    let old = biotz_signature::sign_header(&[SECRET], 1_600_000_000, body);
    let (code, out) = verify(&["--secret", SECRET, "--header", &old], body);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("invalid: timestamp outside tolerance"),
        "{out}"
    );
    assert_eq!(
        verify(
            &["--secret", SECRET, "--header", &old, "--at", "1600000100"],
            body
        )
        .0,
        0,
        "checked as of --at"
    );
    assert_eq!(
        verify(
            &["--secret", SECRET, "--header", &old, "--tolerance", "0"],
            body
        )
        .0,
        0,
        "0 accepts any age"
    );
    let (code, out) = verify(&["--secret", SECRET, "--header", "v1=abc"], body);
    assert_eq!(
        (code, out.trim()),
        (1, "invalid: no timestamp: the header has no t= item")
    );
}

/// Reads the child's stdout until a line contains `needle`.
async fn line_with(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    needle: &str,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = tokio::time::timeout(left, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no line with {needle:?} in time"))
            .unwrap()
            .unwrap_or_else(|| panic!("biotz receive ended before printing {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

#[tokio::test]
async fn receive_shows_live_alarms_verified_and_retries_when_told_to_fail() {
    let app =
        TestApp::spawn_with(|s| s.dispatch.retry_schedule = vec![Duration::from_millis(100); 2])
            .await;
    let scene = Scene::new(&app, "https://placeholder.example/hook").await;
    let cert = app.temp_file("cert.pem", &TLS.cert_pem);
    let key = app.temp_file("key.pem", &TLS.key_pem);
    let start = |status: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_biotz"))
            .args(["receive", "--listen", "127.0.0.1:0", "--status", status])
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .env("BIOTZ_WEBHOOK_SECRET", scene.secret())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let api = app.api(&scene.tenant);
    let path = format!("/api/v1/webhooks/{}", scene.webhook_id());

    let mut receiver = start("200");
    let mut lines = BufReader::new(receiver.stdout.take().unwrap()).lines();
    let listening = line_with(&mut lines, "Listening on https://").await;
    let url = listening.split_whitespace().nth(2).unwrap().to_owned();
    line_with(&mut lines, "BIOTZ_ALLOW_PRIVATE_TARGETS=127.0.0.0/8").await;
    api.patch(&path, json!({ "url": format!("{url}biotz") }))
        .await;
    let event = scene.raise(&app).await;
    let line = line_with(&mut lines, &event).await;
    assert!(
        line.contains("alarm.raised") && line.contains("attempt 1 signature valid → 200"),
        "{line}"
    );
    let delivery = crate::dispatch::delivery_of(&api, &event).await;
    crate::dispatch::delivery_when(&api, &delivery, "success", |d| d["status"] == "succeeded")
        .await;
    receiver.kill().await.unwrap();

    let mut failing = start("500");
    let mut lines = BufReader::new(failing.stdout.take().unwrap()).lines();
    let listening = line_with(&mut lines, "Listening on https://").await;
    let url = listening.split_whitespace().nth(2).unwrap().to_owned();
    api.patch(&path, json!({ "url": url })).await;
    let answer = app
        .ingest(&scene.token, "telemetry", json!({ "temperature": -5 }))
        .await;
    let event = answer.body["events"][0].as_str().unwrap().to_owned();
    for attempt in 1..=3 {
        let line = line_with(&mut lines, &format!("attempt {attempt} ")).await;
        assert!(
            line.contains(&event) && line.contains("signature valid → 500"),
            "{line}"
        );
    }
    failing.kill().await.unwrap();
}

#[tokio::test]
async fn serve_demo_shows_alarms_and_signed_deliveries_flowing() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_biotz"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("demo.db").display()),
        )
        .env_remove("BIOTZ_MASTER_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let line = line_with(&mut lines, "Sign in at ").await;
    let words: Vec<&str> = line.split_whitespace().collect();
    let login = words[3].to_owned();
    let (email, password) = (words[5].to_owned(), words.last().unwrap().to_string());
    let base = login.trim_end_matches("/login").to_owned();

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = browser
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::helpers::field_value(&form, "_csrf").unwrap();
    let signed_in = browser
        .post(&login)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", &email),
            ("password", &password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status(),
        reqwest::StatusCode::SEE_OTHER,
        "the printed password signs in"
    );
    assert_eq!(
        signed_in.headers()["location"],
        "/",
        "signing in opens the home page, which is the Overview"
    );

    let start = Instant::now();
    loop {
        let alarms = browser
            .get(format!("{base}/alarms"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let deliveries = browser
            .get(format!("{base}/deliveries?status=succeeded"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // The demo opens on the Overview, where its receiver that is down shows as failing.
        let overview = browser
            .get(format!("{base}/overview"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let failing = overview
            .split("id=\"failing-webhooks\"")
            .nth(1)
            .unwrap_or_default();
        // Door open is a duration trigger: only its timer raises it.
        // Cellar device offline is raised by the offline timer while the sensor is silent.
        if alarms.contains("Cold room")
            && alarms.contains(">Door open</a>")
            && alarms.contains(">Cellar device offline</a>")
            && deliveries.contains("Demo receiver")
            && failing.contains("Demo receiver (down)")
            && !failing.contains("Demo receiver<")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no alarm delivered within a minute"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    serve.kill().await.unwrap();
}

#[tokio::test]
async fn receive_keeps_its_certificate_in_cert_dir_valid_for_the_names_given() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_biotz"))
            .args([
                "receive",
                "--listen",
                "127.0.0.1:0",
                "--name",
                "receiver.test",
            ])
            .arg("--cert-dir")
            .arg(dir.path())
            .env("BIOTZ_WEBHOOK_SECRET", SECRET)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        (child, lines)
    };

    let (mut first, mut lines) = start();
    let listening = line_with(&mut lines, "Listening on https://").await;
    let trust = line_with(&mut lines, "BIOTZ_EXTRA_CA_CERTS=").await;
    let ca_path = dir.path().join("biotz-receive-ca.pem");
    assert!(
        trust.ends_with(&format!("={}", ca_path.display())),
        "{trust}"
    );
    let ca = std::fs::read_to_string(&ca_path).unwrap();
    first.kill().await.unwrap();

    let (mut second, mut lines) = start();
    let listening_again = line_with(&mut lines, "Listening on https://").await;
    assert_eq!(
        std::fs::read_to_string(&ca_path).unwrap(),
        ca,
        "a restart reuses the kept certificate"
    );
    let address: std::net::SocketAddr = listening_again
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert_ne!(listening, listening_again);

    // A client that trusts the kept CA reaches it under the extra name.
    let client = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .resolve("receiver.test", address)
        .build()
        .unwrap();
    let answer = client
        .post(format!("https://receiver.test:{}/hook", address.port()))
        .body("{}")
        .send()
        .await
        .expect("the certificate is valid for receiver.test and signed by the kept CA");
    assert_eq!(
        answer.status(),
        reqwest::StatusCode::BAD_REQUEST,
        "unsigned"
    );
    second.kill().await.unwrap();
}

#[tokio::test]
async fn receive_starts_without_a_secret_and_verifies_once_the_secret_file_has_it() {
    let app = TestApp::spawn().await;
    let cert = app.temp_file("cert.pem", &TLS.cert_pem);
    let key = app.temp_file("key.pem", &TLS.key_pem);
    let secret_file = app.temp_file("secret", "");
    // The order of the README: the receiver first, with no secret since no webhook exists yet.
    let mut receiver = tokio::process::Command::new(env!("CARGO_BIN_EXE_biotz"))
        .args(["receive", "--listen", "127.0.0.1:0"])
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--secret-file")
        .arg(&secret_file)
        .env_remove("BIOTZ_WEBHOOK_SECRET")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(receiver.stdout.take().unwrap()).lines();
    let listening = line_with(&mut lines, "Listening on https://").await;
    let url = listening.split_whitespace().nth(2).unwrap().to_owned();
    line_with(&mut lines, "each request is shown unverified").await;

    // Then the webhook, whose test event arrives unverified but answered 200.
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let webhook = api.create_webhook("Local receiver", &url).await;
    let id = webhook["id"].as_str().unwrap();
    let sent = api
        .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    let first = sent.body["event_id"].as_str().unwrap().to_owned();
    let line = line_with(&mut lines, &first).await;
    assert!(
        line.contains("signature UNVERIFIED (no secret yet) → 200"),
        "{line}"
    );

    // Then the secret, written to the file: the next request is verified without a restart.
    std::fs::write(&secret_file, webhook["secret"].as_str().unwrap()).unwrap();
    let sent = api
        .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    let second = sent.body["event_id"].as_str().unwrap().to_owned();
    let line = line_with(&mut lines, &second).await;
    assert!(line.contains("signature valid → 200"), "{line}");

    // A wrong secret there is refused, as with --secret.
    std::fs::write(&secret_file, "whsec_wrong").unwrap();
    let sent = api
        .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    let third = sent.body["event_id"].as_str().unwrap().to_owned();
    let line = line_with(&mut lines, &third).await;
    assert!(
        line.contains("signature INVALID") && line.ends_with("→ 400"),
        "{line}"
    );
    receiver.kill().await.unwrap();
}

#[tokio::test]
async fn receive_fetches_the_webhooks_secret_through_the_api_and_again_after_a_regeneration() {
    let app = TestApp::spawn().await;
    let cert = app.temp_file("cert.pem", &TLS.cert_pem);
    let key = app.temp_file("key.pem", &TLS.key_pem);
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let receive = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_biotz"));
        command
            .args([
                "receive",
                "--listen",
                "127.0.0.1:0",
                "--server",
                app.address.as_str(),
            ])
            .args(args)
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .env_remove("BIOTZ_WEBHOOK_SECRET")
            .env_remove("BIOTZ_API_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    };

    // The README's order: receive first (no secret), then the webhook pointing at it, then
    // receive again, given the webhook's id.
    let mut first = receive(&[]).spawn().unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let listening = line_with(&mut lines, "Listening on https://").await;
    let url = listening.split_whitespace().nth(2).unwrap().to_owned();
    let webhook = api.create_webhook("Local receiver", &url).await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    first.kill().await.unwrap();

    // A wrong token or id is refused at start, naming the flag.
    let refused = receive(&["--webhook", &id, "--api-token", "biotz_wrong"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("--api-token"),
        "{stderr}"
    );
    let other = app.tenant("Other").await;
    let refused = receive(&["--webhook", &id, "--api-token", &other.token])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("--webhook"),
        "{stderr}"
    );

    let mut receiver = receive(&["--webhook", &id, "--api-token", &tenant.token])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(receiver.stdout.take().unwrap()).lines();
    let listening = line_with(&mut lines, "Listening on https://").await;
    let url = listening.split_whitespace().nth(2).unwrap().to_owned();
    line_with(&mut lines, &format!("Verifying with the secret of {id}")).await;
    api.patch(&format!("/api/v1/webhooks/{id}"), json!({ "url": url }))
        .await;

    let test_event = || async {
        let sent = api
            .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
            .await;
        sent.body["event_id"].as_str().unwrap().to_owned()
    };
    let event = test_event().await;
    let line = line_with(&mut lines, &event).await;
    assert!(line.contains("signature valid → 200"), "{line}");

    // A regenerated secret (no overlap) is fetched on the first mismatch, and that request
    // verifies with it.
    let regenerated = api
        .post(
            &format!("/api/v1/webhooks/{id}/secret/regenerate"),
            json!({}),
        )
        .await;
    assert_eq!(regenerated.status, reqwest::StatusCode::OK);
    let event = test_event().await;
    line_with(&mut lines, "fetched the secret of").await;
    let line = line_with(&mut lines, &event).await;
    assert!(line.contains("signature valid → 200"), "{line}");
    receiver.kill().await.unwrap();
}
