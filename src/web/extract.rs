//! Extractors: who is calling (an API token, or a signed-in user's session), the request body
//! parsed into our types with our error body, and ids from the path.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::AppError;
use super::session::{self, CSRF_FIELD, CSRF_HEADER};
use crate::domain::ids::PrefixedId;
use crate::domain::{OrgId, Role};
use crate::store::{Actor, FailureNotice, SessionInfo, token_hash};

/// The organization an API request acts for: from `Authorization: Bearer`, or from the session
/// cookie, in which case a state-changing request must also carry `X-CSRF-Token`.
///
/// A viewer's session may only read: any other method is answered 403 here, for every route.
/// An API token acts as an admin (only admins create them).
pub struct ApiCaller {
    pub org: OrgId,
    /// The signed-in user, or an API token.
    pub actor: Actor,
    pub role: Role,
}

impl ApiCaller {
    /// For reads that only admins may make, such as revealing a secret.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(AppError::viewer_only())
        }
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    AppError::Unauthorized(
                        "Send the API token as `Authorization: Bearer <token>`.".into(),
                    )
                })?;
            let org = state
                .store
                .organization_for_api_token(&token_hash(token))
                .await?
                .ok_or_else(|| {
                    AppError::Unauthorized(
                        "This API token is not valid (deleted, or mistyped); create one under \
                         Developer Tools → API Tokens."
                            .into(),
                    )
                })?;
            return Ok(Self {
                org,
                actor: Actor::ApiToken,
                role: Role::Admin,
            });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(session) = session::load(&jar, state).await? else {
            return Err(AppError::Unauthorized(
                "Authenticate with `Authorization: Bearer <API token>` or a signed-in session."
                    .into(),
            ));
        };
        if !is_safe(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !session::csrf_matches(&session, sent) {
                return Err(AppError::Csrf);
            }
            if !session.role.is_admin() {
                return Err(AppError::viewer_only());
            }
        }
        Ok(Self {
            actor: Actor::User {
                id: session.user_id.clone(),
                email: session.email.clone(),
            },
            role: session.role,
            org: session.org_id,
        })
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A signed-in user, for pages. Without a session the browser is sent to sign in.
pub struct SignedIn {
    pub session: SessionInfo,
    /// A one-time message left by the previous request (shown once, then cleared).
    pub flash: Option<String>,
    /// Webhooks disabled automatically, shown on every page until someone acts.
    pub notices: Vec<FailureNotice>,
}

impl SignedIn {
    pub fn org(&self) -> &OrgId {
        &self.session.org_id
    }

    pub fn is_admin(&self) -> bool {
        self.session.role.is_admin()
    }

    /// For pages that only admins may see, such as one revealing a secret.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::viewer_only())
        }
    }
}

pub struct SignInRedirect(String);

impl IntoResponse for SignInRedirect {
    fn into_response(self) -> Response {
        Redirect::to(&self.0).into_response()
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        match session::load(&jar, state).await {
            Ok(Some(session)) => {
                let notices = match state.store.failure_notices(&session.org_id).await {
                    Ok(notices) => notices,
                    Err(error) => return Err(super::pages::error_page(None, error.into())),
                };
                Ok(Self {
                    session,
                    flash: session::flash(&jar, &state.web),
                    notices,
                })
            }
            Ok(None) => {
                let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let target = format!("/login?next={}", urlencode(next));
                Err(SignInRedirect(target).into_response())
            }
            Err(error) => Err(super::pages::error_page(None, error)),
        }
    }
}

/// A signed-in admin, for the pages that only lead to a change (New, Edit, Delete and their
/// confirmations): a viewer is shown the 403 page instead.
pub struct AdminPage(pub SignedIn);

impl FromRequestParts<AppState> for AdminPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = SignedIn::from_request_parts(parts, state).await?;
        match user.require_admin() {
            Ok(()) => Ok(Self(user)),
            Err(error) => Err(super::pages::error_page(Some(&user), error)),
        }
    }
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// An admin's form post whose `_csrf` field matched the session. Every state-changing page
/// form goes through this extractor, except a user's own account forms (`OwnForm`): a viewer
/// is answered 403 here, whatever the route.
pub struct CsrfForm<T> {
    pub user: SignedIn,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let OwnForm { user, form } = OwnForm::from_request(request, state).await?;
        if let Err(error) = user.require_admin() {
            return Err(super::pages::error_page(Some(&user), error));
        }
        Ok(Self { user, form })
    }
}

/// A signed-in user's form post about their own account (signing out, changing their
/// password), open to every role; the `_csrf` field must match the session.
pub struct OwnForm<T> {
    pub user: SignedIn,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for OwnForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let user = SignedIn::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let sent = form_field(&bytes, CSRF_FIELD);
        if !session::csrf_matches(&user.session, sent.as_deref()) {
            return Err(super::pages::error_page(Some(&user), AppError::Csrf));
        }
        let form = parse_form(&bytes).map_err(|e| super::pages::error_page(Some(&user), e))?;
        Ok(Self { user, form })
    }
}

/// A form with nothing to read but its CSRF token (buttons such as Delete or Sign out).
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// One field of an urlencoded body.
pub fn form_field(bytes: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(bytes)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

pub fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    super::nul::check_urlencoded(bytes)?;
    serde_html_form::from_bytes(bytes).map_err(|error| AppError::BadRequest {
        code: "invalid_form",
        message: format!("The form could not be read ({error}); reload the page and try again."),
    })
}

/// A JSON body parsed into `T`, with our error body when it is not JSON (400), not declared as
/// JSON (415), or JSON of the wrong shape (422, naming the field).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AppError> {
        let bytes = json_bytes(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The body of a request that must be JSON: 413 when over the route's limit, 415 when not sent
/// as JSON; no body at all reads as `{}` (actions whose fields are all optional need none).
pub async fn json_bytes(request: Request, state: &AppState) -> Result<Bytes, AppError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(format!(
                    "The body is too large: device messages may be at most {} KiB, other \
                     requests {} KiB.",
                    crate::alarms::ingest::INGEST_BODY_LIMIT / 1024,
                    super::API_BODY_LIMIT / 1024
                ))
            } else {
                AppError::BadRequest {
                    code: "invalid_body",
                    message: format!("The body could not be read: {rejection}."),
                }
            }
        })?;
    if bytes.is_empty() {
        return Ok(Bytes::from_static(b"{}"));
    }
    if !is_json {
        return Err(AppError::UnsupportedMediaType(
            "Send the body as JSON with `Content-Type: application/json`.".into(),
        ));
    }
    Ok(bytes)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    super::nul::check_json(bytes)?;
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return AppError::BadRequest {
                code: "invalid_json",
                message: format!("The body is not valid JSON: {inner}."),
            };
        }
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message);
        let (field, message) = if let Some(field) = backticked(message, "missing field `") {
            (field, "This field is required.".to_owned())
        } else if let Some(field) = backticked(message, "unknown field `") {
            let expected = message.split_once(", expected ").map_or("", |(_, e)| e);
            (field, format!("Unknown field; expected {expected}."))
        } else if path == "." {
            (
                "body".to_owned(),
                format!("The body does not have the expected shape: {message}."),
            )
        } else {
            (path, format!("{}.", capitalise(message)))
        };
        AppError::validation(&field, message)
    })
}

fn backticked(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    Some(rest.split('`').next()?.to_owned())
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// An id from the path. An id that is malformed or of another kind is answered 404, exactly as
/// one that does not exist in the caller's organization.
pub struct PathId<T>(pub T);

impl<T: PrefixedId + Send, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound)?;
        T::parse_id(&text).map(PathId).ok_or(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        url: String,
    }

    fn field_error(json: &str) -> (String, String) {
        match parse_json::<Body>(json.as_bytes()).unwrap_err() {
            AppError::Validation(fields) => {
                let (field, message) = fields.iter().next().unwrap();
                (field.to_owned(), message.to_owned())
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(
            field_error(r#"{"name":"a"}"#),
            ("url".into(), "This field is required.".into())
        );
        let (field, message) = field_error(r#"{"name":5,"url":"x"}"#);
        assert_eq!(field, "name");
        assert!(
            message.starts_with("Invalid type: integer `5`, expected a string"),
            "{message}"
        );
        let (field, message) = field_error(r#"{"name":"a","url":"x","nmae":1}"#);
        assert_eq!(field, "nmae");
        assert!(message.contains("expected `name` or `url`"), "{message}");
        assert!(matches!(
            parse_json::<Body>(b"{nope").unwrap_err(),
            AppError::BadRequest {
                code: "invalid_json",
                ..
            }
        ));
        assert_eq!(field_error("[]").0, "body");
    }
}
