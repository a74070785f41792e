//! PostgreSQL: any number of nodes on one database.

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

use super::{StoreOptions, WriteTx};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub async fn connect(url: &str, options: &StoreOptions) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect(url)
        .await?;
    Ok(pool)
}

pub async fn begin_write(pool: &PgPool) -> sqlx::Result<WriteTx<Postgres>> {
    Ok(WriteTx {
        tx: pool.begin().await?,
        _writer: None,
    })
}

pub async fn announce_deliveries(tx: &mut WriteTx<Postgres>) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(super::NOTIFY_CHANNEL)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Forwards `NOTIFY biotz_deliveries` from other nodes to this node's dispatcher, reconnecting
/// after a lost connection (the poll covers what is missed meanwhile).
pub async fn listen(pool: PgPool, wake: std::sync::Arc<tokio::sync::Notify>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(error) = listener.listen(super::NOTIFY_CHANNEL).await {
                    tracing::warn!(%error, "LISTEN failed");
                } else {
                    loop {
                        match listener.recv().await {
                            Ok(_) => wake.notify_one(),
                            Err(error) => {
                                tracing::warn!(%error, "the LISTEN connection was lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "connecting for LISTEN failed; retrying"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
