//! `/account/app-transfers`: the owner offers an app, the recipient answers.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{lock_app, role_on, Caller};
use super::body::{JsonBody, Params};
use super::error::{ApiError, ApiResult};
use super::path::Path;
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::access::{self, Action};
use crate::clock::{self, rfc3339};
use crate::locks::AppLockGuard;
use crate::store::apps;
use crate::store::transfers::{self as transfer_store, Transfer};
use crate::transfers::{self, TransferError};

impl From<TransferError> for ApiError {
    fn from(error: TransferError) -> Self {
        match error {
            TransferError::Store(e) => e.into(),
            TransferError::Invalid(message) => ApiError::invalid_params(message),
            TransferError::Forbidden(message) => ApiError::forbidden(message),
            TransferError::NotFound => ApiError::not_found(error.to_string()),
        }
    }
}

fn transfer_json(t: &Transfer) -> Value {
    json!({
        "app": { "id": t.app_id, "name": t.app_name },
        "created_at": rfc3339(t.created_at),
        "id": t.id,
        "owner": { "email": t.owner_email, "id": t.owner_id },
        "recipient": { "email": t.recipient_email, "id": t.recipient_id },
        "state": t.state,
        "updated_at": rfc3339(t.updated_at),
    })
}

#[derive(Deserialize)]
pub struct NewTransfer {
    app: String,
    recipient: String,
}

impl Params for NewTransfer {
    const FIELDS: &'static [&'static str] = &["app", "recipient"];
}

/// `POST /account/app-transfers` `{app, recipient}`: the owner only.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(params): JsonBody<NewTransfer>,
) -> ApiResult<impl IntoResponse> {
    let app = {
        let mut conn = state.store.read().await?;
        apps::find(&mut conn, params.app.trim())
            .await?
            .ok_or_else(ApiError::app_not_found)?
    };
    // Under the app's lock, with the app as it is now.
    let _lock = lock_app(&state, &app.id).await?;
    let app = {
        let mut conn = state.store.read().await?;
        apps::find(&mut conn, &app.id)
            .await?
            .ok_or_else(ApiError::app_not_found)?
    };
    let role = role_on(&state.store, &app, &caller.account.id).await?;
    access::authorize(role, Action::Transfer, &app.name, &app.owner_email)?;

    let mut tx = state.store.write().await?;
    let transfer = transfers::create(
        &mut tx,
        &state.settings,
        &app,
        &caller.account,
        &params.recipient,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;

    state.mail.wake();
    tracing::info!(app.id = %app.id, transfer.id = %transfer.id, "app transfer created");
    Ok((StatusCode::CREATED, Json(transfer_json(&transfer))))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let list = transfer_store::list_for_account(&mut conn, &caller.account.id).await?;
    Ok(
        paginate(&headers, "id", list, |t| RangeKey::Text(t.id.clone()))
            .map(|t| transfer_json(&t))
            .into_response(),
    )
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut conn = state.store.read().await?;
    let transfer = transfers::visible(&mut conn, &id, &caller.account).await?;
    Ok(Json(transfer_json(&transfer)))
}

/// Takes the lock of the app a transfer is about: answering one changes
/// the app's owner.
async fn lock_app_of(state: &AppState, caller: &Caller, id: &str) -> ApiResult<AppLockGuard> {
    let transfer = {
        let mut conn = state.store.read().await?;
        transfers::visible(&mut conn, id, &caller.account).await?
    };
    lock_app(state, &transfer.app_id).await
}

#[derive(Deserialize)]
pub struct Answer {
    state: String,
}

impl Params for Answer {
    const FIELDS: &'static [&'static str] = &["state"];
}

/// `PATCH /account/app-transfers/{id}` `{"state": "accepted" | "declined"}`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(params): JsonBody<Answer>,
) -> ApiResult<Json<Value>> {
    let accept = match params.state.as_str() {
        "accepted" => true,
        "declined" => false,
        _ => {
            return Err(ApiError::invalid_params(
                "state must be \"accepted\" or \"declined\".",
            ))
        }
    };

    let _lock = lock_app_of(&state, &caller, &id).await?;
    let mut tx = state.store.write().await?;
    let transfer = transfers::answer(
        &mut tx,
        &state.settings,
        &id,
        &caller.account,
        accept,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;

    state.mail.wake();
    tracing::info!(transfer.id = %transfer.id, state = %transfer.state, "app transfer answered");
    Ok(Json(transfer_json(&transfer)))
}

/// `DELETE /account/app-transfers/{id}`: the owner cancels (the recipient declines).
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let _lock = lock_app_of(&state, &caller, &id).await?;
    let mut tx = state.store.write().await?;
    let transfer = transfers::cancel(
        &mut tx,
        &state.settings,
        &id,
        &caller.account,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;

    state.mail.wake();
    tracing::info!(transfer.id = %transfer.id, state = %transfer.state, "app transfer closed");
    Ok(Json(transfer_json(&transfer)))
}
