//! The add-on catalog: `/addon-services` and their plans.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::path::Path;
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::addons::catalog::{Plan, Service};

/// The catalog is timeless; these stand in for its entries' dates.
const CATALOG_DATE: &str = "2026-01-01T00:00:00Z";

pub fn price_json(cents: i64) -> Value {
    json!({ "cents": cents, "contract": false, "metered": false, "unit": "month" })
}

pub fn service_json(service: &Service) -> Value {
    json!({
        "cli_plugin_name": null,
        "created_at": CATALOG_DATE,
        "description": service.description,
        "human_name": service.human_name,
        "id": service.id,
        "name": service.name,
        "state": "ga",
        "supported_generations": [],
        "supports_multiple_installations": true,
        "supports_sharing": false,
        "updated_at": CATALOG_DATE,
    })
}

pub fn plan_json(service: &Service, plan: &Plan) -> Value {
    json!({
        "addon_service": { "id": service.id, "name": service.name },
        "compliance": null,
        "created_at": CATALOG_DATE,
        "default": service.default_plan().is_some_and(|d| d.id == plan.id),
        "description": plan.description,
        "human_name": plan.human_name,
        "id": plan.id,
        "installable_inside_private_network": false,
        "installable_outside_private_network": true,
        "name": plan.full_name(),
        "price": price_json(plan.price_cents),
        "space_default": false,
        "state": "public",
        "updated_at": CATALOG_DATE,
        "visible": true,
    })
}

fn find_service<'a>(state: &'a AppState, reference: &str) -> ApiResult<&'a Service> {
    state.catalog.service(reference).ok_or_else(|| {
        ApiError::not_found(format!("Couldn't find the add-on service {reference}."))
    })
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, _caller: Caller) -> Response {
    let services: Vec<&Service> = state.catalog.services.iter().collect();
    paginate(&headers, "name", services, |s| {
        RangeKey::Text(s.name.clone())
    })
    .map(service_json)
    .into_response()
}

pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    Path(service): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(service_json(find_service(&state, &service)?)))
}

/// Plans in catalog order (cheapest first, as the file lists them).
pub async fn plans(
    State(state): State<AppState>,
    _caller: Caller,
    Path(service): Path<String>,
) -> ApiResult<Json<Value>> {
    let service = find_service(&state, &service)?;
    let plans = service
        .plans
        .iter()
        .map(|p| plan_json(service, p))
        .collect();
    Ok(Json(Value::Array(plans)))
}

pub async fn plan(
    State(state): State<AppState>,
    _caller: Caller,
    Path((service, plan)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let service = find_service(&state, &service)?;
    let plan = service
        .plan(&plan)
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find the plan {plan}.")))?;
    Ok(Json(plan_json(service, plan)))
}
