//! A `biotz serve` process killed with SIGKILL after receiving an MQTT message and before
//! committing it loses nothing: the broker sends it again to the restarted node's session.

use std::process::{Child, Command, Stdio};

use super::broker::Broker;
use super::{DEVICE_PASSWORD, count_messages, freezer, metric, wait_ready, wait_until};
use crate::helpers::TestApp;

/// A `biotz serve` (no dispatcher) ingesting from `broker` as `client_id`; its address.
fn serve(app: &TestApp, broker: &Broker, client_id: &str) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_biotz"))
        .args(["serve", "--no-dispatcher"])
        .env("DATABASE_URL", app.database.url())
        .env("BIOTZ_MASTER_KEY", &app.master_key_hex)
        .env("BIOTZ_LISTEN", format!("127.0.0.1:{port}"))
        .env("BIOTZ_MQTT_URL", broker.url())
        .env("BIOTZ_MQTT_CLIENT_ID", client_id)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("biotz serve starts");
    (child, format!("http://127.0.0.1:{port}"))
}

/// Holds the database's write lock (SQLite) or the messages table (PostgreSQL) until dropped,
/// so an ingest transaction waits before it can commit.
enum WriteBlock {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl WriteBlock {
    async fn hold(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let mut connection = pool.acquire().await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *connection)
                .await
                .unwrap();
            Self::Sqlite(connection)
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let mut connection = pool.acquire().await.unwrap();
            sqlx::query("BEGIN")
                .execute(&mut *connection)
                .await
                .unwrap();
            sqlx::query("LOCK TABLE messages IN EXCLUSIVE MODE")
                .execute(&mut *connection)
                .await
                .unwrap();
            Self::Postgres(connection)
        }
    }

    async fn release(self) {
        match self {
            Self::Sqlite(mut c) => drop(sqlx::query("ROLLBACK").execute(&mut *c).await.unwrap()),
            Self::Postgres(mut c) => drop(sqlx::query("ROLLBACK").execute(&mut *c).await.unwrap()),
        }
    }
}

#[tokio::test]
async fn a_node_killed_before_its_commit_loses_no_mqtt_message() {
    let broker = Broker::start(&[]).await;
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let (device, _) = freezer(&app, &acme, "https://example.com/hook").await;
    broker.add_device(&device, DEVICE_PASSWORD);
    let (mut first, address) = serve(&app, &broker, "biotz-crash-node");
    wait_ready(&address).await;

    let block = WriteBlock::hold(app.database.url()).await;
    let mut client = broker.device(&device, DEVICE_PASSWORD).await;
    client
        .publish("telemetry", br#"{"temperature": 4}"#, None)
        .await;
    wait_until("the node to receive the message", || async {
        (metric(&address, "biotz_mqtt_messages_received_total").await == Some(1)).then_some(())
    })
    .await;
    assert_eq!(
        metric(&address, "biotz_mqtt_messages_total{outcome=\"stored\"}").await,
        Some(0)
    );
    first.kill().unwrap();
    first.wait().unwrap();
    block.release().await;
    assert_eq!(
        count_messages(&app, &device).await,
        0,
        "the killed node committed nothing"
    );

    let (mut second, address) = serve(&app, &broker, "biotz-crash-node");
    wait_until("the message sent again and stored", || async {
        (count_messages(&app, &device).await == 1).then_some(())
    })
    .await;
    wait_until("the restarted node's count", || async {
        (metric(&address, "biotz_mqtt_messages_total{outcome=\"stored\"}").await == Some(1))
            .then_some(())
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(count_messages(&app, &device).await, 1);
}
