//! Who is calling: the authenticated account, and how it relates to the app
//! named in the path. Handlers name what they need in their signature.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::Engine;

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::access::{self, Action, Role};
use crate::clock;
use crate::locks::AppLockGuard;
use crate::names;
use crate::secrets;
use crate::store::accounts::{self, Account};
use crate::store::apps::{self, App};
use crate::store::Store;

/// Credentials as sent: a bearer token, or HTTP Basic (user, password).
pub enum Credentials {
    Bearer(String),
    Basic { user: String, password: String },
}

impl Credentials {
    pub fn from_headers(headers: &HeaderMap) -> Option<Credentials> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, rest) = value.split_once(' ')?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(Credentials::Bearer(rest.to_string()));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, password) = decoded.split_once(':')?;
            return Some(Credentials::Basic {
                user: user.to_string(),
                password: password.to_string(),
            });
        }
        None
    }

    /// The API key these credentials carry: the bearer token, or the Basic
    /// password (any user name, as git and the Heroku CLI send it).
    pub fn api_key(&self) -> &str {
        match self {
            Credentials::Bearer(token) => token,
            Credentials::Basic { password, .. } => password,
        }
    }
}

/// Resolves an API key to its active account; None for unknown or expired keys.
pub async fn account_for_key(store: &Store, key: &str) -> ApiResult<Option<(Account, String)>> {
    if key.is_empty() || key.len() > 512 {
        return Ok(None);
    }
    let digest = secrets::token_digest(key);
    let mut conn = store.read().await?;
    let found = accounts::find_by_key_hash(&mut conn, &digest, clock::now_ms()).await?;
    Ok(found.and_then(|(account, api_key, stored)| {
        secrets::digests_match(&stored, &digest).then_some((account, api_key.id))
    }))
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
    pub key_id: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let credentials =
            Credentials::from_headers(&parts.headers).ok_or_else(ApiError::no_credentials)?;
        let (account, key_id) = account_for_key(&state.store, credentials.api_key())
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let remaining = state.rate_limits.take(&account.id);
        if let Some(context) = parts.extensions.get::<super::RequestContext>() {
            let _ = context.account_id.set(account.id.clone());
            let _ = context.rate_limit_remaining.set(remaining.unwrap_or(0));
        }
        if remaining.is_none() {
            tracing::warn!(account.id = %account.id, "rate limit reached");
            return Err(ApiError::rate_limited());
        }
        let caller = Caller { account, key_id };
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The caller's link to an existing app, looked up fresh on every request so
/// that a revoked collaborator is refused at once.
pub async fn role_on(store: &Store, app: &App, account_id: &str) -> ApiResult<Option<Role>> {
    let mut conn = store.read().await?;
    Ok(access::role_of(&mut conn, app, account_id).await?)
}

/// An authenticated caller with some role on the app in the `{app}` path
/// segment. Strangers are refused here (403); unknown apps are 404.
#[derive(Debug, Clone)]
pub struct AppMember {
    pub caller: Caller,
    pub app: App,
    pub role: Role,
}

impl AppMember {
    /// Takes the app's lock and reloads the app and the caller's role under
    /// it, so that a change which depends on who owns the app (what a paid
    /// add-on bills, who may scale) cannot interleave with a transfer.
    pub async fn locked(self, state: &AppState) -> ApiResult<(AppLockGuard, AppMember)> {
        let guard = lock_app(state, &self.app.id).await?;
        let app = {
            let mut conn = state.store.read().await?;
            apps::find(&mut conn, &self.app.id)
                .await?
                .ok_or_else(ApiError::app_not_found)?
        };
        let role = role_on(&state.store, &app, &self.caller.account.id).await?;
        let role = access::authorize(role, Action::ViewApp, &app.name, &app.owner_email)?;
        let member = AppMember {
            caller: self.caller,
            app,
            role,
        };
        Ok((guard, member))
    }

    /// Refuses the action unless the member's role allows it.
    pub fn require(&self, action: Action) -> ApiResult<()> {
        access::authorize(
            Some(self.role),
            action,
            &self.app.name,
            &self.app.owner_email,
        )?;
        Ok(())
    }

    pub fn account(&self) -> &Account {
        &self.caller.account
    }
}

impl FromRequestParts<AppState> for AppMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        let app_ref = params
            .iter()
            .find(|(key, _)| *key == "app")
            .map(|(_, value)| value.to_string())
            .ok_or_else(ApiError::app_not_found)?;
        // Only a valid name or an id can name an app; anything else (a NUL
        // byte, say, which PostgreSQL refuses in text) never reaches the store.
        if names::validate_app_name(&app_ref).is_err() && uuid::Uuid::parse_str(&app_ref).is_err() {
            return Err(ApiError::app_not_found());
        }

        let app = {
            let mut conn = state.store.read().await?;
            apps::find(&mut conn, &app_ref)
                .await?
                .ok_or_else(ApiError::app_not_found)?
        };
        let role = role_on(&state.store, &app, &caller.account.id).await?;
        let role = access::authorize(role, Action::ViewApp, &app.name, &app.owner_email)?;
        Ok(AppMember { caller, app, role })
    }
}

/// Takes the app's lock. The lock's future cannot be proven `Send` for every
/// lifetime, as axum handlers need, so it is driven on a blocking thread of
/// the runtime; the guard itself moves freely.
pub async fn lock_app(state: &AppState, app_id: &str) -> ApiResult<AppLockGuard> {
    let locks = state.store.locks().clone();
    let app_id = app_id.to_string();
    let runtime = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || runtime.block_on(locks.lock(&app_id)));
    match task.await {
        Ok(result) => Ok(result?),
        Err(e) => {
            tracing::error!(error = %e, "app lock task failed");
            Err(ApiError::internal())
        }
    }
}
