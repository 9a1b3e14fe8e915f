//! `GET /apps/{app}/activity`: who changed what, oldest first.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::AppMember;
use super::error::ApiResult;
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::access::Action;
use crate::clock::rfc3339;
use crate::store::activity;

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: AppMember,
) -> ApiResult<Response> {
    member.require(Action::ViewActivity)?;
    let mut conn = state.store.read().await?;
    let entries = activity::list(&mut conn, &member.app.id).await?;
    Ok(
        paginate(&headers, "seq", entries, |e| RangeKey::Number(e.seq))
            .map(|e| {
                json!({
                    "id": e.id,
                    "seq": e.seq,
                    "action": e.action,
                    "description": e.detail,
                    "user": { "id": e.actor_id, "email": e.actor_email },
                    "app": { "id": e.app_id, "name": e.app_name },
                    "created_at": rfc3339(e.created_at),
                })
            })
            .into_response(),
    )
}
