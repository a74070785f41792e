//! PostgreSQL: any number of nodes on one database.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres};

use super::{StoreOptions, WriteTx};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub async fn connect(url: &str, options: &StoreOptions) -> anyhow::Result<PgPool> {
    // JIT compilation pays off for long analytical queries; for these short ones it only adds
    // tens of milliseconds whenever a plan's estimated cost crosses its threshold.
    let mut connect = url.parse::<PgConnectOptions>()?.options([("jit", "off")]);
    let local = loopback_without_tls(
        url,
        connect.get_host(),
        std::env::var_os("PGSSLMODE").is_some(),
    );
    if local {
        connect = connect.ssl_mode(PgSslMode::Disable);
    }
    let pool = |connect: PgConnectOptions| {
        PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
    };
    // A server on this machine is reached through its Unix socket when it has one: no TCP
    // stack, no TLS, no Nagle. If the socket refuses us (its authentication rules may differ
    // from TCP's), TCP as the URL says.
    if local && let Some(socket) = local_socket(connect.get_port()) {
        match pool(connect.clone().socket(&socket)).await {
            Ok(pool) => return Ok(pool),
            Err(error) => tracing::info!(
                %error,
                socket = %socket.display(),
                "the local PostgreSQL socket refused the connection; using TCP"
            ),
        }
    }
    Ok(pool(connect).await?)
}

/// The directories where PostgreSQL packages put the server's socket.
const SOCKET_DIRS: [&str; 3] = ["/run/postgresql", "/var/run/postgresql", "/tmp"];

/// The directory of the Unix socket of a PostgreSQL server on this machine listening on
/// `port`, if one exists.
fn local_socket(port: u16) -> Option<std::path::PathBuf> {
    SOCKET_DIRS
        .iter()
        .map(std::path::PathBuf::from)
        .find(|dir| is_socket(&dir.join(format!(".s.PGSQL.{port}"))))
}

fn is_socket(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Whether to reach the server without TLS: when it is on this machine (TLS there protects
/// nothing, as the bytes never leave the host, and through sqlx 0.9 it added stalls of 40–60 ms
/// to one statement in a hundred) and neither the URL's `sslmode` nor `PGSSLMODE` chose a mode.
/// Any other host keeps sqlx's default: TLS when the server offers it. Such a server is also
/// reached through its Unix socket when it has one.
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
