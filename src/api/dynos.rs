//! `/apps/{app}/dynos`: list, restart, stop; and the same actions for a
//! whole process type under `/apps/{app}/formations/{type}`.

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
use crate::store::formation;

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
        "release": { "id": dyno.release_id, "version": dyno.release_version },
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

/// Puts who asked for a dyno action in the app's log (`Restart web.1 by
/// user ...`) and answers 202: the runtime carries it out in the background.
fn accepted(state: &AppState, member: &AppMember, what: &str) -> impl IntoResponse {
    state.logs.event(
        &member.app.id,
        &format!("{what} by user {}", member.account().email),
    );
    (StatusCode::ACCEPTED, Json(json!({})))
}

/// `DELETE /apps/{app}/dynos`: restarts every dyno.
pub async fn restart_all(
    State(state): State<AppState>,
    member: AppMember,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::Restart)?;
    state.runtime.restart(&member.app.id, None)?;
    Ok(accepted(&state, &member, "Restart all dynos"))
}

/// `DELETE /apps/{app}/dynos/{dyno}`: restarts a dyno, or all of a type.
pub async fn restart(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::Restart)?;
    state.runtime.restart(&member.app.id, Some(&name))?;
    Ok(accepted(&state, &member, &format!("Restart {name}")))
}

/// `POST /apps/{app}/dynos/{dyno}/actions/stop`.
pub async fn stop(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::Restart)?;
    state.runtime.stop_dyno(&member.app.id, &name)?;
    Ok(accepted(&state, &member, &format!("Stop {name}")))
}

/// The process type named in a `/formations/{type}` path, once the app's
/// formation is known to have it.
async fn known_type(state: &AppState, member: &AppMember, process_type: &str) -> ApiResult<()> {
    let mut conn = state.store.read().await?;
    formation::find(&mut conn, &member.app.id, process_type)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("Couldn't find that formation."))
}

/// Type-wide actions find nothing to act on when no dyno of the type runs
/// (scaled to zero, or never deployed): that is not an error.
fn none_running_is_fine(result: Result<(), RuntimeError>) -> ApiResult<()> {
    match result {
        Ok(()) | Err(RuntimeError::NoSuchDyno(_)) => Ok(()),
    }
}

/// `DELETE /apps/{app}/formations/{type}`: restarts every dyno of a type
/// (`heroku ps:restart --process-type web`).
pub async fn restart_type(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, process_type)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::Restart)?;
    known_type(&state, &member, &process_type).await?;
    none_running_is_fine(state.runtime.restart(&member.app.id, Some(&process_type)))?;
    Ok(accepted(
        &state,
        &member,
        &format!("Restart {process_type} dynos"),
    ))
}

/// `POST /apps/{app}/formations/{type}/actions/stop`: stops every dyno of a
/// type; as for one dyno, the formation starts fresh ones in their place.
pub async fn stop_type(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, process_type)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::Restart)?;
    known_type(&state, &member, &process_type).await?;
    none_running_is_fine(state.runtime.stop_dyno(&member.app.id, &process_type))?;
    Ok(accepted(
        &state,
        &member,
        &format!("Stop {process_type} dynos"),
    ))
}
