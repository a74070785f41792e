//! PostgreSQL: any number of nodes on one database.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use super::{StoreOptions, WriteTx};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub async fn connect(url: &str, options: &StoreOptions) -> anyhow::Result<PgPool> {
    // JIT compilation pays off for long analytical queries; for these short ones it only adds
    // tens of milliseconds whenever a plan's estimated cost crosses its threshold.
    let connect = url.parse::<PgConnectOptions>()?.options([("jit", "off")]);
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .after_connect(|_, _| {
            Box::pin(async {
                disable_nagle_on_tcp_sockets();
                Ok(())
            })
        })
        .connect_with(connect)
        .await?;
    Ok(pool)
}

/// sqlx 0.9.0 leaves Nagle's algorithm on for its TCP connections, so a statement whose
/// messages leave in more than one write waits for the server's delayed ACK: ~40 ms for each
/// multi-row statement (seen recording attempts at a tenth of the speed of a Unix socket). The
/// connection's socket is not reachable through sqlx, so after each new connection every TCP
/// socket of the process gets TCP_NODELAY: the web server's and the delivery client's have it
/// already, and for a socket that is not TCP the call just fails.
fn disable_nagle_on_tcp_sockets() {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::{BorrowedFd, RawFd};
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
            return;
        };
        for entry in entries.flatten() {
            let is_socket = std::fs::read_link(entry.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
            let Some(fd) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<RawFd>().ok())
            else {
                continue;
            };
            if is_socket {
                // SAFETY: the descriptor is only borrowed for one setsockopt call; if it was
                // closed or reused meanwhile, the call fails or sets a harmless option.
                let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                let _ = socket2::SockRef::from(&fd).set_tcp_nodelay(true);
            }
        }
    }
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
