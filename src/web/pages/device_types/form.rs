//! New Device Type and Edit: a name, a description and message types, each a name and a JSON
//! Schema typed as text. Without JavaScript, "Add another message type" posts the form back and
//! gets it again with one more empty row; nothing is saved until Save.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::rows::{DeviceTypeForm, Row, place_errors, to_input};
use crate::alarms::setup;
use crate::domain::{DeviceTypeId, FieldErrors};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{AdminPage, CsrfForm, PathId, SignedIn};
use crate::web::pages::{Layout, error_page, page, redirect_with_flash, render, render_with};

#[derive(Template)]
#[template(path = "device_types/form.html")]
struct FormPage {
    layout: Layout,
    heading: String,
    action: String,
    cancel: String,
    name: String,
    description: String,
    rows: Vec<Row>,
    errors: FieldErrors,
    /// Problems that belong to no single field (such as a removed message type a trigger uses).
    general: Vec<String>,
}

/// Which form: a new device type, or an existing one being edited.
enum Target<'a> {
    New,
    Edit(&'a DeviceTypeId),
}

impl FormPage {
    fn build(
        user: &SignedIn,
        target: &Target,
        name: String,
        description: String,
        mut rows: Vec<Row>,
        errors: FieldErrors,
    ) -> Self {
        if rows.last().is_none_or(|row| !row.is_blank()) {
            rows.push(Row::default());
        }
        let general = errors
            .iter()
            .filter(|(field, _)| !matches!(*field, "name" | "description"))
            .filter(|(field, _)| !field.starts_with("message_types["))
            .map(|(_, message)| message.to_owned())
            .collect();
        let (heading, action, cancel) = match target {
            Target::New => (
                "New Device Type".to_owned(),
                "/device-types".to_owned(),
                "/device-types".to_owned(),
            ),
            Target::Edit(id) => (
                "Edit device type".to_owned(),
                format!("/device-types/{id}/edit"),
                format!("/device-types/{id}"),
            ),
        };
        Self {
            layout: Layout::new(user, heading.clone(), "device-types"),
            heading,
            action,
            cancel,
            name,
            description,
            rows,
            errors,
            general,
        }
    }
}

pub async fn new(AdminPage(user): AdminPage) -> Response {
    render(&FormPage::build(
        &user,
        &Target::New,
        String::new(),
        String::new(),
        Vec::new(),
        FieldErrors::new(),
    ))
}

pub async fn edit(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<DeviceTypeId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device_type = state.store.device_type(user.org(), &id).await?;
        let rows = device_type
            .message_types
            .iter()
            .map(|m| Row {
                name: m.name.clone(),
                schema: serde_json::to_string_pretty(&m.schema).unwrap_or_default(),
                ..Row::default()
            })
            .collect();
        Ok(render(&FormPage::build(
            &user,
            &Target::Edit(&id),
            device_type.name,
            device_type.description,
            rows,
            FieldErrors::new(),
        )))
    }
    .await;
    page(&user, result)
}

/// Saves the form, or shows it again: with one more row, or with its errors.
async fn submit(
    state: &AppState,
    jar: CookieJar,
    user: &SignedIn,
    target: Target<'_>,
    form: DeviceTypeForm,
) -> Response {
    let mut rows = form.rows();
    if form.action == "add_row" {
        rows.retain(|row| !row.is_blank());
        rows.push(Row::default());
        let errors = FieldErrors::new();
        return render(&FormPage::build(
            user,
            &target,
            form.name,
            form.description,
            rows,
            errors,
        ));
    }
    let (input, row_of, mut errors) = to_input(&form, &rows);
    let saved = match target {
        Target::New => setup::create_device_type(&state.store, user.org(), &input).await,
        Target::Edit(id) => {
            let saved = setup::update_device_type(&state.store, user.org(), id, &input).await;
            state.lookups.forget_device_type(id);
            saved
        }
    };
    match saved {
        Ok(device_type) => {
            let message = match target {
                Target::New => format!("Device type “{}” created.", device_type.name),
                Target::Edit(_) => "Device type saved.".to_owned(),
            };
            let to = format!("/device-types/{}", device_type.id);
            redirect_with_flash(state, jar, &to, &message)
        }
        Err(error) => match AppError::from(error) {
            invalid @ (AppError::Validation(_) | AppError::Conflict { .. }) => {
                for (field, message) in invalid.fields().iter() {
                    errors.add(field, message);
                }
                let rest = place_errors(&mut rows, &row_of, &errors);
                let page = FormPage::build(user, &target, form.name, form.description, rows, rest);
                render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
            }
            other => error_page(Some(user), other),
        },
    }
}

pub async fn create(
    State(state): State<AppState>,
    jar: CookieJar,
    CsrfForm { user, form }: CsrfForm<DeviceTypeForm>,
) -> Response {
    submit(&state, jar, &user, Target::New, form).await
}

pub async fn update(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<DeviceTypeId>, AppError>,
    CsrfForm { user, form }: CsrfForm<DeviceTypeForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        // Another organization's id is 404 even for "Add another message type", which saves
        // nothing.
        state.store.device_type(user.org(), &id).await?;
        Ok(submit(&state, jar, &user, Target::Edit(&id), form).await)
    }
    .await;
    page(&user, result)
}
