//! `/api/v1/tokens`: API tokens, shown once at creation and stored hashed.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ListQuery;
use crate::accounts;
use crate::domain::TokenId;
use crate::store::{ApiToken, Paged};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiCaller, ApiJson, PathId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", post(create).get(list))
        .route("/tokens/{id}", delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewToken>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let name =
        accounts::parse_token_name(&body.name).map_err(|m| AppError::validation("name", m))?;
    let (row, token) = accounts::create_api_token(&state.store, &caller.org, &name).await?;
    let mut body = json!(row);
    body["token"] = token.into();
    Ok((StatusCode::CREATED, Json(body)))
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    uri: Uri,
) -> AppResult<Json<Paged<ApiToken>>> {
    let page = ListQuery::from_uri(&uri)?.page()?;
    Ok(Json(state.store.list_api_tokens(&caller.org, &page).await?))
}

async fn remove(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<TokenId>,
) -> AppResult<StatusCode> {
    state.store.delete_api_token(&caller.org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
