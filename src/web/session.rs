//! Sessions, CSRF tokens and flash messages, all carried by cookies.
//!
//! The session cookie holds a random token; the database keeps only its SHA-256. Each session has
//! its own CSRF token, which every state-changing form (`_csrf`) and cookie-authenticated API call
//! (`X-CSRF-Token`) must echo. Forms shown before sign-in (sign in, first-run setup) use a
//! double-submit cookie instead, since there is no session yet.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::AppResult;
use crate::domain::random;
use crate::domain::time::{Millis, now_ms};
use crate::store::{SessionInfo, User, token_hash};

pub const SESSION_COOKIE: &str = "biotz_session";
pub const ANONYMOUS_CSRF_COOKIE: &str = "biotz_csrf";
pub const FLASH_COOKIE: &str = "biotz_flash";
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const SESSION_LIFETIME_MS: Millis = 7 * 24 * 3600 * 1000;

fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// The session named by the request's cookie, if it is valid and unexpired.
pub async fn load(jar: &CookieJar, state: &AppState) -> AppResult<Option<SessionInfo>> {
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state.store.session(&token_hash(cookie.value())).await?)
}

/// Starts a session for `user` and returns the jar that sets its cookie.
pub async fn start(state: &AppState, jar: CookieJar, user: &User) -> AppResult<CookieJar> {
    let token = random::token();
    let csrf = random::token();
    state
        .store
        .create_session(
            &token_hash(&token),
            user,
            &csrf,
            now_ms() + SESSION_LIFETIME_MS,
        )
        .await?;
    let mut session = cookie(SESSION_COOKIE, token, state.web.secure_cookies);
    session.set_max_age(time::Duration::milliseconds(SESSION_LIFETIME_MS));
    Ok(jar
        .add(session)
        .remove(Cookie::build(ANONYMOUS_CSRF_COOKIE).path("/")))
}

/// Ends the request's session, here and in the database.
pub async fn end(state: &AppState, jar: CookieJar) -> AppResult<CookieJar> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        state
            .store
            .delete_session(&token_hash(cookie.value()))
            .await?;
    }
    Ok(jar.remove(Cookie::build(SESSION_COOKIE).path("/")))
}

pub fn csrf_matches(session: &SessionInfo, sent: Option<&str>) -> bool {
    sent.is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(session.csrf_token.as_bytes())))
}

/// The double-submit token for a form shown before sign-in: reuses the cookie's value or makes
/// one, and returns the jar that (re)sets the cookie.
pub fn anonymous_csrf(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    let token = jar
        .get(ANONYMOUS_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32)
        .unwrap_or_else(random::token);
    let jar = jar.add(cookie(ANONYMOUS_CSRF_COOKIE, token.clone(), secure));
    (jar, token)
}

/// Whether a pre-sign-in form's `_csrf` field matches its cookie.
pub fn anonymous_csrf_matches(jar: &CookieJar, sent: Option<&str>) -> bool {
    match (jar.get(ANONYMOUS_CSRF_COOKIE), sent) {
        (Some(cookie), Some(sent)) if cookie.value().len() >= 32 => {
            bool::from(cookie.value().as_bytes().ct_eq(sent.as_bytes()))
        }
        _ => false,
    }
}

/// Leaves a message for the next page the user sees.
pub fn with_flash(jar: CookieJar, message: &str, secure: bool) -> CookieJar {
    let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    jar.add(cookie(FLASH_COOKIE, encoded, secure))
}

/// The message left for this page, if any.
pub fn flash(jar: &CookieJar) -> Option<String> {
    let value = jar.get(FLASH_COOKIE)?.value().to_owned();
    let decoded: String = url::form_urlencoded::parse(format!("m={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    (!decoded.is_empty()).then_some(decoded)
}

/// The `Set-Cookie` value that removes the flash once a page has shown it.
pub fn clear_flash_header() -> String {
    Cookie::build(FLASH_COOKIE)
        .path("/")
        .max_age(time::Duration::ZERO)
        .build()
        .to_string()
}
