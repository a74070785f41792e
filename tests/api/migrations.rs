//! Migrations that move data: a database made by an earlier release, with rows in the old
//! shape, migrated to this one keeps what it held.

use std::borrow::Cow;

use sqlx::migrate::Migrator;

use crate::helpers::TestDatabase;

/// The migration that moves `devices.last_error` into `rejected_messages`.
const MOVE_LAST_ERROR: i64 = 20261205050000;

/// The migrations before `version`, as an earlier release ran them.
fn before(migrator: &Migrator, version: i64) -> Migrator {
    let mut earlier = Migrator {
        migrations: Cow::Owned(
            migrator
                .migrations
                .iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    earlier.set_ignore_missing(true);
    earlier
}

const SEED: [&str; 4] = [
    "INSERT INTO organizations (id, name, name_key, created_at) VALUES ('org_01jdq7z6w3k9v2x3y4z5a6b7c8', 'Acme', 'acme', 1)",
    "INSERT INTO device_types (id, org_id, name, name_key, created_at, updated_at)
     VALUES ('dty_01jdq7z6w3k9v2x3y4z5a6b7c8', 'org_01jdq7z6w3k9v2x3y4z5a6b7c8', 'Freezer', 'freezer', 1, 1)",
    "INSERT INTO devices (id, org_id, device_type_id, name, name_key, token_hash, token_hint, created_at, last_error, last_error_at)
     VALUES ('dev_01jdq7z6w3k9v2x3y4z5a6b7c8', 'org_01jdq7z6w3k9v2x3y4z5a6b7c8', 'dty_01jdq7z6w3k9v2x3y4z5a6b7c8',
             'Freezer 1', 'freezer 1', 'h1', 'hint', 1, 'payload/temperature: \"hot\" is not of type \"number\"', 1764864000000)",
    "INSERT INTO devices (id, org_id, device_type_id, name, name_key, token_hash, token_hint, created_at)
     VALUES ('dev_01jdq7z6w3k9v2x3y4z5a6b7c9', 'org_01jdq7z6w3k9v2x3y4z5a6b7c8', 'dty_01jdq7z6w3k9v2x3y4z5a6b7c8',
             'Freezer 2', 'freezer 2', 'h2', 'hint', 1)",
];

/// Seeds an earlier release's database, migrates it to this one, and returns the rejected
/// messages and whether `devices` still has `last_error`.
macro_rules! migrate_from_earlier {
    ($pool:expr, $migrator:expr) => {{
        let pool = $pool;
        before(&$migrator, MOVE_LAST_ERROR)
            .run(&pool)
            .await
            .unwrap();
        for statement in SEED {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        $migrator.run(&pool).await.unwrap();
        let rejected: Vec<(String, String, String, Option<i64>, String, String, i64)> =
            sqlx::query_as(
                "SELECT id, device_id, transport, status, reason, payload, received_at
                 FROM rejected_messages ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
        let old_column = sqlx::query("SELECT last_error FROM devices")
            .fetch_all(&pool)
            .await
            .is_ok();
        pool.close().await;
        (rejected, old_column)
    }};
}

#[tokio::test]
async fn a_devices_last_error_becomes_its_oldest_rejected_message() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(dir.path()).await;
    let (rejected, old_column) = match &database {
        TestDatabase::Sqlite { url } => {
            let options = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            migrate_from_earlier!(pool, sqlx::migrate!("migrations/sqlite"))
        }
        TestDatabase::Postgres { url, .. } => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            migrate_from_earlier!(pool, sqlx::migrate!("migrations/postgres"))
        }
    };
    assert_eq!(
        rejected,
        [(
            "rej_01jdq7z6w3k9v2x3y4z5a6b7c8".to_owned(),
            "dev_01jdq7z6w3k9v2x3y4z5a6b7c8".to_owned(),
            "mqtt".to_owned(),
            None,
            r#"payload/temperature: "hot" is not of type "number""#.to_owned(),
            String::new(),
            1_764_864_000_000,
        )],
        "one row for the device that had an error, none for the other"
    );
    assert!(!old_column, "devices.last_error is gone");
}
