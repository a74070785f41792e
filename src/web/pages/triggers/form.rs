//! New Alarm Trigger and Edit: name, message type, the condition as a field, an operator and a
//! typed value, severity and enabled. `fields.rs` reads the form; the service checks it whole.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::fields::{MAX_ROWS, Row, TriggerForm, VALUE_TYPES};
use super::trigger_and_type;
use crate::alarms::setup;
use crate::domain::alarm::{Op, Severity};
use crate::domain::{DeviceTypeId, FieldErrors, TriggerId};
use crate::store::{DeviceType, Trigger};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{AdminPage, CsrfForm, PathId, SignedIn};
use crate::web::pages::device_types::Choice;
use crate::web::pages::{Layout, page, redirect_with_flash, render, render_with};

/// The fields shown beside their inputs besides the rows'; any other problem is shown above
/// the form.
const PLACED: [&str; 9] = [
    "name",
    "kind",
    "silent_for_seconds",
    "message_type",
    "clear_condition.field",
    "clear_condition.op",
    "clear_condition.value",
    "for_seconds",
    "severity",
];

/// A comparison row with its choices and problems.
struct RowView {
    row: Row,
    ops: Vec<Choice>,
    value_types: Vec<Choice>,
    field_error: Option<String>,
    op_error: Option<String>,
    value_error: Option<String>,
}

#[derive(Template)]
#[template(path = "triggers/form.html")]
struct FormPage {
    layout: Layout,
    heading: &'static str,
    action: String,
    cancel: String,
    device_type: DeviceType,
    form: TriggerForm,
    message_types: Vec<Choice>,
    rows: Vec<RowView>,
    can_add: bool,
    combines: Vec<Choice>,
    clear_ops: Vec<Choice>,
    clear_value_types: Vec<Choice>,
    severities: Vec<Choice>,
    kinds: Vec<Choice>,
    /// Editing: the kind is fixed, so only its fields are shown.
    editing: bool,
    errors: FieldErrors,
    general: Vec<String>,
}

impl FormPage {
    fn build(
        user: &SignedIn,
        editing: Option<&TriggerId>,
        device_type: DeviceType,
        form: TriggerForm,
        errors: FieldErrors,
    ) -> Self {
        let (heading, action, cancel) = match editing {
            None => (
                "New Alarm Trigger",
                format!("/device-types/{}/alarm-triggers", device_type.id),
                format!("/device-types/{}/alarm-triggers", device_type.id),
            ),
            Some(id) => (
                "Edit alarm trigger",
                format!("/alarm-triggers/{id}/edit"),
                format!("/alarm-triggers/{id}"),
            ),
        };
        let mut names: Vec<(&str, &str)> = device_type
            .message_types
            .iter()
            .map(|m| (m.name.as_str(), m.name.as_str()))
            .collect();
        // Only a device-offline trigger may count every message type.
        if form.kind == "no_data" || editing.is_none() {
            names.push(("", "any message type (device offline only)"));
        }
        let ops: Vec<(&str, &str)> = Op::ALL
            .iter()
            .map(|op| (op.as_str(), op.as_str()))
            .collect();
        let severities: Vec<(&str, &str)> = Severity::ALL
            .iter()
            .map(|s| (s.as_str(), s.as_str()))
            .collect();
        let error = |path: &str| errors.get(path).map(str::to_owned);
        let rows: Vec<RowView> = form
            .rows()
            .into_iter()
            .map(|row| RowView {
                ops: Choice::list(&ops, &row.op),
                value_types: Choice::list(&VALUE_TYPES, &row.value_type),
                field_error: error(&format!("{}.field", row.path)),
                op_error: error(&format!("{}.op", row.path)),
                value_error: error(&format!("{}.value", row.path)),
                row,
            })
            .collect();
        let placed_in_rows = |field: &str| {
            rows.iter().any(|r| {
                field
                    .strip_prefix(r.row.path.as_str())
                    .is_some_and(|rest| [".field", ".op", ".value"].contains(&rest))
            })
        };
        let general = errors
            .iter()
            .filter(|(field, _)| !PLACED.contains(field) && !placed_in_rows(field))
            .map(|(_, message)| message.to_owned())
            .collect();
        Self {
            layout: Layout::new(user, heading, "alarm-triggers"),
            heading,
            action,
            cancel,
            message_types: Choice::list(&names, &form.message_type),
            can_add: rows.len() < MAX_ROWS && form.nested.is_none(),
            rows,
            combines: Choice::list(
                &[("all", "all of these hold"), ("any", "any of these holds")],
                &form.combine,
            ),
            clear_ops: Choice::list(&ops, &form.clear_op),
            clear_value_types: Choice::list(&VALUE_TYPES, &form.clear_value_type),
            severities: Choice::list(&severities, &form.severity),
            kinds: Choice::list(
                &[
                    ("threshold", "a condition on a message"),
                    ("no_data", "the device goes silent (offline)"),
                ],
                if form.kind == "no_data" {
                    "no_data"
                } else {
                    "threshold"
                },
            ),
            editing: editing.is_some(),
            device_type,
            form,
            errors,
            general,
        }
    }
}

pub async fn new(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<DeviceTypeId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device_type = state.store.device_type(user.org(), &id).await?;
        let form = TriggerForm::for_new(&device_type);
        Ok(render(&FormPage::build(
            &user,
            None,
            device_type,
            form,
            FieldErrors::new(),
        )))
    }
    .await;
    page(&user, result)
}

pub async fn edit(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<TriggerId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let (trigger, device_type) = trigger_and_type(&state, &user, &id).await?;
        let form = TriggerForm::from_trigger(&trigger);
        Ok(render(&FormPage::build(
            &user,
            Some(&id),
            device_type,
            form,
            FieldErrors::new(),
        )))
    }
    .await;
    page(&user, result)
}

/// After the service answered: to the trigger's page, or the form again with every problem.
fn finish(
    state: &AppState,
    jar: CookieJar,
    saved: Result<Trigger, crate::error::Error>,
    page_again: impl FnOnce(FieldErrors) -> FormPage,
    mut errors: FieldErrors,
    message: &str,
) -> AppResult<Response> {
    match saved {
        Ok(trigger) => {
            let to = format!("/alarm-triggers/{}", trigger.id);
            Ok(redirect_with_flash(state, jar, &to, message))
        }
        Err(error) => match AppError::from(error) {
            invalid @ (AppError::Validation(_) | AppError::Conflict { .. }) => {
                for (field, message) in invalid.fields().iter() {
                    errors.add(field, message);
                }
                Ok(render_with(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &page_again(errors),
                ))
            }
            other => Err(other),
        },
    }
}

pub async fn create(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<DeviceTypeId>, AppError>,
    CsrfForm { user, mut form }: CsrfForm<TriggerForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device_type = state.store.device_type(user.org(), &id).await?;
        if form.edit_rows() {
            return Ok(render(&FormPage::build(&user, None, device_type, form, FieldErrors::new())));
        }
        let (input, unreadable) = form.to_input();
        let saved = setup::create_trigger(&state.store, user.org(), &id, &input).await;
        let message = format!("Alarm trigger “{}” created. Use Edit Webhook List to choose where its alarms are sent.", form.name.trim());
        finish(&state, jar, saved, |errors| FormPage::build(&user, None, device_type, form, errors), unreadable, &message)
    }
    .await;
    page(&user, result)
}

pub async fn update(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<TriggerId>, AppError>,
    CsrfForm { user, mut form }: CsrfForm<TriggerForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let (trigger, device_type) = trigger_and_type(&state, &user, &id).await?;
        if let Some(condition) = &trigger.condition
            && form.field.is_empty()
            && condition.flat().is_none()
        {
            form.nested = Some(condition.describe());
        }
        if form.edit_rows() {
            return Ok(render(&FormPage::build(
                &user,
                Some(&id),
                device_type,
                form,
                FieldErrors::new(),
            )));
        }
        let (input, unreadable) = form.to_input();
        let saved = setup::update_trigger(&state.store, user.org(), &id, &input).await;
        finish(
            &state,
            jar,
            saved,
            |errors| FormPage::build(&user, Some(&id), device_type, form, errors),
            unreadable,
            "Alarm trigger saved.",
        )
    }
    .await;
    page(&user, result)
}
