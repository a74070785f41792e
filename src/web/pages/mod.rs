//! The web UI: server-rendered pages (askama) that work without JavaScript.
//! Each page module holds its handlers and the template structs they render.

mod alarm;
mod alarm_filters;
mod alarms;
mod auth;
mod deliveries;
mod device_types;
mod devices;
mod events_log;
mod overview;
mod settings;
mod sparkline;
mod team;
pub(crate) mod tokens;
mod triggers;
mod webhook_confirm;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::AppState;
use super::error::AppError;
use super::extract::SignedIn;
use super::session;
use crate::domain::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(overview::router())
        .merge(auth::router())
        .merge(webhooks::router())
        .merge(tokens::router())
        .merge(deliveries::router())
        .merge(device_types::router())
        .merge(devices::router())
        .merge(triggers::router())
        .merge(alarms::router())
        .merge(settings::router())
        .merge(alarm::router())
        .merge(events_log::router())
        .merge(team::router())
}

pub fn asset(name: &str) -> String {
    super::assets::url(name)
}

pub struct NavItem {
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
}

const fn item(key: &'static str, label: &'static str, href: &'static str) -> NavItem {
    NavItem { key, label, href }
}

/// The sidebar: the guide's sections and their pages.
const SECTIONS: &[(&str, &[NavItem])] = &[
    ("Now", &[item("overview", "Overview", "/overview")]),
    (
        "Setup",
        &[
            item("device-types", "Device Types", "/device-types"),
            item("devices", "Devices", "/devices"),
            item("alarm-triggers", "Alarm Triggers", "/alarm-triggers"),
        ],
    ),
    (
        "Developer Tools",
        &[
            item("webhooks", "Webhooks", "/webhooks"),
            item("tokens", "API Tokens", "/tokens"),
        ],
    ),
    (
        "Activity",
        &[
            item("alarms", "Alarms", "/alarms"),
            item("events", "Events", "/events"),
            item("deliveries", "Deliveries", "/deliveries"),
        ],
    ),
    (
        "Organization",
        &[
            item("settings", "Settings", "/settings"),
            item("users", "Users", "/settings/users"),
        ],
    ),
    (
        "Account",
        &[item("password", "Change password", "/account/password")],
    ),
];

/// What the shared layout (`base.html`) needs on every signed-in page.
pub struct Layout {
    pub title: String,
    pub nav: &'static str,
    pub email: String,
    pub org: String,
    pub csrf: String,
    pub flash: Option<String>,
    /// The user's role: viewers are shown no buttons that change anything.
    pub role: Role,
    /// Webhooks disabled automatically that nobody acted on yet.
    pub notices: Vec<Notice>,
}

/// A webhook disabled automatically, as the banner on every page says it.
pub struct Notice {
    pub id: String,
    pub name: String,
    pub reason: String,
    /// "3 minutes ago".
    pub when: String,
}

impl Layout {
    pub fn new(user: &SignedIn, title: impl Into<String>, nav: &'static str) -> Self {
        Self {
            title: title.into(),
            nav,
            email: user.session.email.clone(),
            org: user.session.org_name.clone(),
            csrf: user.session.csrf_token.clone(),
            flash: user.flash.clone(),
            role: user.session.role,
            notices: user
                .notices
                .iter()
                .map(|notice| Notice {
                    id: notice.id.to_string(),
                    name: notice.name.clone(),
                    reason: notice.disabled_reason.clone().unwrap_or_default(),
                    when: notice
                        .disabled_at
                        .map(|at| filters::relative(crate::domain::time::now_ms() - at))
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Whether the page shows the forms and buttons that change things.
    pub fn admin(&self) -> bool {
        self.role.is_admin()
    }

    pub fn sections(&self) -> &'static [(&'static str, &'static [NavItem])] {
        SECTIONS
    }

    pub fn asset(&self, name: &str) -> String {
        asset(name)
    }
}

/// The links under a paged list (`pager.html`): back to the newest page when on a later one,
/// and on to older entries when there are more.
pub struct Pager {
    pub newest: Option<String>,
    pub older: Option<String>,
    pub noun: &'static str,
}

impl Pager {
    /// `base` is the list's address with its filters but no cursor, such as `/devices` or
    /// `/deliveries?status=failed`.
    pub fn new(base: &str, noun: &'static str, cursor: Option<&str>, next: Option<&str>) -> Self {
        let join = if base.contains('?') { '&' } else { '?' };
        Self {
            newest: cursor.is_some().then(|| base.to_owned()),
            older: next
                .map(|next| format!("{base}{join}cursor={}", super::extract::urlencode(next))),
            noun,
        }
    }
}

/// Renders a template, or a plain 500 if rendering itself fails.
pub fn render(template: &impl Template) -> Response {
    render_with(StatusCode::OK, template)
}

pub fn render_with(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response()
        }
    }
}

/// Redirects with a message for the next page.
pub fn redirect_with_flash(state: &AppState, jar: CookieJar, to: &str, message: &str) -> Response {
    (
        session::with_flash(jar, message, &state.web),
        Redirect::to(to),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

#[derive(Template)]
#[template(path = "error_solo.html")]
struct ErrorSolo {
    title: String,
    heading: String,
    message: String,
}

/// An error as a page: inside the layout for a signed-in user, on its own otherwise.
pub fn error_page(user: Option<&SignedIn>, error: AppError) -> Response {
    error.log();
    let status = error.status();
    let heading = match status {
        StatusCode::NOT_FOUND => "Page not found".to_owned(),
        StatusCode::FORBIDDEN => "Request refused".to_owned(),
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong".to_owned(),
        other => other.canonical_reason().unwrap_or("Error").to_owned(),
    };
    let mut message = error.message();
    if let AppError::Validation(fields) = &error {
        message = fields.to_string();
    }
    match user {
        Some(user) => render_with(
            status,
            &ErrorPage {
                layout: Layout::new(user, heading.clone(), ""),
                heading,
                message,
            },
        ),
        None => render_with(
            status,
            &ErrorSolo {
                title: heading.clone(),
                heading,
                message,
            },
        ),
    }
}

/// Any path that matches no route: JSON for the API, a page for the rest.
pub async fn not_found(State(state): State<AppState>, jar: CookieJar, uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return AppError::NotFound.into_response();
    }
    let user = match session::load(&jar, &state).await {
        Ok(Some(session)) => Some(SignedIn {
            session,
            flash: None,
            notices: Vec::new(),
        }),
        _ => None,
    };
    error_page(user.as_ref(), AppError::NotFound)
}

/// Renders a page-level result: the page, or the error as a page.
pub fn page(user: &SignedIn, result: Result<Response, AppError>) -> Response {
    result.unwrap_or_else(|error| error_page(Some(user), error))
}

/// Template filters.
pub mod filters {
    use askama::filters::Safe;

    use crate::domain::time::{Millis, now_ms, rfc3339};

    /// `<time>` with the exact UTC time on hover and a relative time as text.
    #[askama::filter_fn]
    pub fn when(ms: &Millis, _: &dyn askama::Values) -> askama::Result<Safe<String>> {
        let exact = rfc3339(*ms);
        Ok(Safe(format!(
            r#"<time datetime="{exact}" title="{}">{}</time>"#,
            readable(&exact),
            relative(now_ms() - *ms)
        )))
    }

    /// A URL that may wrap only after its separators (`/`, `.`, `?`, `&`, `=`), never inside a
    /// word: escaped, with `<wbr>` after each separator.
    #[askama::filter_fn]
    pub fn breakable_url(url: &str, _: &dyn askama::Values) -> askama::Result<Safe<String>> {
        let mut html = String::with_capacity(url.len() * 2);
        for c in url.chars() {
            match c {
                '&' => html.push_str("&amp;"),
                '<' => html.push_str("&lt;"),
                '>' => html.push_str("&gt;"),
                '"' => html.push_str("&quot;"),
                '\'' => html.push_str("&#39;"),
                other => html.push(other),
            }
            if matches!(c, '/' | '.' | '?' | '&' | '=') {
                html.push_str("<wbr>");
            }
        }
        Ok(Safe(html))
    }

    /// `2026-11-27T17:20:56.123Z` as people read it: `2026-11-27 17:20:56 UTC`.
    pub fn readable(rfc3339: &str) -> String {
        match rfc3339.get(..19) {
            Some(seconds) => format!("{} UTC", seconds.replacen('T', " ", 1)),
            None => rfc3339.to_owned(),
        }
    }

    /// "3 minutes ago", "in 2 hours", "just now".
    pub fn relative(age_ms: Millis) -> String {
        let future = age_ms < 0;
        let secs = age_ms.unsigned_abs() / 1000;
        let (n, unit) = match secs {
            0..=9 => return "just now".into(),
            10..=59 => (secs, "second"),
            60..=3599 => (secs / 60, "minute"),
            3600..=86_399 => (secs / 3600, "hour"),
            _ => (secs / 86_400, "day"),
        };
        let plural = if n == 1 { "" } else { "s" };
        if future {
            format!("in {n} {unit}{plural}")
        } else {
            format!("{n} {unit}{plural} ago")
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{readable, relative};

        #[test]
        fn exact_times_read_as_utc_to_the_second() {
            assert_eq!(
                readable("2026-11-27T17:20:56.123Z"),
                "2026-11-27 17:20:56 UTC"
            );
        }

        #[test]
        fn relative_times_read_naturally() {
            assert_eq!(relative(3_000), "just now");
            assert_eq!(relative(61_000), "1 minute ago");
            assert_eq!(relative(7_200_000), "2 hours ago");
            assert_eq!(relative(-86_400_000 * 3), "in 3 days");
        }
    }
}
