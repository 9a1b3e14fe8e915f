//! `GET/PATCH /apps/{app}/config-vars`: an object of strings; `null` unsets.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use super::auth::AppMember;
use super::body::JsonObject;
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::access::Action;
use crate::app_config::{self, ConfigError};
use crate::clock;
use crate::store::config_vars;

impl From<ConfigError> for ApiError {
    fn from(error: ConfigError) -> Self {
        match error {
            ConfigError::Store(e) => e.into(),
            ConfigError::Invalid(message) => ApiError::invalid_params(message),
        }
    }
}

pub async fn show(State(state): State<AppState>, member: AppMember) -> ApiResult<Json<Value>> {
    member.require(Action::ReadConfig)?;
    let mut conn = state.store.read().await?;
    let vars = config_vars::all(&mut conn, &member.app.id).await?;
    Ok(Json(serde_json::to_value(vars).unwrap_or_default()))
}

/// Applies the changes and answers with the full resulting object.
pub async fn update(
    State(state): State<AppState>,
    member: AppMember,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let (_lock, member) = member.locked(&state).await?;
    member.require(Action::ChangeConfig)?;
    let changes = app_config::changes_from_json(body)?;

    let mut tx = state.store.write().await?;
    let applied = app_config::apply(
        &mut tx,
        &member.app,
        member.account(),
        &changes,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;
    if applied.changed() {
        // The new release carries the new config: the dynos restart with it.
        state.deployer.nudge();
    }

    if applied.changed() {
        // Names only: values are the app's secrets.
        tracing::info!(
            app.id = %member.app.id,
            set = %applied.set.join(","),
            unset = %applied.unset.join(","),
            "config vars changed"
        );
    }
    Ok(Json(serde_json::to_value(applied.vars).unwrap_or_default()))
}
