//! Add-ons of apps: `/apps/{app}/addons`, `/addons`, `/addon-attachments`
//! and `/actions/addons/resolve`, in the shapes the Heroku CLI reads.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::addon_services::price_json;
use super::auth::{role_on, AppMember, Caller};
use super::body::{JsonBody, Params};
use super::error::{ApiError, ApiResult};
use super::path::Path;
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::addons::catalog::{Catalog, Plan};
use crate::addons::{self, AddonError};
use crate::clock::{self, rfc3339};
use crate::store::addons::{self as addon_store, Addon};
use crate::store::apps;

impl From<AddonError> for ApiError {
    fn from(error: AddonError) -> Self {
        match error {
            AddonError::Store(e) => e.into(),
            AddonError::Invalid(message) | AddonError::Conflict(message) => {
                ApiError::invalid_params(message)
            }
        }
    }
}

fn attachment_name(catalog: &Catalog, addon: &Addon) -> String {
    catalog
        .service(&addon.service)
        .map(|s| s.attachment_name.clone())
        .unwrap_or_else(|| addon.service.to_ascii_uppercase().replace('-', "_"))
}

/// The attachment's id, derived so that it is stable without its own row.
fn attachment_id(addon: &Addon) -> String {
    let mut bytes = *uuid::Uuid::parse_str(&addon.id)
        .unwrap_or_default()
        .as_bytes();
    bytes[0] ^= 0xa5;
    uuid::Uuid::from_bytes(bytes).to_string()
}

pub fn addon_json(catalog: &Catalog, addon: &Addon, state: &str) -> Value {
    let service = catalog.service(&addon.service);
    let plan = service.and_then(|s| s.plan(&addon.plan));
    let app = json!({ "id": addon.app_id, "name": addon.app_name });
    json!({
        "actions": [],
        "addon_service": {
            "id": service.map(|s| s.id.clone()),
            "name": addon.service,
        },
        "app": app,
        "billing_entity": { "id": addon.app_id, "name": addon.app_name, "type": "app" },
        "billed_price": price_json(addon.price_cents),
        "config_vars": [],
        "created_at": rfc3339(addon.created_at),
        "id": addon.id,
        "name": addon.name,
        "plan": {
            "id": plan.map(|p| p.id.clone()),
            "name": format!("{}:{}", addon.service, addon.plan),
            "price": price_json(addon.price_cents),
        },
        "provider_id": addon.id,
        "state": state,
        "updated_at": rfc3339(addon.updated_at),
        "web_url": null,
    })
}

fn attachment_json(catalog: &Catalog, addon: &Addon) -> Value {
    let app = json!({ "id": addon.app_id, "name": addon.app_name });
    json!({
        "addon": { "id": addon.id, "name": addon.name, "app": app },
        "app": app,
        "created_at": rfc3339(addon.created_at),
        "id": attachment_id(addon),
        "log_input_url": null,
        "name": attachment_name(catalog, addon),
        "namespace": null,
        "updated_at": rfc3339(addon.updated_at),
        "web_url": null,
    })
}

fn addon_list(state: &AppState, headers: &HeaderMap, list: Vec<Addon>) -> Response {
    paginate(headers, "name", list, |a| RangeKey::Text(a.name.clone()))
        .map(|a| addon_json(&state.catalog, &a, "provisioned"))
        .into_response()
}

/// A plan as the Heroku CLI sends it: `"svc:plan"`, `{"name": ...}` or `{"id": ...}`.
fn plan_from_json<'a>(catalog: &'a Catalog, value: &Value) -> ApiResult<&'a Plan> {
    let reference = match value {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("id"))
            .and_then(Value::as_str),
        _ => None,
    }
    .ok_or_else(|| ApiError::invalid_params("plan must be a plan name such as postgresql:mini."))?;
    catalog.plan(reference).ok_or_else(|| {
        let shown: String = reference.chars().take(80).collect();
        ApiError::invalid_params(format!(
            "Couldn't find the add-on plan {shown}. See `slipway addons:plans SERVICE`."
        ))
    })
}

async fn find_addon(state: &AppState, member: &AppMember, reference: &str) -> ApiResult<Addon> {
    let mut conn = state.store.read().await?;
    addon_store::find(&mut conn, &member.app.id, reference)
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that add-on."))
}

pub async fn list_for_app(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: AppMember,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let list = addon_store::list_for_app(&mut conn, &member.app.id).await?;
    Ok(addon_list(&state, &headers, list))
}

pub async fn list_all(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let list = addon_store::list_visible_to(&mut conn, &caller.account.id).await?;
    Ok(addon_list(&state, &headers, list))
}

fn attachment_list(state: &AppState, headers: &HeaderMap, list: Vec<Addon>) -> Response {
    paginate(headers, "id", list, |a| RangeKey::Text(attachment_id(a)))
        .map(|a| attachment_json(&state.catalog, &a))
        .into_response()
}

pub async fn attachments(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let list = addon_store::list_visible_to(&mut conn, &caller.account.id).await?;
    Ok(attachment_list(&state, &headers, list))
}

pub async fn attachments_for_app(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: AppMember,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let list = addon_store::list_for_app(&mut conn, &member.app.id).await?;
    Ok(attachment_list(&state, &headers, list))
}

#[derive(Deserialize)]
pub struct NewAddon {
    plan: Value,
    name: Option<String>,
}

impl Params for NewAddon {
    const FIELDS: &'static [&'static str] = &["plan", "name", "attachment", "config", "confirm"];
}

pub async fn create(
    State(state): State<AppState>,
    member: AppMember,
    JsonBody(params): JsonBody<NewAddon>,
) -> ApiResult<impl IntoResponse> {
    let (_lock, member) = member.locked(&state).await?;
    let plan = plan_from_json(&state.catalog, &params.plan)?;
    member.require(addons::action_for(&[plan.price_cents]))?;

    let mut tx = state.store.write().await?;
    let addon = addons::provision(
        &mut tx,
        &member.app,
        member.account(),
        plan,
        params.name.as_deref(),
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;

    tracing::info!(app.id = %member.app.id, addon.id = %addon.id, plan = %plan.full_name(), "add-on created");
    Ok((
        StatusCode::CREATED,
        Json(addon_json(&state.catalog, &addon, "provisioned")),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, addon)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let addon = find_addon(&state, &member, &addon).await?;
    Ok(Json(addon_json(&state.catalog, &addon, "provisioned")))
}

#[derive(Deserialize)]
pub struct AddonUpdate {
    plan: Value,
}

impl Params for AddonUpdate {
    const FIELDS: &'static [&'static str] = &["plan"];
}

/// `PATCH /apps/{app}/addons/{addon}`: moves the add-on to another plan.
pub async fn update(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, addon)): Path<(String, String)>,
    JsonBody(params): JsonBody<AddonUpdate>,
) -> ApiResult<Json<Value>> {
    let (_lock, member) = member.locked(&state).await?;
    let addon = find_addon(&state, &member, &addon).await?;
    let plan = plan_from_json(&state.catalog, &params.plan)?;
    member.require(addons::action_for(&[addon.price_cents, plan.price_cents]))?;

    let mut tx = state.store.write().await?;
    let changed = addons::change_plan(
        &mut tx,
        &member.app,
        member.account(),
        &addon,
        plan,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;

    tracing::info!(app.id = %member.app.id, addon.id = %addon.id, plan = %plan.full_name(), "add-on plan changed");
    Ok(Json(addon_json(&state.catalog, &changed, "provisioned")))
}

/// `DELETE /apps/{app}/addons/{addon}`; the Heroku CLI's `{"force": ...}`
/// body is not read.
pub async fn destroy(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, addon)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_lock, member) = member.locked(&state).await?;
    let addon = find_addon(&state, &member, &addon).await?;
    member.require(addons::action_for(&[addon.price_cents]))?;

    let mut tx = state.store.write().await?;
    addons::deprovision(
        &mut tx,
        &member.app,
        member.account(),
        &addon,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;

    tracing::info!(app.id = %member.app.id, addon.id = %addon.id, "add-on destroyed");
    Ok(Json(addon_json(&state.catalog, &addon, "deprovisioned")))
}

#[derive(Deserialize)]
pub struct ResolveParams {
    addon: String,
    app: Option<String>,
    addon_service: Option<String>,
}

impl Params for ResolveParams {
    const FIELDS: &'static [&'static str] = &["addon", "app", "addon_service"];
}

/// `POST /actions/addons/resolve`: the add-ons the caller can see that match
/// a name or id (and the app, when given), as an array.
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(params): JsonBody<ResolveParams>,
) -> ApiResult<Json<Value>> {
    let app_filter = match &params.app {
        Some(reference) => {
            let mut conn = state.store.read().await?;
            let app = apps::find(&mut conn, reference)
                .await?
                .ok_or_else(ApiError::app_not_found)?;
            drop(conn);
            role_on(&state.store, &app, &caller.account.id)
                .await?
                .ok_or_else(|| {
                    ApiError::from(crate::access::Denied::NoAccess {
                        app: app.name.clone(),
                    })
                })?;
            Some(app.id)
        }
        None => None,
    };

    let mut conn = state.store.read().await?;
    let matches: Vec<Value> = addon_store::list_visible_to(&mut conn, &caller.account.id)
        .await?
        .into_iter()
        .filter(|a| a.name == params.addon || a.id == params.addon)
        .filter(|a| app_filter.as_ref().is_none_or(|id| &a.app_id == id))
        .filter(|a| {
            params
                .addon_service
                .as_ref()
                .is_none_or(|s| &a.service == s)
        })
        .map(|a| addon_json(&state.catalog, &a, "provisioned"))
        .collect();
    if matches.is_empty() {
        return Err(ApiError::not_found("Couldn't find that add-on."));
    }
    Ok(Json(Value::Array(matches)))
}
