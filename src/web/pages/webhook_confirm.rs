//! The webhook actions that take effect at once and cannot be taken back by the receiver's
//! owner: disabling the webhook, and regenerating its secret with no overlap. Each asks first,
//! on a page of its own, so it works without script.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::{Layout, page, redirect_with_flash, render};
use crate::domain::WebhookId;
use crate::domain::webhook::parse_overlap_secs;
use crate::store::Webhook;
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{AdminPage, CsrfForm, PathId};

#[derive(Template)]
#[template(path = "webhooks/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    webhook: Webhook,
    heading: &'static str,
    consequence: &'static str,
    action: String,
    fields: Vec<(&'static str, String)>,
    button: &'static str,
}

/// Disable: what it does, and the button that does it.
pub async fn disable(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<WebhookId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let webhook = state.store.webhook(user.org(), &id).await?;
        Ok(render(&ConfirmPage {
            layout: Layout::new(&user, "Disable webhook", "webhooks"),
            heading: "Disable webhook",
            consequence: "Nothing more is sent to it until it is enabled again. Deliveries waiting \
                          to be retried and new events are kept as skipped deliveries, which \
                          you can replay after enabling it.",
            action: format!("/webhooks/{id}/disable"),
            fields: Vec::new(),
            button: "Disable webhook",
            webhook,
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Deserialize)]
pub struct RegenerateForm {
    keep_previous_for_seconds: Option<String>,
    confirm: Option<String>,
}

/// Regenerate the secret. With an overlap it happens at once (receivers keep verifying with the
/// previous secret); with none, the previous secret stops signing at once, so the page asks
/// first and the confirmation's form sends `confirm=yes`.
pub async fn regenerate(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<WebhookId>, AppError>,
    CsrfForm { user, form }: CsrfForm<RegenerateForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let seconds = form
            .keep_previous_for_seconds
            .as_deref()
            .unwrap_or("0")
            .trim();
        let overlap = seconds
            .parse::<i64>()
            .map_err(|_| "Choose how long the previous secret keeps signing.".to_owned())
            .and_then(parse_overlap_secs)
            .map_err(|message| AppError::validation("keep_previous_for_seconds", message))?;
        if overlap == 0 && form.confirm.as_deref() != Some("yes") {
            let webhook = state.store.webhook(user.org(), &id).await?;
            return Ok(render(&ConfirmPage {
                layout: Layout::new(&user, "Regenerate secret", "webhooks"),
                heading: "Regenerate secret",
                consequence: "The previous secret stops signing at once: until your receiver \
                              has the new secret, it will reject every delivery. To switch \
                              without failures, go back and keep the previous secret signing \
                              for a while.",
                action: format!("/webhooks/{id}/secret/regenerate"),
                fields: vec![
                    ("keep_previous_for_seconds", "0".to_owned()),
                    ("confirm", "yes".to_owned()),
                ],
                button: "Regenerate secret now",
                webhook,
            }));
        }
        state
            .store
            .regenerate_secret(user.org(), &id, overlap)
            .await?;
        let message = if overlap == 0 {
            "Secret regenerated. The previous secret no longer signs."
        } else {
            "Secret regenerated. The previous secret keeps signing until the overlap ends."
        };
        Ok(redirect_with_flash(
            &state,
            jar,
            &format!("/webhooks/{id}?reveal=1"),
            message,
        ))
    }
    .await;
    page(&user, result)
}
