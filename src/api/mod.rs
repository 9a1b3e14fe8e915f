//! The HTTP API, shaped after Heroku's Platform API v3. This file lists every
//! route; each resource has its own module.

pub mod account;
pub mod activity;
pub mod addon_services;
pub mod addons;
pub mod apps;
pub mod auth;
pub mod body;
pub mod collaborators;
pub mod config_vars;
pub mod dynos;
pub mod error;
pub mod formation;
mod git_body;
pub mod git_http;
pub mod heroku_compat;
pub mod invoices;
pub mod login_throttle;
pub mod logs;
pub mod path;
pub mod range;
pub mod rate_limit;
pub mod releases;
pub mod signup;
mod signup_page;
pub mod transfers;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::connect_info::Connected;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::serve::IncomingStream;
use axum::Router;

use crate::addons::catalog::Catalog;
use crate::deploy::Deployer;
use crate::git::Git;
use crate::mail::MailQueue;
use crate::runtime::logs::LogBook;
use crate::runtime::SharedRuntime;
use crate::settings::Settings;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub mail: MailQueue,
    pub catalog: Arc<Catalog>,
    pub rate_limits: rate_limit::RateLimits,
    pub login_throttle: login_throttle::LoginThrottle,
    pub runtime: SharedRuntime,
    pub logs: LogBook,
    pub log_sessions: logs::LogSessions,
    pub deployer: Deployer,
    pub git: Git,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/account", get(account::show))
        .route(
            "/oauth/authorizations",
            post(account::create_authorization).get(account::list_authorizations),
        )
        .route(
            "/oauth/authorizations/{id}",
            get(account::show_authorization).delete(account::delete_authorization),
        )
        .route("/oauth/sessions/{id}", delete(account::delete_session))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/users/{user}/apps", get(apps::list_for_user))
        .route(
            "/apps/{app}",
            get(apps::show).patch(apps::update).delete(apps::destroy),
        )
        .route(
            "/apps/{app}/collaborators",
            get(collaborators::list).post(collaborators::create),
        )
        .route(
            "/apps/{app}/collaborators/{collaborator}",
            get(collaborators::show).delete(collaborators::destroy),
        )
        .route(
            "/apps/{app}/collaborators/{collaborator}/resend",
            post(collaborators::resend),
        )
        .route("/apps/{app}/activity", get(activity::list))
        .route(
            "/apps/{app}/dynos",
            get(dynos::list).delete(dynos::restart_all),
        )
        .route(
            "/apps/{app}/dynos/{dyno}",
            get(dynos::show).delete(dynos::restart),
        )
        .route("/apps/{app}/dynos/{dyno}/actions/stop", post(dynos::stop))
        .route("/apps/{app}/formations/{type}", delete(dynos::restart_type))
        .route(
            "/apps/{app}/formations/{type}/actions/stop",
            post(dynos::stop_type),
        )
        .route("/apps/{app}/log-sessions", post(logs::create))
        .route("/log-streams/{token}", get(logs::stream))
        .route(
            "/apps/{app}/config-vars",
            get(config_vars::show).patch(config_vars::update),
        )
        .route(
            "/apps/{app}/formation",
            get(formation::list).patch(formation::update_batch),
        )
        .route(
            "/apps/{app}/formation/{type}",
            get(formation::show).patch(formation::update_one),
        )
        .route("/addon-services", get(addon_services::list))
        .route("/addon-services/{service}", get(addon_services::show))
        .route(
            "/addon-services/{service}/plans",
            get(addon_services::plans),
        )
        .route(
            "/addon-services/{service}/plans/{plan}",
            get(addon_services::plan),
        )
        .route(
            "/apps/{app}/addons",
            get(addons::list_for_app).post(addons::create),
        )
        .route(
            "/apps/{app}/addons/{addon}",
            get(addons::show)
                .patch(addons::update)
                .delete(addons::destroy),
        )
        .route(
            "/apps/{app}/addon-attachments",
            get(addons::attachments_for_app),
        )
        .route("/addons", get(addons::list_all))
        .route("/addon-attachments", get(addons::attachments))
        .route("/actions/addons/resolve", post(addons::resolve))
        .route("/account/invoices", get(invoices::list))
        .route("/account/invoices/{number}", get(invoices::show))
        .route("/apps/{app}/charges", get(invoices::app_charges))
        .route(
            "/account/app-transfers",
            get(transfers::list).post(transfers::create),
        )
        .route(
            "/account/app-transfers/{id}",
            get(transfers::show)
                .patch(transfers::update)
                .delete(transfers::destroy),
        )
        .route(
            "/apps/{app}/pipeline-couplings",
            get(heroku_compat::pipeline_coupling),
        )
        .route("/account/keys", get(heroku_compat::account_keys))
        .route(
            "/invitations/{token}",
            get(signup::show).post(signup::accept),
        )
        .route("/signup", post(signup::by_address))
        .route("/apps/{app}/releases", get(releases::list))
        .route("/apps/{app}/releases/{release}", get(releases::show))
        .route("/{repo}/info/refs", get(git_http::info_refs))
        .route("/{repo}/git-upload-pack", post(git_http::upload_pack))
        .route("/{repo}/git-receive-pack", post(git_http::receive_pack))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(request_context))
        .with_state(state)
}

/// What the push hooks call, served on a loopback port of its own.
pub fn hook_router(state: AppState) -> Router {
    Router::new()
        .route("/internal/git/hooks/{hook}", post(git_http::hook))
        .layer(axum::middleware::from_fn(request_context))
        .with_state(state)
}

async fn not_found() -> error::ApiError {
    error::ApiError::not_found("The requested API endpoint was not found.")
}

async fn method_not_allowed(method: axum::http::Method) -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("This endpoint does not accept {method}."),
    )
}

/// The client's address, as the connection gives it (plain or TLS).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// Per-request facts filled in by extractors and read by the log line.
#[derive(Clone, Default)]
pub struct RequestContext {
    pub account_id: Arc<OnceLock<String>>,
    /// Requests the caller has left this hour, once authenticated.
    pub rate_limit_remaining: Arc<OnceLock<u32>>,
}

/// Gives each request an id, echoes it, and writes one log line per request.
async fn request_context(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let context = RequestContext::default();
    request.extensions_mut().insert(context.clone());
    let method = request.method().clone();
    // The router has not matched yet at this layer, so the path is logged.
    let path = request.uri().path().to_string();

    let mut response = next.run(request).await;

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", value);
    }
    if let Some(remaining) = context.rate_limit_remaining.get() {
        response
            .headers_mut()
            .insert("ratelimit-remaining", HeaderValue::from(*remaining));
    }
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let account_id = context.account_id.get().map(String::as_str).unwrap_or("-");
    tracing::info!(
        http.method = %method,
        http.path = %path,
        http.status = status,
        latency_ms = format!("{latency_ms:.1}"),
        request_id = %request_id,
        account.id = account_id,
        "request"
    );
    response
}
