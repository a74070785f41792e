//! The test harness: the real application on port 0 against a fresh database (a new SQLite
//! file, or a new PostgreSQL database when TEST_DATABASE_URL is set), and clients that drive it
//! over HTTP as an API caller or as a person in a browser would.

use std::sync::LazyLock;
use std::time::Duration;

use biotz::config::{DatabaseSettings, DispatchSettings, ServeSettings};
use biotz::crypto::MasterKey;
use biotz::domain::Role;
use biotz::startup::Application;
use biotz::store::{DatabaseUrl, NewUser, Store};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery staple";

/// argon2 is deliberately slow; every test user shares one hash of `PASSWORD`.
static PASSWORD_HASH: LazyLock<String> =
    LazyLock::new(|| biotz::accounts::hash_password(PASSWORD).unwrap());

pub struct TestApp {
    pub address: String,
    pub store: Store,
    pub database: TestDatabase,
    /// The master key, as `BIOTZ_MASTER_KEY` would give it to other processes.
    pub master_key_hex: String,
    pub setup_link: Option<String>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// An organization with a user and an API token.
pub struct Tenant {
    pub email: String,
    pub token: String,
}

pub enum TestDatabase {
    Sqlite {
        url: String,
    },
    Postgres {
        url: String,
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    pub async fn create(dir: &std::path::Path) -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!(
                    "biotz_test_{}",
                    biotz::domain::random::token()
                        .to_lowercase()
                        .replace('-', "_")[..20]
                        .to_owned()
                );
                let admin = sqlx::PgPool::connect(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL answers");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&name);
                TestDatabase::Postgres {
                    url: url.to_string(),
                    admin_url,
                    name,
                }
            }
            _ => TestDatabase::Sqlite {
                url: format!("sqlite://{}", dir.join("biotz.db").display()),
            },
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url } | Self::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
        {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // The test's runtime is shutting down; drop the database from a runtime of our own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&admin_url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&pool)
                        .await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Dispatching as tests want it: quick retries, loopback receivers allowed and trusted.
pub fn test_dispatch_settings() -> DispatchSettings {
    DispatchSettings {
        retry_schedule: vec![Duration::from_millis(200), Duration::from_millis(400)],
        delivery_timeout: Duration::from_secs(5),
        allow_private_targets: vec!["127.0.0.0/8".parse().unwrap()],
        extra_ca_certs: Some(crate::receiver::TLS.ca_pem.clone().into_bytes()),
        disable_after: Duration::from_secs(3 * 86_400),
        lease: biotz::config::default_lease(Duration::from_secs(5)),
    }
}

/// A `serve` node's settings for tests: port 0, the test dispatch settings, this database and key.
fn node_settings(database: &TestDatabase, master_key_hex: &str) -> ServeSettings {
    ServeSettings {
        database: DatabaseSettings {
            url: DatabaseUrl::parse(database.url()).unwrap(),
            master_key: MasterKey::parse_hex(master_key_hex).unwrap(),
        },
        dispatch: test_dispatch_settings(),
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: "http://127.0.0.1".into(),
        dispatcher: true,
        mqtt: None,
        retention: Default::default(),
        trusted_proxies: Vec::new(),
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The app without its dispatcher, so deliveries stay as the outbox wrote them.
    pub async fn without_dispatcher() -> Self {
        Self::spawn_with(|settings| settings.dispatcher = false).await
    }

    /// Starts the app after `adjust` has changed its settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut ServeSettings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = TestDatabase::create(dir.path()).await;
        let master_key_hex = hex::encode(biotz::domain::random::bytes::<32>());
        let mut settings = node_settings(&database, &master_key_hex);
        adjust(&mut settings);
        let app = Application::build(settings).await.expect("the app starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let store = app.store().clone();
        let setup_link = app.setup_link().map(str::to_owned);
        let server = tokio::spawn(async move {
            app.run_until_stopped(std::future::pending()).await.unwrap();
        });
        Self {
            address,
            store,
            database,
            master_key_hex,
            setup_link,
            server,
            _dir: dir,
        }
    }

    /// A second `serve` node on the same database and master key, as a scaled-out deployment
    /// runs one; its address and the setup link it printed. It stops when the test ends.
    pub async fn another_node(&self) -> (String, Option<String>) {
        self.another_node_with(|_| {}).await
    }

    /// A second node, after `adjust` has changed its settings.
    pub async fn another_node_with(
        &self,
        adjust: impl FnOnce(&mut ServeSettings),
    ) -> (String, Option<String>) {
        let mut settings = node_settings(&self.database, &self.master_key_hex);
        adjust(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("the second node starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let setup_link = app.setup_link().map(str::to_owned);
        tokio::spawn(async move {
            app.run_until_stopped(std::future::pending()).await.unwrap();
        });
        (address, setup_link)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops this node's server and background tasks, as a crash or a restart would; its
    /// database stays, for another node to start on.
    pub fn stop_serving(&self) {
        self.server.abort();
    }

    /// Writes a file in the test's own directory and returns its path.
    pub fn temp_file(&self, name: &str, contents: &str) -> std::path::PathBuf {
        let path = self._dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// An organization with one user (password `PASSWORD`) and an API token.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let email = format!("admin@{}.example", name.to_lowercase().replace(' ', "-"));
        let (org, _, _) = self
            .store
            .create_user(&NewUser {
                org_name: name,
                email: &email,
                password_hash: &PASSWORD_HASH,
                role: Role::Admin,
            })
            .await
            .unwrap();
        let (_, token) = biotz::accounts::create_api_token(&self.store, &org.id, "tests")
            .await
            .unwrap();
        Tenant { email, token }
    }

    pub fn api<'a>(&'a self, tenant: &'a Tenant) -> Api<'a> {
        Api {
            app: self,
            token: Some(&tenant.token),
            client: Client::new(),
        }
    }

    pub fn anonymous_api(&self) -> Api<'_> {
        Api {
            app: self,
            token: None,
            client: Client::new(),
        }
    }

    /// A browser-like client (cookies kept, redirects not followed) signed in as the tenant.
    pub async fn browser(&self, tenant: &Tenant) -> Browser<'_> {
        self.browser_for(&tenant.email).await
    }

    /// Another user of the organization named `org` (password `PASSWORD`), signed in.
    pub async fn member(&self, org: &str, email: &str, role: Role) -> Browser<'_> {
        self.store
            .create_user(&NewUser {
                org_name: org,
                email,
                password_hash: &PASSWORD_HASH,
                role,
            })
            .await
            .unwrap();
        self.browser_for(email).await
    }

    async fn browser_for(&self, email: &str) -> Browser<'_> {
        let browser = self.new_browser();
        let answer = browser.sign_in(email, PASSWORD).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "signing in failed: {}",
            answer.html
        );
        browser
    }

    pub fn new_browser(&self) -> Browser<'_> {
        let client = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { app: self, client }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub struct Api<'a> {
    app: &'a TestApp,
    token: Option<&'a str>,
    client: Client,
}

/// A response's status and JSON body (Null when the body is empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The message the error body gives for `field`.
    pub fn field_error(&self, field: &str) -> &str {
        self.body["error"]["fields"][field]
            .as_str()
            .unwrap_or_else(|| panic!("no error for {field} in {}", self.body))
    }
}

impl Api<'_> {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, self.app.url(path));
        if let Some(token) = self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a webhook and returns its JSON (with the secret).
    pub async fn create_webhook(&self, name: &str, url: &str) -> Value {
        let answer = self
            .post(
                "/api/v1/webhooks",
                serde_json::json!({ "name": name, "url": url }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }
}

impl Api<'_> {
    /// Creates a device type with one message type, `telemetry`, whose schema has a number
    /// `temperature`, a string `status` and a boolean `door_open`.
    pub async fn create_freezer_type(&self, name: &str) -> Value {
        let answer = self
            .post(
                "/api/v1/device-types",
                serde_json::json!({
                    "name": name,
                    "message_types": [{ "name": "telemetry", "schema": freezer_schema() }],
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }

    /// Creates a device; returns (its id, its ingest token).
    pub async fn create_device(&self, name: &str, device_type: &Value) -> (String, String) {
        let answer = self
            .post(
                "/api/v1/devices",
                serde_json::json!({ "name": name, "device_type_id": device_type["id"] }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        (
            answer.body["id"].as_str().unwrap().to_owned(),
            answer.body["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a trigger on the device type's `telemetry` messages.
    pub async fn create_trigger(
        &self,
        device_type: &Value,
        name: &str,
        condition: Value,
        webhooks: &[&Value],
    ) -> Value {
        let ids: Vec<&Value> = webhooks.iter().map(|w| &w["id"]).collect();
        let answer = self
            .post(
                &format!(
                    "/api/v1/device-types/{}/alarm-triggers",
                    device_type["id"].as_str().unwrap()
                ),
                serde_json::json!({
                    "name": name,
                    "message_type": "telemetry",
                    "condition": condition,
                    "severity": "critical",
                    "webhook_ids": ids,
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }
}

pub fn freezer_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "temperature": { "type": "number" },
            "status": { "type": "string" },
            "door_open": { "type": "boolean" }
        },
        "required": ["temperature"],
        "additionalProperties": false
    })
}

impl TestApp {
    /// Sends a device message with the device's ingest token.
    pub async fn ingest(&self, token: &str, message_type: &str, payload: Value) -> Answer {
        let response = Client::new()
            .post(self.url("/api/v1/ingest"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "message_type": message_type, "payload": payload }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
}

pub struct Browser<'a> {
    app: &'a TestApp,
    pub client: Client,
}

/// A page as the browser got it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub html: String,
}

impl Page {
    /// The value of the first hidden `_csrf` field.
    pub fn csrf(&self) -> String {
        field_value(&self.html, "_csrf").expect("the page has a form with a CSRF token")
    }
}

/// The `value` of the first input named `name`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

impl Browser<'_> {
    pub async fn get(&self, path: &str) -> Page {
        let response = self.client.get(self.app.url(path)).send().await.unwrap();
        Self::page(response).await
    }

    /// Posts a form as a browser would, `_csrf` included when given.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(self.app.url(path))
            .form(fields)
            .send()
            .await
            .unwrap();
        Self::page(response).await
    }

    /// Loads `form_page` for its CSRF token, then posts `fields` with it to `action`.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(form_page).await.csrf();
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        Page {
            status,
            location,
            html: response.text().await.unwrap(),
        }
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        let page = self.get("/login").await;
        let csrf = page.csrf();
        self.post_form(
            "/login",
            &[
                ("_csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", "/webhooks"),
            ],
        )
        .await
    }
}

/// Text as the browser shows it: the entities askama writes (`&#62;`, `&quot;`…) turned back
/// into characters.
pub fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest.find(';').map(|end| (&rest[1..end], end));
        let decoded = entity.and_then(|(name, end)| {
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => char::from_u32(name.strip_prefix('#')?.parse().ok()?)?,
            };
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The unescaped text right after `opening` (an element's opening tag) up to the next tag.
pub fn text_after(html: &str, opening: &str) -> Option<String> {
    let start = html.find(opening)? + opening.len();
    let end = html[start..].find('<')? + start;
    Some(unescape_html(&html[start..end]))
}

/// How many times `needle` occurs in `html`.
pub fn occurrences(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

impl Browser<'_> {
    /// A JSON API call with this browser's session, sending the page's CSRF token as
    /// `X-CSRF-Token` as the UI's script does.
    pub async fn api_call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let page = self.get("/overview").await;
        let csrf = page
            .html
            .split("name=\"csrf-token\" content=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a signed-in page carries its CSRF token")
            .to_owned();
        let mut request = self
            .client
            .request(method, self.app.url(path))
            .header("X-CSRF-Token", csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Posts `fields` to `action` with the CSRF token of the signed-in session, which every
    /// page of it carries.
    pub async fn post_with_csrf(&self, action: &str, fields: &[(&str, &str)]) -> Page {
        self.submit("/device-types", action, fields).await
    }
}

/// The first link target that starts with `prefix`, such as `/devices/dev_`.
pub fn href_starting(html: &str, prefix: &str) -> Option<String> {
    let marker = format!("href=\"{prefix}");
    let start = html.find(&marker)? + "href=\"".len();
    let end = html[start..].find('"')? + start;
    Some(unescape_html(&html[start..end]))
}
