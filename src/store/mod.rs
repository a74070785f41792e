//! Storage: one `Store` interface over SQLite or PostgreSQL.
//!
//! Both backends run the same SQL text (`$1` placeholders, integer milliseconds, TEXT ids,
//! BLOB/BYTEA bytes), so each query is written once; `on_db!` expands a query body once per
//! backend with that backend's pool. What differs between the two (connection set-up,
//! migrations, write-transaction start, claiming under contention, cross-node wake-ups) lives
//! in `sqlite.rs` and `postgres.rs`.

mod accounts;
mod alarms;
mod availability;
mod bulk;
mod deliveries;
mod device_errors;
mod devices;
mod dispatch;
mod events_log;
mod export;
mod history;
mod idempotency;
mod offline;
mod overview;
mod page;
mod postgres;
mod retention;
mod shown_once;
mod sign_in;
mod sqlite;
mod targets;
mod team;
mod test_fire;
mod timers;
mod triggers;
pub mod ui_stats;
mod webhooks;

use std::time::Duration;

use sqlx::{PgPool, SqlitePool};

pub use accounts::*;
pub use alarms::*;
pub use deliveries::*;
pub use device_errors::{CausedTransition, REJECTED_KEPT, RejectedMessage, Rejection};
pub use devices::*;
pub use dispatch::*;
pub use events_log::*;
pub use export::ExportedDelivery;
pub use history::*;
pub use offline::OFFLINE_PER_STEP;
pub use overview::*;
pub use page::{Page, Paged};
pub use retention::{PURGE_BATCH, Purged};
pub use shown_once::ShownOnce;
pub use sqlite::file_of as sqlite_file;
pub use targets::{TARGET_TTL, Target};
pub use team::{Invitation, InvitationToAccept, NewInvitation};
pub use test_fire::*;
pub use timers::TIMERS_PER_STEP;
pub use triggers::*;
pub use webhooks::*;

use crate::crypto::MasterKey;

/// Runs `$body` with `$pool` bound to the backend's pool; the body is compiled once per backend.
macro_rules! on_db {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction that writes. On SQLite it also holds this process's writer lock for the
/// database file, so writers queue here instead of spinning in SQLite's busy handler.
pub(crate) struct WriteTx<DB: sqlx::Database> {
    tx: sqlx::Transaction<'static, DB>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// Starts a transaction that will write: `BEGIN IMMEDIATE` on SQLite, plain `BEGIN` on PostgreSQL.
/// Also tells other nodes, at commit, that deliveries are due (PostgreSQL `NOTIFY`; nothing on
/// SQLite, which has one node).
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    fn begin_write(&self) -> impl Future<Output = sqlx::Result<WriteTx<Self::Db>>> + Send;
    fn announce_deliveries(
        &self,
        tx: &mut WriteTx<Self::Db>,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(&self) -> impl Future<Output = sqlx::Result<WriteTx<Self::Db>>> + Send {
        sqlite::begin_write(self)
    }
    async fn announce_deliveries(&self, _: &mut WriteTx<Self::Db>) -> sqlx::Result<()> {
        Ok(())
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(&self) -> impl Future<Output = sqlx::Result<WriteTx<Self::Db>>> + Send {
        postgres::begin_write(self)
    }
    async fn announce_deliveries(&self, tx: &mut WriteTx<Self::Db>) -> sqlx::Result<()> {
        postgres::announce_deliveries(tx).await
    }
}

/// The one storage interface: every function that touches a tenant's rows takes its `OrgId`.
#[derive(Clone)]
pub struct Store {
    db: Db,
    key: MasterKey,
    /// Wakes this process's dispatcher when deliveries become due.
    wake: std::sync::Arc<tokio::sync::Notify>,
    /// The webhooks' targets, as the dispatcher sends to them.
    targets: std::sync::Arc<targets::TargetCache>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; carries the field and the message for the user.
    #[error("{field}: {message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Crypto(#[from] crate::crypto::OpenError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// `NotFound` when a statement meant to touch the caller's row touched none (missing, or another
/// organization's).
pub(crate) fn found(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Turns a unique-constraint violation into a `Conflict` on `field`.
pub(crate) fn conflict_on(
    field: &'static str,
    message: impl Into<String>,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    let message = message.into();
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict { field, message }
        }
        _ => StoreError::Database(error),
    }
}

/// Which database a URL names; the password never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(url.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err(format!(
                "'{}' is not a database URL this server knows; use sqlite://FILE or postgres://USER@HOST/DB",
                redact(url)
            ))
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Sqlite(url) | Self::Postgres(url) => url,
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(self.as_str()))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(self.as_str()))
    }
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The PostgreSQL channel on which nodes announce new due deliveries.
pub const NOTIFY_CHANNEL: &str = "biotz_deliveries";

/// How a store connects.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl StoreOptions {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl Store {
    /// Connects (creating an SQLite file if missing). Does not migrate: see `migrate`.
    pub async fn connect(options: &StoreOptions, key: MasterKey) -> anyhow::Result<Self> {
        let db = match &options.url {
            DatabaseUrl::Sqlite(url) => Db::Sqlite(sqlite::connect(url, options).await?),
            DatabaseUrl::Postgres(url) => Db::Postgres(postgres::connect(url, options).await?),
        };
        Ok(Self {
            db,
            key,
            wake: Default::default(),
            targets: Default::default(),
        })
    }

    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.db {
            Db::Sqlite(pool) => sqlite::MIGRATOR.run(pool).await?,
            Db::Postgres(pool) => postgres::MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// The database answers and every migration this binary knows has been applied.
    pub async fn is_ready(&self) -> bool {
        let latest = sqlite::MIGRATOR.iter().map(|m| m.version).max();
        let applied: sqlx::Result<Option<i64>> = on_db!(self, pool => {
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(pool)
                .await
        });
        matches!((latest, applied), (Some(latest), Ok(Some(applied))) if applied >= latest)
    }

    /// How this process reaches the database: `file` (SQLite), `unix socket` or `tcp`.
    pub async fn transport(&self) -> StoreResult<&'static str> {
        match &self.db {
            Db::Sqlite(_) => Ok("file"),
            Db::Postgres(pool) => {
                // The server's address is NULL on a Unix socket connection.
                let over_socket: bool = sqlx::query_scalar("SELECT inet_server_addr() IS NULL")
                    .fetch_one(pool)
                    .await?;
                Ok(if over_socket { "unix socket" } else { "tcp" })
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.key
    }

    /// Resolves when deliveries may have become due (in this process, or on another node of the
    /// same PostgreSQL database once its notification arrives).
    pub fn dispatcher_wake(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// On PostgreSQL, a task that wakes this node's dispatcher when another node announces
    /// deliveries, and drops the targets that other nodes changed; nothing on SQLite.
    pub fn listen_for_deliveries(&self) -> Option<tokio::task::JoinHandle<()>> {
        match &self.db {
            Db::Sqlite(_) => None,
            Db::Postgres(pool) => Some(tokio::spawn(postgres::listen(
                pool.clone(),
                self.wake.clone(),
                self.targets.clone(),
            ))),
        }
    }

    pub(crate) fn wake_dispatcher(&self) {
        self.wake.notify_one();
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}

/// Placeholders for statements built at run time, in the order they are bound: `?` on SQLite,
/// `$1, $2, …` on PostgreSQL. SQLite looks up each numbered placeholder in a list, which makes a
/// statement with thousands of them (a multi-row insert) quadratic; anonymous ones are not.
/// A statement that uses these uses no other placeholders.
pub(crate) struct Params {
    numbered: bool,
    count: usize,
}

impl Params {
    pub fn next(&mut self) -> String {
        self.count += 1;
        if self.numbered {
            format!("${}", self.count)
        } else {
            "?".to_owned()
        }
    }

    /// `(p, p, …)` for one row of `columns` values.
    pub fn row(&mut self, columns: usize) -> String {
        let values: Vec<String> = (0..columns).map(|_| self.next()).collect();
        format!("({})", values.join(", "))
    }

    /// `(…), (…)` for `rows` rows of `columns` values.
    pub fn rows(&mut self, rows: usize, columns: usize) -> String {
        (0..rows)
            .map(|_| self.row(columns))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Store {
    pub(crate) fn params(&self) -> Params {
        Params {
            numbered: matches!(self.db, Db::Postgres(_)),
            count: 0,
        }
    }
}

/// `$first, $first+1, …` for `count` values of a dynamic `IN (…)` list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Hex SHA-256, for tokens that are looked up by their hash.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migrations() {
        let names = |m: &sqlx::migrate::Migrator| {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&sqlite::MIGRATOR), names(&postgres::MIGRATOR));
    }

    #[test]
    fn database_urls_hide_their_password() {
        let url = DatabaseUrl::parse("postgres://biotz:hunter2@db:5432/biotz").unwrap();
        assert!(url.is_postgres());
        assert_eq!(format!("{url:?}"), "postgres://biotz:***@db:5432/biotz");
        assert!(!url.to_string().contains("hunter2"));
        assert!(
            DatabaseUrl::parse("mysql://x")
                .unwrap_err()
                .contains("sqlite://")
        );
        assert!(
            !DatabaseUrl::parse("sqlite://biotz.db")
                .unwrap()
                .is_postgres()
        );
    }
}
