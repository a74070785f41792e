//! Direct SQL on a test's database, for what no route shows (row counts) or to age rows.

use crate::helpers::TestApp;

impl TestApp {
    /// Runs one statement on the test's database.
    pub async fn execute_sql(&self, statement: &str) {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        match self.database.url() {
            url if url.starts_with("sqlite:") => {
                let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
            url => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }

    /// The one integer a query answers, such as a `count(*)`.
    pub async fn sql_number(&self, query: &str) -> i64 {
        let query = sqlx::AssertSqlSafe(query.to_owned());
        match self.database.url() {
            url if url.starts_with("sqlite:") => {
                let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                let n = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
                pool.close().await;
                n
            }
            url => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let n = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
                pool.close().await;
                n
            }
        }
    }
}
