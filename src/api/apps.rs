//! Apps: create, list, show, rename, delete.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{AppMember, Caller};
use super::body::{JsonBody, Params, UnparsedBody};
use super::error::{ApiError, ApiResult};
use super::path::Path;
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::access::Action;
use crate::clock::{self, rfc3339};
use crate::names;
use crate::settings::Settings;
use crate::store::activity::{self, NewActivity};
use crate::store::apps::{self, App};

/// Fixed identifiers for the one region, stack and generation Slipway has.
const REGION_ID: &str = "59accabd-516d-4f0e-83e6-6e3757701145";
const STACK_ID: &str = "ee582d3c-717d-4a57-ba5a-daca8a65e3a8";
const GENERATION_ID: &str = "7f8b6a2e-3c1d-4e5f-9a0b-1c2d3e4f5a6b";

pub fn app_json(app: &App, settings: &Settings) -> Value {
    let stack = json!({ "id": STACK_ID, "name": "heroku-24" });
    json!({
        "acm": false,
        "archived_at": null,
        "buildpack_provided_description": null,
        "build_stack": stack,
        "create_status": "complete",
        "created_at": rfc3339(app.created_at),
        "generation": { "id": GENERATION_ID, "name": "cedar" },
        "git_url": settings.git_url(&app.name),
        "id": app.id,
        "internal_routing": null,
        "isolation": settings.isolation,
        "locked": false,
        "maintenance": false,
        "name": app.name,
        "organization": null,
        "owner": { "email": app.owner_email, "id": app.owner_id },
        "process_tier": "basic",
        "region": { "id": REGION_ID, "name": "us" },
        "released_at": app.released_at.map(rfc3339),
        "repo_size": app.repo_size,
        "slug_size": app.slug_size,
        "space": null,
        "stack": stack,
        "team": null,
        "updated_at": rfc3339(app.updated_at),
        "web_url": settings.web_url(&app.name),
    })
}

fn app_list(state: &AppState, headers: &HeaderMap, list: Vec<App>) -> Response {
    paginate(headers, "name", list, |app| {
        RangeKey::Text(app.name.clone())
    })
    .map(|app| app_json(&app, &state.settings))
    .into_response()
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let visible = apps::list_visible_to(&mut conn, &caller.account.id).await?;
    Ok(app_list(&state, &headers, visible))
}

/// `GET /users/~/apps`: the same list, for the caller only.
pub async fn list_for_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(user): Path<String>,
) -> ApiResult<Response> {
    let me = &caller.account;
    if user != "~" && !user.eq_ignore_ascii_case(&me.email) && user != me.id {
        return Err(ApiError::forbidden("You can only list your own apps."));
    }
    list(State(state), headers, caller).await
}

#[derive(Deserialize)]
pub struct NewApp {
    name: Option<String>,
}

impl Params for NewApp {
    const FIELDS: &'static [&'static str] = &["name", "region", "stack", "feature_flags"];
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(params): JsonBody<NewApp>,
) -> ApiResult<impl IntoResponse> {
    if let Some(name) = &params.name {
        names::validate_app_name(name).map_err(ApiError::invalid_params)?;
    }

    let now = clock::now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = state.store.write().await?;
    let name = match params.name {
        Some(name) => {
            if !apps::insert(tx.conn(), &id, &name, &caller.account.id, now).await? {
                return Err(ApiError::invalid_params(format!(
                    "Name {name} is already taken"
                )));
            }
            name
        }
        None => insert_with_generated_name(&mut tx, &id, &caller.account.id, now).await?,
    };
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &id,
            app_name: &name,
            actor_id: &caller.account.id,
            actor_email: &caller.account.email,
            action: "create",
            detail: format!("created {name}"),
        },
        now,
    )
    .await?;
    let app = apps::find(tx.conn(), &id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    // A repository that cannot be made now is made by the first push or clone.
    if let Err(error) = state.git.repository(&app.id).await {
        tracing::warn!(app.id = %app.id, %error, "cannot create the app's repository yet");
    }

    tracing::info!(app.id = %app.id, app.name = %app.name, "app created");
    Ok((StatusCode::CREATED, Json(app_json(&app, &state.settings))))
}

async fn insert_with_generated_name(
    tx: &mut crate::store::WriteTx<'_>,
    id: &str,
    owner_id: &str,
    now: i64,
) -> ApiResult<String> {
    for _ in 0..20 {
        let name = names::generate_app_name();
        if apps::insert(tx.conn(), id, &name, owner_id, now).await? {
            return Ok(name);
        }
    }
    tracing::error!("could not find a free generated app name in 20 tries");
    Err(ApiError::internal())
}

pub async fn show(State(state): State<AppState>, member: AppMember) -> Json<Value> {
    Json(app_json(&member.app, &state.settings))
}

#[derive(Deserialize)]
pub struct AppUpdate {
    name: Option<String>,
}

impl Params for AppUpdate {
    const FIELDS: &'static [&'static str] = &["name"];
}

/// `PATCH /apps/{app}`: renames the app (owner only).
pub async fn update(
    State(state): State<AppState>,
    member: AppMember,
    body: UnparsedBody,
) -> ApiResult<Json<Value>> {
    member.require(Action::Rename)?;
    let params: AppUpdate = body.parse()?;
    let Some(new_name) = params.name else {
        return Ok(Json(app_json(&member.app, &state.settings)));
    };
    names::validate_app_name(&new_name).map_err(ApiError::invalid_params)?;
    let old_name = member.app.name.clone();
    if new_name == old_name {
        return Ok(Json(app_json(&member.app, &state.settings)));
    }

    let now = clock::now_ms();
    let mut tx = state.store.write().await?;
    if !apps::rename(tx.conn(), &member.app.id, &new_name, now).await? {
        return Err(ApiError::invalid_params(format!(
            "Name {new_name} is already taken"
        )));
    }
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &member.app.id,
            app_name: &new_name,
            actor_id: &member.account().id,
            actor_email: &member.account().email,
            action: "rename",
            detail: format!("renamed from {old_name} to {new_name}"),
        },
        now,
    )
    .await?;
    let app = apps::find(tx.conn(), &member.app.id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;

    tracing::info!(app.id = %app.id, from = %old_name, to = %new_name, "app renamed");
    Ok(Json(app_json(&app, &state.settings)))
}

/// `DELETE /apps/{app}` (owner only).
pub async fn destroy(State(state): State<AppState>, member: AppMember) -> ApiResult<Json<Value>> {
    member.require(Action::Delete)?;

    let app = member.app.clone();
    let mut tx = state.store.write().await?;
    // Paid add-ons stop accruing; what they accrued stays on the invoices.
    crate::billing::stop_app(&mut tx, &app.id, clock::now_ms()).await?;
    apps::delete(tx.conn(), &app.id).await?;
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &app.id,
            app_name: &app.name,
            actor_id: &member.account().id,
            actor_email: &member.account().email,
            action: "destroy",
            detail: format!("deleted {}", app.name),
        },
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;
    state.runtime.stop_app(&app.id);
    state.logs.forget(&app.id);
    state.git.remove_app(&state.store, &app.id).await;

    tracing::info!(app.id = %app.id, app.name = %app.name, "app deleted");
    Ok(Json(app_json(&app, &state.settings)))
}
