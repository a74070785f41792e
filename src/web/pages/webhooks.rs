//! Developer Tools → Webhooks: list and search, New Webhook, the webhook's page with its secret,
//! edit, enable/disable, regenerate the secret, delete.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::filters;
use super::sparkline::{self, Sparkline};
use super::webhook_confirm as confirm;
use super::{Layout, Pager, page, redirect_with_flash, render, render_with};
use crate::domain::alarm::Severity;
use crate::domain::custom_header::{CustomHeader, HeaderInput, MAX_HEADERS, check_headers};
use crate::domain::event_filter::{EventFilter, FILTERABLE};
use crate::domain::time::{Millis, now_ms, parse_instant, rfc3339};
use crate::domain::webhook::{self, CallbackUrl, Signing, WebhookName};
use crate::domain::{FieldErrors, WebhookId};
use crate::store::ui_stats;
use crate::store::{
    Delivery, DeliveryFilter, Page, StoreError, Webhook, WebhookChanges, WebhookOptions,
};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{AdminPage, CsrfForm, NoFields, PathId, SignedIn, urlencode};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/new", get(new))
        .route("/webhooks/{id}", get(show))
        .route("/webhooks/{id}/edit", get(edit).post(update))
        .route("/webhooks/{id}/enable", post(enable))
        .route(
            "/webhooks/{id}/disable",
            get(confirm::disable).post(disable),
        )
        .route(
            "/webhooks/{id}/secret/regenerate",
            post(confirm::regenerate),
        )
        .route("/webhooks/{id}/delete", get(confirm_delete).post(delete))
        .route("/webhooks/{id}/test", post(send_test))
        .route("/webhooks/{id}/dismiss", post(dismiss))
        .route("/webhooks/{id}/replay", post(replay))
}

async fn send_test(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<WebhookId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        match state.store.create_test_event(user.org(), &id).await {
            Ok((_, delivery)) => Ok(redirect_with_flash(
                &state,
                jar,
                &format!("/deliveries/{delivery}"),
                "Test event queued: it is sent within moments.",
            )),
            Err(StoreError::Conflict { message, .. }) => Ok(redirect_with_flash(
                &state,
                jar,
                &format!("/webhooks/{id}"),
                &message,
            )),
            Err(error) => Err(error.into()),
        }
    }
    .await;
    page(&user, result)
}

#[derive(Deserialize)]
struct ReplayForm {
    since: String,
}

/// `2026-11-27T10:30` (a datetime-local field, read as UTC) or RFC 3339.
pub(super) fn parse_form_instant(text: &str) -> Option<Millis> {
    let text = text.trim();
    parse_instant(text)
        .or_else(|| parse_instant(&format!("{text}:00Z")))
        .or_else(|| parse_instant(&format!("{text}Z")))
}

async fn replay(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<WebhookId>, AppError>,
    CsrfForm { user, form }: CsrfForm<ReplayForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        state.store.webhook(user.org(), &id).await?;
        let Some(since) = parse_form_instant(&form.since) else {
            return Err(AppError::validation(
                "since",
                "Choose the date and time to replay from.",
            ));
        };
        let message = match state.store.replay(user.org(), &id, since).await {
            Ok(0) => "Nothing to replay: no failed or skipped delivery since then.".to_owned(),
            Ok(1) => "1 delivery queued again.".to_owned(),
            Ok(n) => format!("{n} deliveries queued again."),
            Err(StoreError::Conflict { message, .. }) => message,
            Err(error) => return Err(error.into()),
        };
        Ok(redirect_with_flash(
            &state,
            jar,
            &format!("/webhooks/{id}"),
            &message,
        ))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "webhooks/list.html")]
struct ListPage {
    layout: Layout,
    query: String,
    rows: Vec<ListRow>,
    pager: Pager,
}

struct ListRow {
    webhook: Webhook,
    sparkline: Sparkline,
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    let result = async {
        let page_of = Page::parse(None, query.cursor.as_deref())
            .map_err(|(field, message)| AppError::validation(field, message))?;
        let search = query.q.unwrap_or_default();
        let webhooks = state
            .store
            .list_webhooks(user.org(), Some(&search), &page_of)
            .await?;
        let now = now_ms();
        let ids: Vec<WebhookId> = webhooks.data.iter().map(|w| w.id.clone()).collect();
        let outcomes = state
            .store
            .daily_delivery_outcomes(user.org(), &ids, sparkline::DAYS, now)
            .await?;
        let first_day = ui_stats::first_day(now, sparkline::DAYS);
        let rows = webhooks
            .data
            .into_iter()
            .zip(outcomes)
            .map(|(webhook, days)| ListRow {
                webhook,
                sparkline: Sparkline::new(first_day, days),
            })
            .collect();
        Ok(render(&ListPage {
            layout: Layout::new(&user, "Webhooks", "webhooks"),
            pager: Pager::new(
                &format!("/webhooks?q={}", urlencode(&search)),
                "webhooks",
                query.cursor.as_deref(),
                webhooks.next_cursor.as_deref(),
            ),
            query: search,
            rows,
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "webhooks/form.html")]
struct FormPage {
    layout: Layout,
    heading: &'static str,
    action: String,
    cancel: String,
    values: WebhookForm,
    rows: Vec<HeaderRow>,
    errors: FieldErrors,
}

/// One custom header's row in the form.
struct HeaderRow {
    name: String,
    value: String,
    /// A value is saved under this name: left empty, it is kept.
    saved: bool,
    name_error: Option<String>,
    value_error: Option<String>,
}

/// Blank rows offered under the headers, to add more.
const BLANK_HEADER_ROWS: usize = 2;

impl FormPage {
    fn new_webhook(user: &SignedIn, values: WebhookForm, errors: FieldErrors) -> Self {
        Self {
            layout: Layout::new(user, "New Webhook", "webhooks"),
            heading: "New Webhook",
            action: "/webhooks".into(),
            cancel: "/webhooks".into(),
            rows: header_rows(&values, &[], &errors),
            values,
            errors,
        }
    }

    fn edit(
        user: &SignedIn,
        id: &WebhookId,
        values: WebhookForm,
        saved: &[String],
        errors: FieldErrors,
    ) -> Self {
        Self {
            layout: Layout::new(user, "Edit webhook", "webhooks"),
            heading: "Edit webhook",
            action: format!("/webhooks/{id}/edit"),
            cancel: format!("/webhooks/{id}"),
            rows: header_rows(&values, saved, &errors),
            values,
            errors,
        }
    }

    fn schemes(&self) -> [Signing; 2] {
        Signing::ALL
    }

    fn filterable(&self) -> [&'static str; 3] {
        FILTERABLE
    }

    fn severities(&self) -> [Severity; 3] {
        Severity::ALL
    }
}

/// The rows as typed (or as saved), each with its errors, then blank rows to add more.
fn header_rows(form: &WebhookForm, saved: &[String], errors: &FieldErrors) -> Vec<HeaderRow> {
    let empty = String::new();
    let mut rows: Vec<HeaderRow> = form
        .header_name
        .iter()
        .enumerate()
        .map(|(i, name)| HeaderRow {
            name: name.clone(),
            value: form.header_value.get(i).unwrap_or(&empty).clone(),
            saved: saved.iter().any(|s| s.eq_ignore_ascii_case(name.trim())),
            name_error: errors.get(&format!("header_name.{i}")).map(str::to_owned),
            value_error: errors.get(&format!("header_value.{i}")).map(str::to_owned),
        })
        .filter(|row| {
            !row.name.trim().is_empty() || !row.value.trim().is_empty() || row.value_error.is_some()
        })
        .collect();
    let blank = BLANK_HEADER_ROWS.min(MAX_HEADERS.saturating_sub(rows.len()));
    rows.extend((0..blank).map(|_| HeaderRow {
        name: String::new(),
        value: String::new(),
        saved: false,
        name_error: None,
        value_error: None,
    }));
    rows
}

async fn new(AdminPage(user): AdminPage) -> Response {
    let values = WebhookForm {
        name: String::new(),
        url: String::new(),
        signing: Signing::Biotz.as_str().to_owned(),
        headers_shown: None,
        header_name: Vec::new(),
        header_value: Vec::new(),
        filters_shown: None,
        event_types: Vec::new(),
        min_severity: String::new(),
    };
    render(&FormPage::new_webhook(&user, values, FieldErrors::new()))
}

/// The form's fields, checked; the headers and the filter are `None` when the post did not
/// show them.
struct Checked {
    name: WebhookName,
    url: CallbackUrl,
    signing: Signing,
    headers: Option<Vec<CustomHeader>>,
    filter: Option<EventFilter>,
}

/// The webhook form, as posted or as shown again.
#[derive(Clone, Deserialize)]
struct WebhookForm {
    name: String,
    url: String,
    /// Empty when a post leaves it out: the default for a new webhook, unchanged on edit.
    #[serde(default)]
    signing: String,
    /// Set by the form that shows the header rows: a post without it leaves the headers alone.
    headers_shown: Option<String>,
    /// The custom headers' rows, in order; a row left blank is unused, and a saved header's
    /// row with no value keeps its value.
    #[serde(default)]
    header_name: Vec<String>,
    #[serde(default)]
    header_value: Vec<String>,
    /// Set by the form that shows the filters: a post without it leaves them alone.
    filters_shown: Option<String>,
    /// The event types ticked; none ticked is every type.
    #[serde(default)]
    event_types: Vec<String>,
    #[serde(default)]
    min_severity: String,
}

impl WebhookForm {
    /// The checked fields, or every field's error at once.
    fn check(&self, saved: &[CustomHeader]) -> Result<Checked, FieldErrors> {
        let signing = Some(self.signing.as_str()).filter(|s| !s.is_empty());
        let fields = webhook::check_fields(&self.name, &self.url, signing);
        let headers = self
            .headers_shown
            .as_ref()
            .map(|_| self.check_headers(saved));
        let filter = self
            .filters_shown
            .as_ref()
            .map(|_| EventFilter::parse(&self.event_types, Some(&self.min_severity)));
        match (fields, headers.transpose(), filter.transpose()) {
            (Ok((name, url, signing)), Ok(headers), Ok(filter)) => Ok(Checked {
                name,
                url,
                signing,
                headers,
                filter,
            }),
            (fields, headers, filter) => {
                let mut errors = fields.err().unwrap_or_default();
                errors.extend(headers.err().unwrap_or_default());
                errors.extend(filter.err().unwrap_or_default());
                Err(errors)
            }
        }
    }

    fn ticked(&self, event_type: &str) -> bool {
        self.event_types.iter().any(|t| t == event_type)
    }

    /// The rows in use as the API's inputs, with their errors named after their rows.
    fn check_headers(&self, saved: &[CustomHeader]) -> Result<Vec<CustomHeader>, FieldErrors> {
        let empty = String::new();
        let rows: Vec<(usize, HeaderInput)> = self
            .header_name
            .iter()
            .enumerate()
            .map(|(i, name)| (i, name, self.header_value.get(i).unwrap_or(&empty)))
            .filter(|(_, name, value)| !name.trim().is_empty() || !value.trim().is_empty())
            .map(|(i, name, value)| {
                let value = Some(value.clone()).filter(|v| !v.trim().is_empty());
                (
                    i,
                    HeaderInput {
                        name: name.clone(),
                        value,
                    },
                )
            })
            .collect();
        let inputs: Vec<HeaderInput> = rows.iter().map(|(_, input)| input.clone()).collect();
        check_headers(&inputs, saved).map_err(|errors| {
            let mut by_row = FieldErrors::new();
            for (field, message) in errors.iter() {
                let (index, part) = field
                    .strip_prefix("headers[")
                    .and_then(|rest| rest.split_once("]."))
                    .and_then(|(i, part)| Some((i.parse::<usize>().ok()?, part)))
                    .unwrap_or((usize::MAX, ""));
                match rows.get(index) {
                    Some((row, _)) => by_row.add(&format!("header_{part}.{row}"), message),
                    None => by_row.add("headers", message),
                }
            }
            by_row
        })
    }
}

async fn create(
    State(state): State<AppState>,
    CsrfForm { user, form }: CsrfForm<WebhookForm>,
) -> Response {
    let invalid = |errors: FieldErrors| {
        render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FormPage::new_webhook(&user, form.clone(), errors),
        )
    };
    let checked = match form.check(&[]) {
        Ok(checked) => checked,
        Err(errors) => return invalid(errors),
    };
    let options = WebhookOptions {
        signing: checked.signing,
        headers: checked.headers.unwrap_or_default(),
        filter: checked.filter.unwrap_or_default(),
    };
    let created = state
        .store
        .create_webhook_with(user.org(), &checked.name, &checked.url, &options)
        .await;
    match created {
        Ok((webhook, _)) => {
            Redirect::to(&format!("/webhooks/{}?created=1", webhook.id)).into_response()
        }
        Err(error) => match AppError::from(error) {
            conflict @ AppError::Conflict { .. } => invalid(conflict.fields()),
            other => super::error_page(Some(&user), other),
        },
    }
}

#[derive(Template)]
#[template(path = "webhooks/show.html")]
struct ShowPage {
    layout: Layout,
    webhook: Webhook,
    recent: Vec<Delivery>,
    skipped: i64,
    skipped_since: String,
    replay_since: String,
    created: bool,
    reveal: bool,
    current_secret: String,
    previous: Vec<Millis>,
    sparkline: Sparkline,
}

#[derive(Deserialize)]
struct ShowQuery {
    created: Option<String>,
    reveal: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<WebhookId>, AppError>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let webhook = state.store.webhook(user.org(), &id).await?;
        let created = query.created.is_some();
        let reveal = created || query.reveal.is_some();
        if reveal {
            user.require_admin()?;
        }
        let secrets = state.store.webhook_secrets(user.org(), &id).await?;
        let filter = DeliveryFilter {
            webhook: Some(id.clone()),
            ..DeliveryFilter::default()
        };
        let recent = state
            .store
            .list_deliveries(user.org(), &filter, &Page::first(10))
            .await?
            .data;
        let (skipped, oldest_skipped) = state.store.skipped_count(user.org(), &id).await?;
        let now = now_ms();
        let days = state
            .store
            .daily_delivery_outcomes(user.org(), std::slice::from_ref(&id), sparkline::DAYS, now)
            .await?
            .pop()
            .unwrap_or_default();
        let sparkline = Sparkline::new(ui_stats::first_day(now, sparkline::DAYS), days);
        let current_secret = secrets
            .iter()
            .find(|s| reveal && s.expires_at.is_none())
            .map(|s| s.secret.expose().to_owned())
            .unwrap_or_default();
        Ok(render(&ShowPage {
            layout: Layout::new(&user, webhook.name.clone(), "webhooks"),
            created,
            reveal,
            current_secret,
            previous: secrets.iter().filter_map(|s| s.expires_at).collect(),
            sparkline,
            recent,
            skipped,
            skipped_since: oldest_skipped.map(rfc3339).unwrap_or_default(),
            replay_since: rfc3339(now_ms() - 86_400_000)[..16].to_owned(),
            webhook,
        }))
    }
    .await;
    page(&user, result)
}

async fn edit(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<WebhookId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let webhook = state.store.webhook(user.org(), &id).await?;
        let saved = webhook.header_names.0;
        let values = WebhookForm {
            name: webhook.name,
            url: webhook.url,
            signing: webhook.signing.as_str().to_owned(),
            headers_shown: None,
            header_value: vec![String::new(); saved.len()],
            header_name: saved.clone(),
            filters_shown: None,
            event_types: webhook.event_types.0,
            min_severity: webhook.min_severity.unwrap_or_default(),
        };
        Ok(render(&FormPage::edit(
            &user,
            &id,
            values,
            &saved,
            FieldErrors::new(),
        )))
    }
    .await;
    page(&user, result)
}

async fn update(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<WebhookId>, AppError>,
    CsrfForm { user, form }: CsrfForm<WebhookForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let saved = state.store.webhook_headers(user.org(), &id).await?;
        let saved_names: Vec<String> = saved.iter().map(|h| h.name.clone()).collect();
        let invalid = |errors: FieldErrors| {
            render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &FormPage::edit(&user, &id, form.clone(), &saved_names, errors),
            )
        };
        let checked = match form.check(&saved) {
            Ok(checked) => checked,
            Err(errors) => return Ok(invalid(errors)),
        };
        let changes = WebhookChanges {
            name: Some(checked.name),
            url: Some(checked.url),
            enabled: None,
            signing: (!form.signing.is_empty()).then_some(checked.signing),
            headers: checked.headers,
            filter: checked.filter,
        };
        match state.store.update_webhook(user.org(), &id, &changes).await {
            Ok(_) => Ok(redirect_with_flash(
                &state,
                jar,
                &format!("/webhooks/{id}"),
                "Webhook saved.",
            )),
            Err(error) => match AppError::from(error) {
                conflict @ AppError::Conflict { .. } => Ok(invalid(conflict.fields())),
                other => Err(other),
            },
        }
    }
    .await;
    page(&user, result)
}

async fn set_enabled(
    state: AppState,
    jar: CookieJar,
    user: SignedIn,
    id: Result<PathId<WebhookId>, AppError>,
    enabled: bool,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let changes = WebhookChanges {
            enabled: Some(enabled),
            ..WebhookChanges::default()
        };
        state
            .store
            .update_webhook(user.org(), &id, &changes)
            .await?;
        let message = if enabled {
            "Webhook enabled."
        } else {
            "Webhook disabled: new events will be kept as skipped deliveries."
        };
        Ok(redirect_with_flash(
            &state,
            jar,
            &format!("/webhooks/{id}"),
            message,
        ))
    }
    .await;
    page(&user, result)
}

async fn enable(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<WebhookId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    set_enabled(state, jar, user, id, true).await
}

async fn disable(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<WebhookId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    set_enabled(state, jar, user, id, false).await
}

#[derive(Template)]
#[template(path = "webhooks/delete.html")]
struct DeletePage {
    layout: Layout,
    webhook: Webhook,
}

async fn confirm_delete(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<WebhookId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let webhook = state.store.webhook(user.org(), &id).await?;
        Ok(render(&DeletePage {
            layout: Layout::new(&user, "Delete webhook", "webhooks"),
            webhook,
        }))
    }
    .await;
    page(&user, result)
}

async fn delete(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<WebhookId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let webhook = state.store.webhook(user.org(), &id).await?;
        state.store.delete_webhook(user.org(), &id).await?;
        Ok(redirect_with_flash(
            &state,
            jar,
            "/webhooks",
            &format!("Webhook “{}” deleted.", webhook.name),
        ))
    }
    .await;
    page(&user, result)
}

/// Hides the notice of a webhook disabled automatically, until it is disabled again.
async fn dismiss(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<WebhookId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        state.store.dismiss_notice(user.org(), &id).await?;
        Ok(redirect_with_flash(
            &state,
            jar,
            &format!("/webhooks/{id}"),
            "Notice dismissed. The webhook stays disabled until you enable it.",
        ))
    }
    .await;
    page(&user, result)
}
