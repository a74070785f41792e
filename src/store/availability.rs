//! Whether a database error means the database is away (unreachable, restarting, locked) rather
//! than that a statement failed: the web layer answers the former 503 `database_unavailable`.

use super::{Db, Store, StoreError};

impl Store {
    /// "SQLite" or "PostgreSQL", for messages that name the database.
    pub fn database_kind(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "SQLite",
            Db::Postgres(_) => "PostgreSQL",
        }
    }
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(error) => {
                let code = error.code().unwrap_or_default();
                // SQLite: SQLITE_BUSY, SQLITE_LOCKED (and their extended codes). PostgreSQL:
                // connection exceptions (08…), shutting down or starting (57P01–57P03), too many
                // connections (53300).
                matches!(
                    code.as_ref(),
                    "5" | "6" | "57P01" | "57P02" | "57P03" | "53300"
                ) || code.starts_with("08")
                    || code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
            }
            _ => false,
        }
    }
}
