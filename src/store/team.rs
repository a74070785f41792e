//! An organization's team: its users and roles, invitations by one-time link, removing a user,
//! changing a password.
//!
//! The organization keeps at least one admin. Every change that could take the last one away
//! first locks the organization's row, so two admins removing each other at once on PostgreSQL
//! cannot both succeed (on SQLite the write transaction is exclusive anyway).

use serde::Serialize;

use super::{Store, StoreError, StoreResult, User, WritePool, conflict_on, found, on_db};
use crate::domain::time::{Millis, as_rfc3339, now_ms};
use crate::domain::{InvitationId, OrgId, Role, UserId};

/// An open invitation, as the Users page lists it. The link's token is never stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Invitation {
    pub id: InvitationId,
    #[serde(skip)]
    pub org_id: OrgId,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// The email of the admin who sent it.
    pub invited_by: String,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub expires_at: Millis,
}

/// An invitation as its link's page shows it: with the organization's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationToAccept {
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub org_name: String,
    pub expires_at: Millis,
}

pub struct NewInvitation<'a> {
    pub org: &'a OrgId,
    /// Lower-cased and checked.
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub invited_by: &'a str,
    pub expires_at: Millis,
}

const LAST_ADMIN: &str = "An organization needs at least one admin: make another user admin first.";
const HAS_ACCOUNT: &str = "This email already has an account (here or in another organization); \
                           each email belongs to one organization.";
const ALREADY_INVITED: &str = "An invitation to this email is still open; revoke it below to \
                               send a new link.";

impl Store {
    /// The organization's users, oldest first.
    pub async fn list_users(&self, org: &OrgId) -> StoreResult<Vec<User>> {
        let users = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, org_id, email, role, created_at FROM users WHERE org_id = $1
                 ORDER BY created_at, id",
            )
            .bind(org)
            .fetch_all(pool)
            .await?
        });
        Ok(users)
    }

    /// Keeps an invitation. An expired one to the same email makes way; an open one, or an
    /// account with the email, is a conflict on `email`.
    pub async fn create_invitation(&self, new: &NewInvitation<'_>) -> StoreResult<Invitation> {
        let now = now_ms();
        let invitation = Invitation {
            id: InvitationId::generate(),
            org_id: new.org.clone(),
            email: new.email.to_owned(),
            role: new.role,
            invited_by: new.invited_by.to_owned(),
            created_at: now,
            expires_at: new.expires_at,
        };
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let has_account: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = $1")
                .bind(new.email)
                .fetch_one(&mut *tx)
                .await?;
            if has_account > 0 {
                return Err(StoreError::Conflict { field: "email", message: HAS_ACCOUNT.into() });
            }
            sqlx::query("DELETE FROM invitations WHERE org_id = $1 AND email = $2 AND expires_at <= $3")
                .bind(new.org)
                .bind(new.email)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&invitation.id)
            .bind(new.org)
            .bind(new.email)
            .bind(new.role.as_str())
            .bind(new.token_hash)
            .bind(new.invited_by)
            .bind(now)
            .bind(new.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on("email", ALREADY_INVITED))?;
            tx.commit().await?;
        });
        Ok(invitation)
    }

    /// The organization's invitations that can still be used, newest first.
    pub async fn list_invitations(&self, org: &OrgId) -> StoreResult<Vec<Invitation>> {
        let invitations = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, org_id, email, role, invited_by, created_at, expires_at FROM invitations
                 WHERE org_id = $1 AND expires_at > $2 ORDER BY created_at DESC",
            )
            .bind(org)
            .bind(now_ms())
            .fetch_all(pool)
            .await?
        });
        Ok(invitations)
    }

    /// Revokes an invitation: its link stops working.
    pub async fn delete_invitation(&self, org: &OrgId, id: &InvitationId) -> StoreResult<()> {
        let deleted = on_db!(self, pool => {
            sqlx::query("DELETE FROM invitations WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(deleted)
    }

    /// The unexpired invitation a link's token opens, if any.
    pub async fn invitation_to_accept(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<InvitationToAccept>> {
        let invitation = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT i.email, i.role, o.name AS org_name, i.expires_at
                 FROM invitations i JOIN organizations o ON o.id = i.org_id
                 WHERE i.token_hash = $1 AND i.expires_at > $2",
            )
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(pool)
            .await?
        });
        Ok(invitation)
    }

    /// Uses the invitation: creates its user with the password (already hashed) and deletes
    /// it, in one transaction. `None` when the link is unknown, expired or already used.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> StoreResult<Option<User>> {
        let now = now_ms();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let taken: Option<(OrgId, String, String)> = sqlx::query_as(
                "DELETE FROM invitations WHERE token_hash = $1 AND expires_at > $2
                 RETURNING org_id, email, role",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((org_id, email, role)) = taken else {
                return Ok(None);
            };
            let role = Role::parse(&role).map_err(|m| sqlx::Error::Decode(m.into()))?;
            let user = User { id: UserId::generate(), org_id, email, role, created_at: now };
            sqlx::query(
                "INSERT INTO users (id, org_id, email, password_hash, role, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&user.id)
            .bind(&user.org_id)
            .bind(&user.email)
            .bind(password_hash)
            .bind(user.role.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on("email", HAS_ACCOUNT))?;
            tx.commit().await?;
            Ok(Some(user))
        })
    }

    /// Removes a user of the organization, ending their sessions; never the last admin.
    pub async fn remove_user(&self, org: &OrgId, id: &UserId) -> StoreResult<()> {
        self.change_member(org, id, None).await
    }

    /// Gives a user of the organization another role; never demotes the last admin.
    pub async fn set_role(&self, org: &OrgId, id: &UserId, role: Role) -> StoreResult<()> {
        self.change_member(org, id, Some(role)).await
    }

    /// A new role for the user, or (with `None`) their removal, unless it leaves the
    /// organization without an admin.
    async fn change_member(&self, org: &OrgId, id: &UserId, role: Option<Role>) -> StoreResult<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Serializes the organization's team changes (a row lock on PostgreSQL).
            sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                .bind(org)
                .execute(&mut *tx)
                .await?;
            let current: Option<String> =
                sqlx::query_scalar("SELECT role FROM users WHERE org_id = $1 AND id = $2")
                    .bind(org)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(current) = current else {
                return Err(StoreError::NotFound);
            };
            let stays_admin = role == Some(Role::Admin);
            if current == Role::Admin.as_str() && !stays_admin {
                let admins: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM users WHERE org_id = $1 AND role = 'admin'",
                )
                .bind(org)
                .fetch_one(&mut *tx)
                .await?;
                if admins <= 1 {
                    return Err(StoreError::Conflict { field: "user", message: LAST_ADMIN.into() });
                }
            }
            match role {
                Some(role) => {
                    sqlx::query("UPDATE users SET role = $3 WHERE org_id = $1 AND id = $2")
                        .bind(org)
                        .bind(id)
                        .bind(role.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    sqlx::query("DELETE FROM users WHERE org_id = $1 AND id = $2")
                        .bind(org)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The user's password hash, to check the current password before a change.
    pub async fn password_hash(&self, id: &UserId) -> StoreResult<String> {
        let hash: Option<String> = on_db!(self, pool => {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        hash.ok_or(StoreError::NotFound)
    }

    /// Sets the user's password (already hashed) and ends their other sessions: whoever knew
    /// the old password is signed out everywhere but here.
    pub async fn change_password(
        &self,
        id: &UserId,
        password_hash: &str,
        keep_session_hash: &str,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(id)
                .bind(password_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            found(updated)?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                .bind(id)
                .bind(keep_session_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
