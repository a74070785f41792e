use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, field_value};

#[tokio::test]
async fn the_setup_link_creates_the_first_organization_and_admin_once() {
    let app = TestApp::spawn().await;
    let link = app
        .setup_link
        .clone()
        .expect("a new server prints a setup link");
    let path = link.trim_start_matches(&app.address).to_owned();

    let browser = app.new_browser();
    let form = browser.get(&path).await;
    assert_eq!(form.status, StatusCode::OK);
    let answer = browser
        .post_form(
            &path,
            &[
                ("_csrf", &form.csrf()),
                ("organization", "Acme Cold Chain"),
                ("email", "Ada@Example.com"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.html);
    assert_eq!(answer.location.as_deref(), Some("/webhooks"));
    let home = browser.get("/webhooks").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.html.contains("Welcome!"), "the flash is shown");
    assert!(home.html.contains("ada@example.com") && home.html.contains("Acme Cold Chain"));
    assert!(
        !browser.get("/webhooks").await.html.contains("Welcome!"),
        "a flash is shown once"
    );

    let again = app.new_browser().get(&path).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.html.contains("This setup link is not valid"));

    let signed_in = app.new_browser();
    let answer = signed_in.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn each_node_prints_a_working_setup_link_and_the_first_one_used_ends_them_all() {
    let app = TestApp::spawn().await;
    let first = app
        .setup_link
        .clone()
        .expect("the first node prints a link");
    let (second_address, second) = app.another_node().await;
    let second = second.expect("a node that starts before the first user prints a link too");
    let first_path = first.trim_start_matches(&app.address).to_owned();
    let second_path = second.trim_start_matches(&second_address).to_owned();
    assert_ne!(first_path, second_path);
    assert_eq!(
        app.new_browser().get(&first_path).await.status,
        StatusCode::OK,
        "starting a second node leaves the first node's link working"
    );

    let browser = app.new_browser();
    let form = browser.get(&second_path).await;
    assert_eq!(form.status, StatusCode::OK);
    let answer = browser
        .post_form(
            &second_path,
            &[
                ("_csrf", &form.csrf()),
                ("organization", "Acme Cold Chain"),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.html);
    for path in [&first_path, &second_path] {
        let again = app.new_browser().get(path).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{path} after setup");
    }
}

#[tokio::test]
async fn setup_errors_name_each_field_and_keep_what_was_typed() {
    let app = TestApp::spawn().await;
    let path = app
        .setup_link
        .clone()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_owned();
    let browser = app.new_browser();
    let csrf = browser.get(&path).await.csrf();
    let answer = browser
        .post_form(
            &path,
            &[
                ("_csrf", &csrf),
                ("organization", "Acme"),
                ("email", "not-an-email"),
                ("password", "short"),
                ("confirm", "different"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.html.contains("Enter an email address"));
    assert!(answer.html.contains("at least 10 characters"));
    assert!(answer.html.contains("The two passwords differ"));
    assert_eq!(
        field_value(&answer.html, "organization").as_deref(),
        Some("Acme")
    );
    assert_eq!(app.store.user_count().await.unwrap(), 0);

    let without_csrf = app
        .new_browser()
        .post_form(
            &path,
            &[
                ("organization", "Acme"),
                ("email", "a@b.co"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(without_csrf.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.user_count().await.unwrap(), 0);
}

#[tokio::test]
async fn sign_in_checks_the_password_and_sign_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let browser = app.new_browser();

    let wrong = browser.sign_in(&tenant.email, "wrong password!").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.html.contains("do not match an account"));
    assert_eq!(
        field_value(&wrong.html, "email").as_deref(),
        Some(tenant.email.as_str())
    );

    let unknown = browser.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    let response = app
        .new_browser()
        .client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    browser.sign_in(&tenant.email, PASSWORD).await;
    let page = browser.get("/webhooks").await;
    assert_eq!(page.status, StatusCode::OK);
    let signed_out = browser
        .post_form("/logout", &[("_csrf", &page.csrf())])
        .await;
    assert_eq!(signed_out.location.as_deref(), Some("/login"));
    let after = browser.get("/webhooks").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location.as_deref(), Some("/login?next=%2Fwebhooks"));
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_refused_for_a_while() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let browser = app.new_browser();
    for _ in 0..10 {
        assert_eq!(
            browser
                .sign_in(&tenant.email, "wrong password!")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let refused = browser.sign_in(&tenant.email, PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.html.contains("Too many failed sign-ins"));
}

#[tokio::test]
async fn a_sign_in_form_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let browser = app.new_browser();
    browser.get("/login").await;
    let answer = browser
        .post_form(
            "/login",
            &[
                ("_csrf", "forged-token-forged-token-forged-token"),
                ("email", &tenant.email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_api_accepts_a_session_only_with_its_csrf_header() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let browser = app.browser(&tenant).await;
    let page = browser.get("/webhooks").await;
    let csrf = page
        .html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let body = json!({ "name": "From the page", "url": "https://example.com/hook" });

    let without = browser
        .client
        .post(app.url("/api/v1/webhooks"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let error: serde_json::Value = without.json().await.unwrap();
    assert_eq!(error["error"]["code"], "csrf_failed");

    let with = browser
        .client
        .post(app.url("/api/v1/webhooks"))
        .header("X-CSRF-Token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), StatusCode::CREATED);
    let read = browser
        .client
        .get(app.url("/api/v1/webhooks"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK, "reads need no CSRF header");
}

fn biotz(app: &TestApp) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_biotz"));
    command
        .env("DATABASE_URL", app.database.url())
        .env("BIOTZ_MASTER_KEY", "11".repeat(32))
        .env_remove("RUST_LOG");
    command
}

fn run_with_stdin(mut command: std::process::Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn user_add_and_token_add_work_for_automation() {
    let app = TestApp::spawn().await;
    let mut add = biotz(&app);
    add.args([
        "user",
        "add",
        "--email",
        "ops@example.com",
        "--org",
        "Ops Team",
    ]);
    let output = tokio::task::spawn_blocking(move || run_with_stdin(add, &format!("{PASSWORD}\n")))
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("new organization"));

    let mut token = biotz(&app);
    token.args(["token", "add", "--org", "ops team", "--name", "ci"]);
    let output = tokio::task::spawn_blocking(move || token.output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.lines().last().unwrap().to_owned();
    assert!(token.starts_with("biotz_"), "{stdout}");

    let answer = reqwest::Client::new()
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&token)
        .json(&json!({ "name": "ci", "url": "https://example.com/ci" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);

    let browser = app.new_browser();
    assert_eq!(
        browser.sign_in("ops@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    let mut again = biotz(&app);
    again.args([
        "user",
        "add",
        "--email",
        "OPS@example.com",
        "--org",
        "Ops Team",
    ]);
    let output =
        tokio::task::spawn_blocking(move || run_with_stdin(again, &format!("{PASSWORD}\n")))
            .await
            .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));

    let mut short = biotz(&app);
    short.args([
        "user",
        "add",
        "--email",
        "new@example.com",
        "--org",
        "Ops Team",
    ]);
    let output = tokio::task::spawn_blocking(move || run_with_stdin(short, "short\n"))
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("password: Use at least 10 characters")
    );

    let mut unknown = biotz(&app);
    unknown.args(["token", "add", "--org", "Nobody", "--name", "x"]);
    let output = tokio::task::spawn_blocking(move || unknown.output().unwrap())
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no organization is named 'Nobody'"));
}

#[tokio::test]
async fn user_add_takes_a_role() {
    let app = TestApp::spawn().await;
    app.tenant("Ops Team").await;
    let add = |role: &str| {
        let mut command = biotz(&app);
        command.args([
            "user",
            "add",
            "--email",
            "watcher@example.com",
            "--org",
            "Ops Team",
            "--role",
            role,
        ]);
        command
    };
    let refused = add("owner");
    let output = tokio::task::spawn_blocking(move || run_with_stdin(refused, PASSWORD))
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--role"), "{stderr}");
    assert!(stderr.contains("admin or viewer"), "{stderr}");

    let viewer = add("viewer");
    let output = tokio::task::spawn_blocking(move || run_with_stdin(viewer, PASSWORD))
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(", viewer)"));
    let browser = app.new_browser();
    browser.sign_in("watcher@example.com", PASSWORD).await;
    assert_eq!(browser.get("/webhooks").await.status, StatusCode::OK);
    assert_eq!(
        browser.get("/webhooks/new").await.status,
        StatusCode::FORBIDDEN
    );
}
