//! `/apps/{app}/dynos`: list, restart, stop.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::AppMember;
use super::error::{ApiError, ApiResult};
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::access::Action;
use crate::clock::rfc3339;
use crate::runtime::{DynoInfo, RuntimeError};
use crate::store::apps::App;

impl From<RuntimeError> for ApiError {
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::NoSuchDyno(_) => ApiError::not_found(error.to_string()),
        }
    }
}

fn dyno_json(app: &App, dyno: &DynoInfo) -> Value {
    json!({
        "app": { "id": app.id, "name": app.name },
        "attach_url": null,
        "command": dyno.command,
        "created_at": rfc3339(dyno.created_at),
        "id": dyno.id,
        "name": dyno.name,
        "release": { "id": null, "version": dyno.release_version },
        "size": "Basic",
        "state": dyno.state.as_str(),
        "type": dyno.process_type,
        "updated_at": rfc3339(dyno.updated_at),
    })
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: AppMember,
) -> Response {
    let dynos = state.runtime.dynos(&member.app.id);
    paginate(&headers, "name", dynos, |d| RangeKey::Text(d.name.clone()))
        .map(|d| dyno_json(&member.app, &d))
        .into_response()
}

pub async fn show(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let dynos = state.runtime.dynos(&member.app.id);
    // While a release replaces another, the newer dyno of a name is shown.
    let dyno = dynos
        .iter()
        .filter(|d| d.name == name || d.id == name)
        .max_by_key(|d| d.release_version)
        .ok_or_else(|| ApiError::not_found(format!("No such dyno: {name}")))?;
    Ok(Json(dyno_json(&member.app, dyno)))
}

/// `DELETE /apps/{app}/dynos`: restarts every dyno.
pub async fn restart_all(
    State(state): State<AppState>,
    member: AppMember,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::Restart)?;
    state.runtime.restart(&member.app.id, None)?;
    state.logs.event(
        &member.app.id,
        &format!("Restart all dynos by user {}", member.account().email),
    );
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

/// `DELETE /apps/{app}/dynos/{dyno}`: restarts a dyno, or all of a type.
pub async fn restart(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::Restart)?;
    state.runtime.restart(&member.app.id, Some(&name))?;
    state.logs.event(
        &member.app.id,
        &format!("Restart {name} by user {}", member.account().email),
    );
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

/// `POST /apps/{app}/dynos/{dyno}/actions/stop`.
pub async fn stop(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::Restart)?;
    state.runtime.stop_dyno(&member.app.id, &name)?;
    state.logs.event(
        &member.app.id,
        &format!("Stop {name} by user {}", member.account().email),
    );
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}
