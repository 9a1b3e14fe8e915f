//! `/apps/{app}/formation`: list, batch update, and one process type.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::AppMember;
use super::body::{JsonBody, Params};
use super::error::{ApiError, ApiResult};
use super::path::Path;
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::access::Action;
use crate::clock::{self, rfc3339};
use crate::scaling::{self, Quantity, ScaleError, Update};
use crate::store::apps::App;
use crate::store::formation::{self, Formation};

impl From<ScaleError> for ApiError {
    fn from(error: ScaleError) -> Self {
        match error {
            ScaleError::Store(e) => e.into(),
            ScaleError::Invalid(message) => ApiError::invalid_params(message),
        }
    }
}

/// `commands`: process type -> command, from the latest release's Procfile.
fn formation_json(app: &App, f: &Formation, commands: &BTreeMap<String, String>) -> Value {
    json!({
        "app": { "id": app.id, "name": app.name },
        // "" before a release declares the type.
        "command": commands.get(&f.process_type).map(String::as_str).unwrap_or(""),
        "created_at": rfc3339(f.created_at),
        "dyno_size": { "id": crate::scaling::size_id(&f.size), "name": f.size },
        "id": f.id,
        "quantity": f.quantity,
        "size": f.size,
        "type": f.process_type,
        "updated_at": rfc3339(f.updated_at),
    })
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: AppMember,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let rows = formation::list(&mut conn, &member.app.id).await?;
    let commands = scaling::declared_commands(&mut conn, &member.app.id).await?;
    Ok(paginate(&headers, "type", rows, |f| {
        RangeKey::Text(f.process_type.clone())
    })
    .map(|f| formation_json(&member.app, &f, &commands))
    .into_response())
}

pub async fn show(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, process_type)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut conn = state.store.read().await?;
    let row = formation::find(&mut conn, &member.app.id, &process_type)
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that formation."))?;
    let commands = scaling::declared_commands(&mut conn, &member.app.id).await?;
    Ok(Json(formation_json(&member.app, &row, &commands)))
}

#[derive(Deserialize)]
pub struct BatchUpdate {
    updates: Vec<Value>,
}

impl Params for BatchUpdate {
    const FIELDS: &'static [&'static str] = &["updates"];
}

/// One entry of a batch: `type` is required, `quantity` and `size` optional.
fn update_from_json(value: &Value, process_type: Option<&str>) -> Result<Update, ScaleError> {
    let Some(fields) = value.as_object() else {
        return Err(ScaleError::Invalid("Each update must be an object.".into()));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["type", "quantity", "size"].contains(&k.as_str()))
    {
        return Err(ScaleError::Invalid(format!("Unknown params: {unknown}")));
    }
    let process_type = match (process_type, fields.get("type")) {
        (Some(t), _) => t.to_string(),
        (None, Some(Value::String(t))) => t.clone(),
        _ => return Err(ScaleError::Invalid("Each update needs a type.".into())),
    };
    let quantity = match fields.get("quantity") {
        None | Some(Value::Null) => None,
        Some(q) => Some(Quantity::from_json(q)?),
    };
    let size = match fields.get("size") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ScaleError::Invalid("size must be a string.".into())),
    };
    Ok(Update {
        process_type,
        quantity,
        size,
    })
}

async fn scale(state: &AppState, member: &AppMember, updates: &[Update]) -> ApiResult<Vec<Value>> {
    let mut tx = state.store.write().await?;
    let rows = scaling::apply(
        &mut tx,
        &member.app,
        member.account(),
        updates,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;
    state.deployer.nudge();
    tracing::info!(app.id = %member.app.id, types = rows.len(), "formation changed");
    let mut conn = state.store.read().await?;
    let commands = scaling::declared_commands(&mut conn, &member.app.id).await?;
    Ok(rows
        .iter()
        .map(|f| formation_json(&member.app, f, &commands))
        .collect())
}

/// `PATCH /apps/{app}/formation` `{"updates": [...]}`.
pub async fn update_batch(
    State(state): State<AppState>,
    member: AppMember,
    JsonBody(params): JsonBody<BatchUpdate>,
) -> ApiResult<Json<Value>> {
    let (_lock, member) = member.locked(&state).await?;
    member.require(Action::Scale)?;
    let updates = params
        .updates
        .iter()
        .map(|u| update_from_json(u, None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Value::Array(scale(&state, &member, &updates).await?)))
}

/// `PATCH /apps/{app}/formation/{type}` `{"quantity", "size"}`.
pub async fn update_one(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, process_type)): Path<(String, String)>,
    body: super::body::JsonObject,
) -> ApiResult<Json<Value>> {
    let (_lock, member) = member.locked(&state).await?;
    member.require(Action::Scale)?;
    let mut fields = body.0;
    fields.remove("type");
    let update = update_from_json(&Value::Object(fields), Some(&process_type))?;
    let mut rows = scale(&state, &member, &[update]).await?;
    Ok(Json(rows.pop().unwrap_or(Value::Null)))
}
