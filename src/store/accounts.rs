//! Organizations, users, sessions, the first-run setup token and API tokens.

use serde::Serialize;

use super::{Page, Paged, Store, StoreResult, WritePool, conflict_on, found, on_db};
use crate::domain::time::{Millis, as_rfc3339, now_ms};
use crate::domain::{OrgId, Role, TokenId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: Millis,
}

/// A signed-in user's session, as loaded for each request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionInfo {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub email: String,
    /// Read with the session on every request, so a changed role applies at once.
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub org_name: String,
    pub csrf_token: String,
    pub expires_at: Millis,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: TokenId,
    #[serde(skip)]
    pub org_id: OrgId,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub hint: String,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_used_at: Option<Millis>,
}

/// A user to create: the email already lower-cased and checked, the password already hashed.
pub struct NewUser<'a> {
    pub org_name: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
}

const EMAIL_TAKEN: &str = "An account with this email already exists; sign in instead.";

impl Store {
    pub async fn user_count(&self) -> StoreResult<i64> {
        let count = on_db!(self, pool => {
            sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await?
        });
        Ok(count)
    }

    pub async fn organization_by_name(&self, name: &str) -> StoreResult<Option<Organization>> {
        let org = on_db!(self, pool => {
            sqlx::query_as("SELECT id, name, created_at FROM organizations WHERE name_key = $1")
                .bind(name.to_lowercase())
                .fetch_optional(pool)
                .await?
        });
        Ok(org)
    }

    /// Creates the user, and its organization when none has that name yet.
    /// Returns whether the organization was created.
    pub async fn create_user(&self, new: &NewUser<'_>) -> StoreResult<(Organization, User, bool)> {
        let created = self.insert_user(new, None).await?;
        Ok(created.expect("with no setup token to consume, the user is always created"))
    }

    /// Uses the setup token to create the first organization and its admin, in one transaction.
    /// `None` when the token is unknown, expired, used, or a user exists already.
    pub async fn complete_setup(
        &self,
        token_hash: &str,
        new: &NewUser<'_>,
    ) -> StoreResult<Option<(Organization, User)>> {
        let created = self.insert_user(new, Some(token_hash)).await?;
        Ok(created.map(|(org, user, _)| (org, user)))
    }

    async fn insert_user(
        &self,
        new: &NewUser<'_>,
        setup_token_hash: Option<&str>,
    ) -> StoreResult<Option<(Organization, User, bool)>> {
        let now = now_ms();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(token_hash) = setup_token_hash {
                // Using one link ends them all (each node that started before the first user
                // printed its own).
                let consumed = sqlx::query(
                    "DELETE FROM setup_tokens
                     WHERE EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2)
                     AND NOT EXISTS (SELECT 1 FROM users)",
                )
                .bind(token_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if consumed == 0 {
                    return Ok(None);
                }
            }
            let existing: Option<Organization> =
                sqlx::query_as("SELECT id, name, created_at FROM organizations WHERE name_key = $1")
                    .bind(new.org_name.to_lowercase())
                    .fetch_optional(&mut *tx)
                    .await?;
            let created = existing.is_none();
            let org = match existing {
                Some(org) => org,
                None => {
                    let org = Organization { id: OrgId::generate(), name: new.org_name.to_owned(), created_at: now };
                    sqlx::query("INSERT INTO organizations (id, name, name_key, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(&org.id)
                        .bind(&org.name)
                        .bind(org.name.to_lowercase())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    org
                }
            };
            let user = User { id: UserId::generate(), org_id: org.id.clone(), email: new.email.to_owned(), role: new.role, created_at: now };
            sqlx::query("INSERT INTO users (id, org_id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&user.id)
                .bind(&user.org_id)
                .bind(&user.email)
                .bind(new.password_hash)
                .bind(user.role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(conflict_on("email", EMAIL_TAKEN))?;
            tx.commit().await?;
            Ok(Some((org, user, created)))
        })
    }

    /// Adds a setup token and forgets expired ones. Every node that starts before the first user
    /// exists prints a link of its own; any of them works, once.
    pub async fn add_setup_token(&self, token_hash: &str, expires_at: Millis) -> StoreResult<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM setup_tokens WHERE expires_at <= $1")
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)")
                .bind(token_hash)
                .bind(now_ms())
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Whether a setup token is valid now (and no user exists yet).
    pub async fn setup_token_is_valid(&self, token_hash: &str) -> StoreResult<bool> {
        let found: i64 = on_db!(self, pool => {
            sqlx::query_scalar(
                "SELECT count(*) FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2
                 AND NOT EXISTS (SELECT 1 FROM users)",
            )
            .bind(token_hash)
            .bind(now_ms())
            .fetch_one(pool)
            .await?
        });
        Ok(found > 0)
    }

    /// The user with this (lower-cased) email and their password hash.
    pub async fn credentials(&self, email: &str) -> StoreResult<Option<(User, String)>> {
        #[derive(sqlx::FromRow)]
        struct Credentials {
            #[sqlx(flatten)]
            user: User,
            password_hash: String,
        }
        let row: Option<Credentials> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, org_id, email, role, created_at, password_hash FROM users WHERE email = $1",
            )
            .bind(email)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|row| (row.user, row.password_hash)))
    }

    /// Sets the password (already hashed) of the user with this email.
    pub async fn set_password(&self, email: &str, password_hash: &str) -> StoreResult<()> {
        let updated = on_db!(self, pool => {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE email = $1")
                .bind(email)
                .bind(password_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(updated)
    }

    pub async fn create_session(
        &self,
        session_hash: &str,
        user: &User,
        csrf_token: &str,
        expires_at: Millis,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO sessions (id, org_id, user_id, csrf_token, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(session_hash)
            .bind(&user.org_id)
            .bind(&user.id)
            .bind(csrf_token)
            .bind(now_ms())
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn session(&self, session_hash: &str) -> StoreResult<Option<SessionInfo>> {
        let session = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT s.user_id, s.org_id, u.email, u.role, o.name AS org_name, s.csrf_token, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id JOIN organizations o ON o.id = s.org_id
                 WHERE s.id = $1 AND s.expires_at > $2",
            )
            .bind(session_hash)
            .bind(now_ms())
            .fetch_optional(pool)
            .await?
        });
        Ok(session)
    }

    /// Signs out: the session and, while at it, every expired one.
    pub async fn delete_session(&self, session_hash: &str) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE id = $1 OR expires_at <= $2")
                .bind(session_hash)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn create_api_token(
        &self,
        org: &OrgId,
        name: &str,
        token_hash: &str,
        hint: &str,
    ) -> StoreResult<ApiToken> {
        let token = ApiToken {
            id: TokenId::generate(),
            org_id: org.clone(),
            name: name.to_owned(),
            hint: hint.to_owned(),
            created_at: now_ms(),
            last_used_at: None,
        };
        on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO api_tokens (id, org_id, name, name_key, token_hash, hint, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&token.id)
            .bind(org)
            .bind(&token.name)
            .bind(token.name.to_lowercase())
            .bind(token_hash)
            .bind(&token.hint)
            .bind(token.created_at)
            .execute(pool)
            .await
            .map_err(conflict_on("name", "An API token with this name already exists; choose another name."))?;
        });
        Ok(token)
    }

    pub async fn list_api_tokens(&self, org: &OrgId, page: &Page) -> StoreResult<Paged<ApiToken>> {
        let rows: Vec<ApiToken> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, org_id, name, hint, created_at, last_used_at FROM api_tokens
                 WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(org)
            .bind(page.before())
            .bind(page.fetch_limit())
            .fetch_all(pool)
            .await?
        });
        Ok(page.finish(rows, |t| t.id.as_str()))
    }

    pub async fn delete_api_token(&self, org: &OrgId, id: &TokenId) -> StoreResult<()> {
        let deleted = on_db!(self, pool => {
            sqlx::query("DELETE FROM api_tokens WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(deleted)
    }

    /// The organization an API token belongs to. Records when it was last used, at most once
    /// a minute so that busy clients do not turn every read into a write.
    pub async fn organization_for_api_token(&self, token_hash: &str) -> StoreResult<Option<OrgId>> {
        let now = now_ms();
        let found: Option<(OrgId, Option<Millis>)> = on_db!(self, pool => {
            sqlx::query_as("SELECT org_id, last_used_at FROM api_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        let Some((org, last_used)) = found else {
            return Ok(None);
        };
        if last_used.is_none_or(|at| now - at > 60_000) {
            on_db!(self, pool => {
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
                    .bind(now)
                    .bind(token_hash)
                    .execute(pool)
                    .await?;
            });
        }
        Ok(Some(org))
    }
}
