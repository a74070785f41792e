//! Sign in, sign out, and the first-run setup link.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::{redirect_with_flash, render, render_with};
use crate::accounts::{self, AccountInput};
use crate::domain::FieldErrors;
use crate::store::{NewUser, token_hash};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{NoFields, OwnForm, form_field, parse_form};
use crate::web::rate_limit::{self, ClientAddress};
use crate::web::session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/setup/{token}", get(setup_page).post(setup))
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    title: &'static str,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
    flash: Option<String>,
    no_users: bool,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a path on this site: never `//host` or an absolute URL (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next.to_owned()
        }
        _ => "/".to_owned(),
    }
}

async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<NextQuery>,
) -> Response {
    if matches!(session::load(&jar, &state).await, Ok(Some(_))) {
        return Redirect::to(&safe_next(query.next.as_deref())).into_response();
    }
    let flash = session::flash(&jar, &state.web);
    let (jar, csrf) = session::anonymous_csrf(jar, &state.web);
    let page = LoginPage {
        title: "Sign in",
        csrf,
        next: safe_next(query.next.as_deref()),
        email: String::new(),
        error: None,
        flash,
        no_users: state.store.user_count().await.is_ok_and(|n| n == 0),
    };
    (jar, render(&page)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    ClientAddress(client): ClientAddress,
    body: Bytes,
) -> Response {
    if !session::anonymous_csrf_matches(
        &jar,
        &state.web,
        form_field(&body, session::CSRF_FIELD).as_deref(),
    ) {
        return super::error_page(None, AppError::Csrf);
    }
    let form: LoginForm = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return super::error_page(None, error),
    };
    let email = form.email.trim().to_lowercase();
    let limiter = &state.web.sign_in_limiter;
    let device = rate_limit::known_device(&jar, &state.web, &email);
    let keys = limiter.keys(client, &email, device.as_deref());
    let limited = match limiter.check(&state.store, &keys).await {
        Ok(limited) => limited.err(),
        Err(error) => return super::error_page(None, error.into()),
    };
    let (jar, csrf) = session::anonymous_csrf(jar, &state.web);
    let retry = |error: String, status: StatusCode| {
        let page = LoginPage {
            title: "Sign in",
            csrf: csrf.clone(),
            next: safe_next(form.next.as_deref()),
            email: form.email.clone(),
            error: Some(error),
            flash: None,
            no_users: false,
        };
        (jar.clone(), render_with(status, &page)).into_response()
    };
    if let Some(wait) = limited {
        return retry(
            format!(
                "Too many failed sign-ins. Wait {} minutes, then try again.",
                wait.as_secs().div_ceil(60)
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    match accounts::authenticate(&state.store, &form.email, &form.password).await {
        Ok(Some(user)) => {
            if let Err(error) = limiter.succeeded(&state.store, &keys).await {
                return super::error_page(None, error.into());
            }
            let jar = rate_limit::remember_device(jar.clone(), &state.web, &email);
            match session::start(&state, jar, &user).await {
                Ok(jar) => (jar, Redirect::to(&safe_next(form.next.as_deref()))).into_response(),
                Err(error) => super::error_page(None, error),
            }
        }
        Ok(None) => {
            if let Err(error) = limiter.record_failure(&state.store, &keys).await {
                return super::error_page(None, error.into());
            }
            retry(
                "That email and password do not match an account. Check both and try again.".into(),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(error) => super::error_page(None, AppError::Internal(error)),
    }
}

async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    _form: OwnForm<NoFields>,
) -> Response {
    match session::end(&state, jar).await {
        Ok(jar) => redirect_with_flash(&state, jar, "/login", "You are signed out."),
        Err(error) => super::error_page(None, error),
    }
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    title: &'static str,
    token: String,
    csrf: String,
    organization: String,
    email: String,
    errors: FieldErrors,
}

fn setup_link_invalid() -> Response {
    super::error_page(
        None,
        AppError::BadRequest {
            code: "setup_link_invalid",
            message: "This setup link is not valid: it was used already, it expired, or an \
                      account exists. Sign in instead, or restart the server with no users to \
                      get a new link."
                .into(),
        },
    )
}

async fn setup_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Response {
    match state.store.setup_token_is_valid(&token_hash(&token)).await {
        Ok(true) => {}
        Ok(false) => return setup_link_invalid(),
        Err(error) => return super::error_page(None, error.into()),
    }
    let (jar, csrf) = session::anonymous_csrf(jar, &state.web);
    let page = SetupPage {
        title: "Set up",
        token,
        csrf,
        organization: String::new(),
        email: String::new(),
        errors: FieldErrors::new(),
    };
    (jar, render(&page)).into_response()
}

#[derive(Deserialize)]
struct SetupForm {
    organization: String,
    email: String,
    password: String,
    confirm: String,
}

async fn setup(
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
    let form: SetupForm = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return super::error_page(None, error),
    };
    let checked = accounts::check_account(&AccountInput {
        org_name: &form.organization,
        email: &form.email,
        password: &form.password,
        confirm: Some(&form.confirm),
    });
    let account = match checked {
        Ok(account) => account,
        Err(errors) => {
            let (jar, csrf) = session::anonymous_csrf(jar, &state.web);
            let page = SetupPage {
                title: "Set up",
                token,
                csrf,
                organization: form.organization,
                email: form.email,
                errors,
            };
            return (jar, render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)).into_response();
        }
    };
    let password = account.password.clone();
    let hash = match accounts::hash_password_blocking(password).await {
        Ok(hash) => hash,
        Err(error) => return super::error_page(None, AppError::Internal(error)),
    };
    let new = NewUser {
        org_name: &account.org_name,
        email: &account.email,
        password_hash: &hash,
        role: crate::domain::Role::Admin,
    };
    match state.store.complete_setup(&token_hash(&token), &new).await {
        Ok(Some((_, user))) => match session::start(&state, jar, &user).await {
            Ok(jar) => redirect_with_flash(
                &state,
                jar,
                "/webhooks",
                "Welcome! Your organization is ready. Create your first webhook.",
            ),
            Err(error) => super::error_page(None, error),
        },
        Ok(None) => setup_link_invalid(),
        Err(error) => super::error_page(None, error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/webhooks?q=a")), "/webhooks?q=a");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
