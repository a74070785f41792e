//! Developer Tools → API Tokens: create (shown once), list, delete.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::filters;
use super::{Layout, Pager, page, redirect_with_flash, render_with};
use crate::accounts;
use crate::domain::{FieldErrors, TokenId};
use crate::store::{ApiToken, Page};
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

#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
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
    let result = render_list(
        &state,
        &user,
        query.cursor.as_deref(),
        StatusCode::OK,
        None,
        String::new(),
        FieldErrors::new(),
    )
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
            // The token is shown in this response only; it is not stored anywhere readable.
            Ok((_, token)) => {
                render_list(
                    &state,
                    &user,
                    None,
                    StatusCode::OK,
                    Some(token),
                    String::new(),
                    FieldErrors::new(),
                )
                .await
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
