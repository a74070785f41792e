//! Developer Tools → API Tokens: create (shown once, on the page the POST redirects to), list,
//! delete.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::filters;
use super::{Layout, Pager, page, redirect_with_flash, render_with};
use crate::accounts;
use crate::domain::{FieldErrors, TokenId};
use crate::store::{ApiToken, Page, ShownOnce};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfForm, NoFields, PathId, SignedIn};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
struct ListPage {
    layout: Layout,
    tokens: Vec<ApiToken>,
    pager: Pager,
    new_token: Option<String>,
    name: String,
    errors: FieldErrors,
}

/// The `shown_once` kind of a new API token.
pub const API_TOKEN: &str = "api_token";

#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    /// The key of a token just created, to show this once.
    once: Option<String>,
}

async fn render_list(
    state: &AppState,
    user: &SignedIn,
    cursor: Option<&str>,
    status: StatusCode,
    new_token: Option<String>,
    name: String,
    errors: FieldErrors,
) -> AppResult<Response> {
    let page_of = Page::parse(None, cursor).map_err(|(f, m)| AppError::validation(f, m))?;
    let tokens = state.store.list_api_tokens(user.org(), &page_of).await?;
    Ok(render_with(
        status,
        &ListPage {
            layout: Layout::new(user, "API Tokens", "tokens"),
            pager: Pager::new("/tokens", "tokens", cursor, tokens.next_cursor.as_deref()),
            tokens: tokens.data,
            new_token,
            name,
            errors,
        },
    ))
}

async fn list(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    let result = async {
        let new_token = match query.once.as_deref() {
            Some(once) => state
                .store
                .take_shown_once(user.org(), &user.session.user_id, once)
                .await?
                .filter(|kept| kept.kind == API_TOKEN)
                .map(|kept| kept.token),
            None => None,
        };
        render_list(
            &state,
            &user,
            query.cursor.as_deref(),
            StatusCode::OK,
            new_token,
            String::new(),
            FieldErrors::new(),
        )
        .await
    }
    .await;
    page(&user, result)
}

#[derive(Deserialize)]
struct NewTokenForm {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    CsrfForm { user, form }: CsrfForm<NewTokenForm>,
) -> Response {
    let result = async {
        let name = match accounts::parse_token_name(&form.name) {
            Ok(name) => name,
            Err(message) => {
                let errors = FieldErrors::one("name", message);
                return render_list(
                    &state,
                    &user,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    form.name.clone(),
                    errors,
                )
                .await;
            }
        };
        match accounts::create_api_token(&state.store, user.org(), &name).await {
            // Shown on the page after the redirect, once: reloading it does not post again.
            Ok((created, token)) => {
                let once = state
                    .store
                    .keep_to_show_once(
                        user.org(),
                        &user.session.user_id,
                        &ShownOnce {
                            subject: created.id.to_string(),
                            kind: API_TOKEN.to_owned(),
                            token,
                        },
                    )
                    .await?;
                Ok(Redirect::to(&format!("/tokens?once={once}")).into_response())
            }
            Err(error) => match AppError::from(error) {
                conflict @ AppError::Conflict { .. } => {
                    render_list(
                        &state,
                        &user,
                        None,
                        StatusCode::CONFLICT,
                        None,
                        form.name.clone(),
                        conflict.fields(),
                    )
                    .await
                }
                other => Err(other),
            },
        }
    }
    .await;
    page(&user, result)
}

async fn delete(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<TokenId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        state.store.delete_api_token(user.org(), &id).await?;
        Ok(redirect_with_flash(
            &state,
            jar,
            "/tokens",
            "API token deleted.",
        ))
    }
    .await;
    page(&user, result)
}
