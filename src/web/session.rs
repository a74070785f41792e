//! Sessions, CSRF tokens and flash messages, all carried by cookies.
//!
//! The session cookie holds a random token; the database keeps only its SHA-256. Each session has
//! its own CSRF token, which every state-changing form (`_csrf`) and cookie-authenticated API call
//! (`X-CSRF-Token`) must echo. Forms shown before sign-in (sign in, first-run setup) use a
//! double-submit cookie instead, since there is no session yet.
//!
//! The double-submit and flash cookies are signed (`signed.rs`, a key derived from the master
//! key), so they cannot be forged; the double-submit token expires, and a flash message is bound
//! to the session (or its absence) it was left for, so neither can be replayed elsewhere.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

use super::error::AppResult;
use super::{AppState, WebSettings};
use crate::domain::random;
use crate::domain::time::{Millis, now_ms};
use crate::store::{SessionInfo, User, token_hash};

pub use super::signed::CookieKey;

pub const SESSION_COOKIE: &str = "biotz_session";
pub const ANONYMOUS_CSRF_COOKIE: &str = "biotz_csrf";
pub const FLASH_COOKIE: &str = "biotz_flash";
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const SESSION_LIFETIME_MS: Millis = 7 * 24 * 3600 * 1000;
/// How long a pre-sign-in form's token stays valid, and how much of that a reused one must have.
const ANONYMOUS_CSRF_LIFETIME_MS: Millis = 2 * 3600 * 1000;
const ANONYMOUS_CSRF_REUSE_MS: Millis = 3600 * 1000;

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

/// The unexpired token a signed double-submit cookie carries.
fn anonymous_token(jar: &CookieJar, web: &WebSettings) -> Option<(String, Millis)> {
    let value = jar.get(ANONYMOUS_CSRF_COOKIE)?;
    let payload = web
        .cookie_key
        .verify(ANONYMOUS_CSRF_COOKIE, value.value())?;
    let (token, expires) = payload.split_once('.')?;
    let expires: Millis = expires.parse().ok()?;
    (token.len() >= 32 && expires > now_ms()).then(|| (token.to_owned(), expires))
}

/// The double-submit token for a form shown before sign-in: reuses the cookie's while it has an
/// hour left, or makes one, and returns the jar that (re)sets the signed cookie.
pub fn anonymous_csrf(jar: CookieJar, web: &WebSettings) -> (CookieJar, String) {
    let token = match anonymous_token(&jar, web) {
        Some((token, expires)) if expires - now_ms() > ANONYMOUS_CSRF_REUSE_MS => token,
        _ => random::token(),
    };
    let payload = format!("{token}.{}", now_ms() + ANONYMOUS_CSRF_LIFETIME_MS);
    let value = web.cookie_key.sign(ANONYMOUS_CSRF_COOKIE, &payload);
    let jar = jar.add(cookie(ANONYMOUS_CSRF_COOKIE, value, web.secure_cookies));
    (jar, token)
}

/// Whether a pre-sign-in form's `_csrf` field matches its signed, unexpired cookie.
pub fn anonymous_csrf_matches(jar: &CookieJar, web: &WebSettings, sent: Option<&str>) -> bool {
    match (anonymous_token(jar, web), sent) {
        (Some((token, _)), Some(sent)) => bool::from(token.as_bytes().ct_eq(sent.as_bytes())),
        _ => false,
    }
}

/// What a flash message is bound to: the session cookie the jar holds (or will set), or none.
fn flash_binding(jar: &CookieJar) -> String {
    jar.get(SESSION_COOKIE).map_or_else(
        || "-".to_owned(),
        |session| token_hash(&format!("flash:{}", session.value()))[..16].to_owned(),
    )
}

/// Leaves a message for the next page the user sees, in this session only.
pub fn with_flash(jar: CookieJar, message: &str, web: &WebSettings) -> CookieJar {
    let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    let payload = format!("{}.{encoded}", flash_binding(&jar));
    let value = web.cookie_key.sign(FLASH_COOKIE, &payload);
    jar.add(cookie(FLASH_COOKIE, value, web.secure_cookies))
}

/// The message left for this page, if its cookie is signed and meant for this session.
pub fn flash(jar: &CookieJar, web: &WebSettings) -> Option<String> {
    let cookie = jar.get(FLASH_COOKIE)?;
    let payload = web.cookie_key.verify(FLASH_COOKIE, cookie.value())?;
    let (binding, value) = payload.split_once('.')?;
    if binding != flash_binding(jar) {
        return None;
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum_extra::extract::CookieJar;
    use axum_extra::extract::cookie::Cookie;

    use super::*;
    use crate::crypto::MasterKey;
    use crate::web::SignInLimiter;

    fn settings() -> WebSettings {
        WebSettings {
            secure_cookies: false,
            public_url: "http://127.0.0.1".into(),
            sign_in_limiter: SignInLimiter::new(10, Duration::from_secs(60), Vec::new()),
            cookie_key: CookieKey::derive(&MasterKey::generate()),
            default_retain: Duration::from_secs(30 * 86_400),
            export_dir: false,
        }
    }

    fn jar_with(name: &'static str, value: String) -> CookieJar {
        CookieJar::new().add(Cookie::new(name, value))
    }

    #[test]
    fn an_expired_double_submit_token_is_refused() {
        let web = settings();
        let token = "t".repeat(43);
        let signed = |expires: Millis| {
            let value = web
                .cookie_key
                .sign(ANONYMOUS_CSRF_COOKIE, &format!("{token}.{expires}"));
            jar_with(ANONYMOUS_CSRF_COOKIE, value)
        };
        assert!(anonymous_csrf_matches(
            &signed(now_ms() + 60_000),
            &web,
            Some(&token)
        ));
        assert!(!anonymous_csrf_matches(
            &signed(now_ms() - 1),
            &web,
            Some(&token)
        ));
        let (renewed, fresh) = anonymous_csrf(signed(now_ms() + 60_000), &web);
        assert_ne!(fresh, token, "a token about to expire is replaced");
        assert!(anonymous_csrf_matches(&renewed, &web, Some(&fresh)));
    }

    #[test]
    fn a_flash_is_bound_to_its_session() {
        let web = settings();
        let signed_in = jar_with(SESSION_COOKIE, "session-a".into());
        let left = with_flash(signed_in, "Saved.", &web);
        assert_eq!(flash(&left, &web).as_deref(), Some("Saved."));
        let value = left.get(FLASH_COOKIE).unwrap().value().to_owned();
        let elsewhere =
            jar_with(SESSION_COOKIE, "session-b".into()).add(Cookie::new(FLASH_COOKIE, value));
        assert_eq!(flash(&elsewhere, &web), None);
    }
}
