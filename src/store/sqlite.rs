//! SQLite: one node, one file, WAL. Writers are serialised by SQLite itself; transactions that
//! write start with `BEGIN IMMEDIATE` so two of them never deadlock upgrading a read lock.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use sqlx::{Sqlite, SqlitePool};

use super::{StoreOptions, WriteTx};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub async fn connect(url: &str, options: &StoreOptions) -> anyhow::Result<SqlitePool> {
    let connect = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL is durable across application crashes; only an OS crash or power
        // loss can undo the last transactions.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        // Checkpoints run in the background (`checkpoints`), not in the commit that happens to
        // fill the WAL: that commit's fsync of the database file held up every writer behind it.
        .pragma("wal_autocheckpoint", "0");
    // Each connection is a thread; on SQLite, where writers take turns anyway, a few readers
    // are plenty and more only add thread switches.
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections.min(4))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    tokio::spawn(checkpoints(pool.clone()));
    Ok(pool)
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies the WAL back into the database file every `CHECKPOINT_EVERY`, on a connection of its
/// own, while writers go on appending to the WAL (a passive checkpoint waits for nobody). A
/// WAL fully copied back is started over by the next writer, so it stays small. Ends when the
/// pool closes; closing the last connection checkpoints once more.
async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(%error, "checkpointing the SQLite WAL failed; trying again shortly");
        }
    }
}

/// The file an `sqlite:` URL names, if it names one (not `:memory:`).
pub fn file_of(url: &str) -> Option<std::path::PathBuf> {
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    (!path.as_os_str().is_empty() && path.as_os_str() != ":memory:").then(|| path.to_path_buf())
}

/// One writer lock per database file in this process.
static WRITERS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

fn writer_lock(pool: &SqlitePool) -> Arc<tokio::sync::Mutex<()>> {
    let file = pool.connect_options().get_filename().to_path_buf();
    let mut writers = WRITERS.lock().unwrap_or_else(|e| e.into_inner());
    writers.entry(file).or_default().clone()
}

pub async fn begin_write(pool: &SqlitePool) -> sqlx::Result<WriteTx<Sqlite>> {
    let writer = writer_lock(pool).lock_owned().await;
    let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    Ok(WriteTx {
        tx,
        _writer: Some(writer),
    })
}
