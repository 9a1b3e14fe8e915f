//! `GET /apps/{app}/releases` and `GET /apps/{app}/releases/{id_or_version}`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::AppMember;
use super::error::{ApiError, ApiResult};
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::access::Action;
use crate::clock::rfc3339;
use crate::store::releases::{self, Release};

/// A release in the Platform API's shape.
pub fn release_json(release: &Release, current_version: i64) -> Value {
    let slug = release.slug_id.as_ref().map(|id| json!({ "id": id }));
    let artifacts: Vec<Value> = release
        .slug_id
        .iter()
        .map(|id| json!({ "type": "slug", "id": id }))
        .collect();
    json!({
        "addon_plan_names": [],
        "artifacts": artifacts,
        "app": { "id": release.app_id, "name": release.app_name },
        "created_at": rfc3339(release.created_at),
        "description": release.description,
        "status": release.status,
        "id": release.id,
        "slug": slug,
        "updated_at": rfc3339(release.updated_at),
        "user": { "id": release.actor_id, "email": release.actor_email },
        "version": release.version,
        "current": release.version == current_version,
        "output_stream_url": null,
        "eligible_for_rollback": release.slug_id.is_some(),
    })
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: AppMember,
) -> ApiResult<Response> {
    member.require(Action::ViewApp)?;
    let mut conn = state.store.read().await?;
    let all = releases::list(&mut conn, &member.app.id).await?;
    let current = all.last().map(|r| r.version).unwrap_or(0);
    Ok(
        paginate(&headers, "version", all, |r| RangeKey::Number(r.version))
            .map(|r| release_json(&r, current))
            .into_response(),
    )
}

pub async fn show(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, id_or_version)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    member.require(Action::ViewApp)?;
    let mut conn = state.store.read().await?;
    let key = id_or_version.trim_start_matches('v');
    let release = releases::find(&mut conn, &member.app.id, key)
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that release."))?;
    let current = releases::latest(&mut conn, &member.app.id)
        .await?
        .map(|r| r.version)
        .unwrap_or(0);
    Ok(Json(release_json(&release, current)))
}
