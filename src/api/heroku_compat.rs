//! Endpoints the Heroku CLI calls on its way to something else, for features
//! Slipway does not have. They answer what an account without those features
//! gets on Heroku, so that the CLI's everyday commands run unmodified.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::{AppMember, Caller};
use super::error::ApiError;
use super::range::{paginate, RangeKey};

/// An empty list, still answering `Range` requests like every list.
fn empty_list(headers: &HeaderMap, field: &str) -> Response {
    paginate(headers, field, Vec::<Value>::new(), |_| RangeKey::Number(0)).into_response()
}

/// `GET /apps/{app}/pipeline-couplings`: Slipway has no pipelines. The CLI's
/// `apps:info` asks and ignores the 404.
pub async fn pipeline_coupling(member: AppMember) -> ApiError {
    ApiError::not_found(format!("{} is not in a pipeline.", member.app.name))
        .with_resource("pipeline-coupling")
}

/// `GET /account/keys`: git is served over HTTPS with API keys, so no
/// account has SSH keys.
pub async fn account_keys(_caller: Caller, headers: HeaderMap) -> Response {
    empty_list(&headers, "id")
}
