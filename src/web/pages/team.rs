//! Organization → Users: the team and its roles, invitations by one-time link, removing a user;
//! and every user's own password.
//!
//! Only admins invite, change roles and remove (`CsrfForm` refuses viewers); the invitation's
//! link is shown once to the admin who made it, and the person invited sets their password on
//! the page it opens.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::filters;
use super::{Layout, page, redirect_with_flash, render, render_with};
use crate::accounts;
use crate::domain::random;
use crate::domain::time::{Millis, now_ms};
use crate::domain::{FieldErrors, InvitationId, Role, UserId};
use crate::store::{Invitation, NewInvitation, ShownOnce, User, token_hash};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfForm, NoFields, OwnForm, PathId, SignedIn, form_field, parse_form};
use crate::web::session::{self, SESSION_COOKIE};

/// How long an invitation's link works.
pub const INVITATION_LIFETIME_MS: Millis = 7 * 24 * 3600 * 1000;
/// The `shown_once` kind of a new invitation's link.
const INVITATION_LINK: &str = "invitation_link";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/users", get(list).post(invite))
        .route("/settings/users/{id}/role", post(change_role))
        .route("/settings/users/{id}/remove", post(remove))
        .route("/settings/invitations/{id}/revoke", post(revoke))
        .route(
            "/account/password",
            get(password_page).post(change_password),
        )
        .route("/invite/{token}", get(invitation_page).post(accept))
}

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<User>,
    invitations: Vec<Invitation>,
    me: UserId,
    /// The link of the invitation just made, shown this once.
    new_link: Option<String>,
    email: String,
    role: String,
    errors: FieldErrors,
}

impl UsersPage {
    fn roles(&self) -> [Role; 2] {
        Role::ALL
    }
}

#[derive(Deserialize)]
struct UsersQuery {
    /// The key of an invitation just made, to show its link once.
    once: Option<String>,
}

/// The form as typed, kept when it is shown again with errors.
struct Typed {
    email: String,
    role: String,
}

async fn render_users(
    state: &AppState,
    user: &SignedIn,
    status: StatusCode,
    new_link: Option<String>,
    typed: Typed,
    errors: FieldErrors,
) -> AppResult<Response> {
    let users = state.store.list_users(user.org()).await?;
    let invitations = state.store.list_invitations(user.org()).await?;
    Ok(render_with(
        status,
        &UsersPage {
            layout: Layout::new(user, "Users", "users"),
            users,
            invitations,
            me: user.session.user_id.clone(),
            new_link,
            email: typed.email,
            role: typed.role,
            errors,
        },
    ))
}

async fn list(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<UsersQuery>,
) -> Response {
    let result = async {
        let new_link = match query.once.as_deref() {
            Some(once) => state
                .store
                .take_shown_once(user.org(), &user.session.user_id, once)
                .await?
                .filter(|kept| kept.kind == INVITATION_LINK)
                .map(|kept| kept.token),
            None => None,
        };
        let typed = Typed {
            email: String::new(),
            role: Role::Viewer.as_str().to_owned(),
        };
        render_users(
            &state,
            &user,
            StatusCode::OK,
            new_link,
            typed,
            FieldErrors::new(),
        )
        .await
    }
    .await;
    page(&user, result)
}

#[derive(Deserialize)]
struct InviteForm {
    email: String,
    role: String,
}

async fn invite(
    State(state): State<AppState>,
    CsrfForm { user, form }: CsrfForm<InviteForm>,
) -> Response {
    let result = async {
        let mut errors = FieldErrors::new();
        let email = errors.check("email", accounts::parse_email(&form.email));
        let role = errors.check("role", Role::parse(&form.role));
        let typed = Typed {
            email: form.email.clone(),
            role: form.role.clone(),
        };
        let (Some(email), Some(role)) = (email, role) else {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_users(&state, &user, status, None, typed, errors).await;
        };
        let token = random::token();
        let created = state
            .store
            .create_invitation(&NewInvitation {
                org: user.org(),
                email: &email,
                role,
                token_hash: &token_hash(&token),
                invited_by: &user.session.email,
                expires_at: now_ms() + INVITATION_LIFETIME_MS,
            })
            .await;
        match created {
            // The link is shown on the page after the redirect, once: reloading it neither
            // invites again nor shows the link again.
            Ok(invitation) => {
                let link = format!(
                    "{}/invite/{token}",
                    state.web.public_url.trim_end_matches('/')
                );
                let once = state
                    .store
                    .keep_to_show_once(
                        user.org(),
                        &user.session.user_id,
                        &ShownOnce {
                            subject: invitation.id.to_string(),
                            kind: INVITATION_LINK.to_owned(),
                            token: link,
                        },
                    )
                    .await?;
                Ok(Redirect::to(&format!("/settings/users?once={once}")).into_response())
            }
            Err(error) => match AppError::from(error) {
                conflict @ AppError::Conflict { .. } => {
                    let status = StatusCode::CONFLICT;
                    render_users(&state, &user, status, None, typed, conflict.fields()).await
                }
                other => Err(other),
            },
        }
    }
    .await;
    page(&user, result)
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<UserId>, AppError>,
    CsrfForm { user, form }: CsrfForm<RoleForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let role = Role::parse(&form.role).map_err(|m| AppError::validation("role", m))?;
        state.store.set_role(user.org(), &id, role).await?;
        let message = format!("Role changed to {role}.");
        Ok(redirect_with_flash(
            &state,
            jar,
            "/settings/users",
            &message,
        ))
    }
    .await;
    page(&user, result)
}

async fn remove(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<UserId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        if id == user.session.user_id {
            return Err(AppError::Conflict {
                field: "user",
                message: "You cannot remove yourself; another admin can.".into(),
            });
        }
        state.store.remove_user(user.org(), &id).await?;
        Ok(redirect_with_flash(
            &state,
            jar,
            "/settings/users",
            "User removed and signed out everywhere.",
        ))
    }
    .await;
    page(&user, result)
}

async fn revoke(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<InvitationId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        state.store.delete_invitation(user.org(), &id).await?;
        Ok(redirect_with_flash(
            &state,
            jar,
            "/settings/users",
            "Invitation revoked: its link no longer works.",
        ))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "settings/password.html")]
struct PasswordPage {
    layout: Layout,
    errors: FieldErrors,
}

async fn password_page(user: SignedIn) -> Response {
    render(&PasswordPage {
        layout: Layout::new(&user, "Change password", "password"),
        errors: FieldErrors::new(),
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    password: String,
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    jar: CookieJar,
    OwnForm { user, form }: OwnForm<PasswordForm>,
) -> Response {
    let result = async {
        let hash = state.store.password_hash(&user.session.user_id).await?;
        let matches = accounts::verify_password_blocking(form.current.clone(), hash).await?;
        let mut errors = FieldErrors::new();
        if !matches {
            errors.add(
                "current",
                "This is not your current password; type the one you sign in with.",
            );
        }
        errors.check("password", accounts::check_password(&form.password));
        if form.confirm != form.password {
            errors.add(
                "confirm",
                "The two passwords differ; type the same new password twice.",
            );
        }
        if !errors.is_empty() {
            return Ok(render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PasswordPage {
                    layout: Layout::new(&user, "Change password", "password"),
                    errors,
                },
            ));
        }
        let password = form.password.clone();
        let new_hash = accounts::hash_password_blocking(password).await?;
        let this_session = jar
            .get(SESSION_COOKIE)
            .map(|cookie| token_hash(cookie.value()))
            .unwrap_or_default();
        state
            .store
            .change_password(&user.session.user_id, &new_hash, &this_session)
            .await?;
        Ok(redirect_with_flash(
            &state,
            jar,
            "/overview",
            "Password changed. Your other sessions are signed out.",
        ))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "auth/invitation.html")]
struct InvitationPage {
    title: &'static str,
    token: String,
    csrf: String,
    email: String,
    org_name: String,
    role: Role,
    expires_at: Millis,
    errors: FieldErrors,
}

fn invitation_invalid() -> Response {
    super::error_page(
        None,
        AppError::BadRequest {
            code: "invitation_invalid",
            message: "This invitation link is not valid: it was used already, it was revoked, \
                      or it expired. Ask an admin of the organization for a new one."
                .into(),
        },
    )
}

async fn invitation_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Response {
    let invitation = match state.store.invitation_to_accept(&token_hash(&token)).await {
        Ok(Some(invitation)) => invitation,
        Ok(None) => return invitation_invalid(),
        Err(error) => return super::error_page(None, error.into()),
    };
    let (jar, csrf) = session::anonymous_csrf(jar, &state.web);
    let page = InvitationPage {
        title: "Join your team",
        token,
        csrf,
        email: invitation.email,
        org_name: invitation.org_name,
        role: invitation.role,
        expires_at: invitation.expires_at,
        errors: FieldErrors::new(),
    };
    (jar, render(&page)).into_response()
}

#[derive(Deserialize)]
struct AcceptForm {
    password: String,
    confirm: String,
}

async fn accept(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    if !session::anonymous_csrf_matches(
        &jar,
        &state.web,
        form_field(&body, session::CSRF_FIELD).as_deref(),
    ) {
        return super::error_page(None, AppError::Csrf);
    }
    let form: AcceptForm = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return super::error_page(None, error),
    };
    let invitation = match state.store.invitation_to_accept(&token_hash(&token)).await {
        Ok(Some(invitation)) => invitation,
        Ok(None) => return invitation_invalid(),
        Err(error) => return super::error_page(None, error.into()),
    };
    let mut errors = FieldErrors::new();
    errors.check("password", accounts::check_password(&form.password));
    if form.confirm != form.password {
        errors.add(
            "confirm",
            "The two passwords differ; type the same password twice.",
        );
    }
    if !errors.is_empty() {
        let (jar, csrf) = session::anonymous_csrf(jar, &state.web);
        let page = InvitationPage {
            title: "Join your team",
            token,
            csrf,
            email: invitation.email,
            org_name: invitation.org_name,
            role: invitation.role,
            expires_at: invitation.expires_at,
            errors,
        };
        return (jar, render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)).into_response();
    }
    let password = form.password;
    let hash = match accounts::hash_password_blocking(password).await {
        Ok(hash) => hash,
        Err(error) => return super::error_page(None, AppError::Internal(error)),
    };
    match state
        .store
        .accept_invitation(&token_hash(&token), &hash)
        .await
    {
        Ok(Some(user)) => match session::start(&state, jar, &user).await {
            Ok(jar) => {
                let message = format!(
                    "Welcome to {}! You joined as {}.",
                    invitation.org_name, user.role
                );
                redirect_with_flash(&state, jar, "/overview", &message)
            }
            Err(error) => super::error_page(None, error),
        },
        Ok(None) => invitation_invalid(),
        Err(error) => super::error_page(None, error.into()),
    }
}
