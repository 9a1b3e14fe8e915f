//! The API's one error type and its `{id, message}` body.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::login_throttle::Throttled;
use crate::access::Denied;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub id: &'static str,
    pub message: String,
    /// The app the error is about, echoed as `app.name` for the Heroku CLI.
    pub app: Option<String>,
    /// The kind of thing that was not found (`authorization`, `session`),
    /// which the Heroku CLI's logout checks.
    pub resource: Option<&'static str>,
    /// Sent as `Retry-After` (whole seconds) with a 429.
    pub retry_after: Option<Duration>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            id,
            message: message.into(),
            app: None,
            resource: None,
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid credentials provided.",
        )
    }

    /// No `Authorization` header at all (or one Slipway cannot read).
    pub fn no_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "No credentials provided. Log in with `slipway login` or send an API key.",
        )
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_params", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit",
            "Your account reached the API rate limit. Please wait a few minutes before making new requests.",
        )
    }

    /// Too many failed password logins: the message says for how long.
    pub fn login_throttled(throttled: Throttled) -> Self {
        let (whom, wait) = match throttled {
            Throttled::Account(wait) => ("for this account", wait),
            Throttled::Address(wait) => ("from your address", wait),
        };
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit",
            format!("Too many failed logins {whom}; try again in {minutes} {unit}."),
        );
        error.retry_after = Some(wait);
        error
    }

    pub fn app_not_found() -> Self {
        Self::not_found("Couldn't find that app.")
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Internal server error.",
        )
    }

    pub fn with_app(mut self, app: &str) -> Self {
        self.app = Some(app.to_string());
        self
    }

    pub fn with_resource(mut self, resource: &'static str) -> Self {
        self.resource = Some(resource);
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        // The one place unexpected failures are logged at ERROR, with their cause.
        tracing::error!(error = %error, "store failure");
        ApiError::internal()
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        let app = match &denied {
            Denied::NoAccess { app } | Denied::OwnerOnly { app, .. } => app.clone(),
        };
        ApiError::forbidden(denied.to_string()).with_app(&app)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "id": self.id, "message": self.message });
        if let Some(app) = &self.app {
            body["app"] = json!({ "name": app });
        }
        if let Some(resource) = self.resource {
            body["resource"] = json!(resource);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Slipway\""),
            );
        }
        response
    }
}
