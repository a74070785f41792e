//! PostgreSQL: any number of nodes on one database.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres};

use super::{StoreOptions, WriteTx};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub async fn connect(url: &str, options: &StoreOptions) -> anyhow::Result<PgPool> {
    // JIT compilation pays off for long analytical queries; for these short ones it only adds
    // tens of milliseconds whenever a plan's estimated cost crosses its threshold.
    let mut connect = url.parse::<PgConnectOptions>()?.options([("jit", "off")]);
    if loopback_without_tls(
        url,
        connect.get_host(),
        std::env::var_os("PGSSLMODE").is_some(),
    ) {
        connect = connect.ssl_mode(PgSslMode::Disable);
    }
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

/// Whether to reach the server without TLS: when it is on this machine (TLS there protects
/// nothing, as the bytes never leave the host, and through sqlx 0.9.0 it added stalls of 40–60 ms
/// to one statement in a hundred) and neither the URL's `sslmode` nor `PGSSLMODE` chose a mode.
/// Any other host keeps sqlx's default: TLS when the server offers it.
fn loopback_without_tls(url: &str, host: &str, pgsslmode_set: bool) -> bool {
    let mode_chosen = pgsslmode_set
        || url::Url::parse(url).is_ok_and(|url| url.query_pairs().any(|(key, _)| key == "sslmode"));
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback && !mode_chosen
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

/// Forwards `NOTIFY biotz_deliveries` from other nodes to this node's dispatcher and drops the
/// targets named on `biotz_webhooks`, reconnecting after a lost connection. What is missed
/// meanwhile is covered by the dispatcher's poll and by dropping every target on reconnecting.
pub async fn listen(
    pool: PgPool,
    wake: std::sync::Arc<tokio::sync::Notify>,
    targets: std::sync::Arc<super::targets::TargetCache>,
) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                let channels = [super::NOTIFY_CHANNEL, super::targets::TARGETS_CHANNEL];
                if let Err(error) = listener.listen_all(channels).await {
                    tracing::warn!(%error, "LISTEN failed");
                } else {
                    targets.clear();
                    wake.notify_one();
                    loop {
                        match listener.recv().await {
                            Ok(notice) if notice.channel() == super::targets::TARGETS_CHANNEL => {
                                targets.forget(notice.payload())
                            }
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

#[cfg(test)]
mod tests {
    use super::loopback_without_tls;

    #[test]
    fn tls_is_left_out_only_for_this_machine_and_only_when_no_mode_was_chosen() {
        let cases = [
            ("postgres://u@127.0.0.1:5432/db", "127.0.0.1", false, true),
            ("postgres://u@localhost/db", "localhost", false, true),
            ("postgres://u@[::1]:5432/db", "::1", false, true),
            (
                "postgres://u@127.0.0.1/db?sslmode=require",
                "127.0.0.1",
                false,
                false,
            ),
            ("postgres://u@127.0.0.1/db", "127.0.0.1", true, false),
            ("postgres://u@db.internal/db", "db.internal", false, false),
            ("postgres://u@10.0.0.5/db", "10.0.0.5", false, false),
        ];
        for (url, host, pgsslmode_set, expected) in cases {
            assert_eq!(
                loopback_without_tls(url, host, pgsslmode_set),
                expected,
                "{url} (PGSSLMODE set: {pgsslmode_set})"
            );
        }
    }
}
