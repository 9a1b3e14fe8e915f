//! The caller's account and its API keys (`/account`, `/oauth/...`).

use std::net::IpAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Caller, Credentials};
use super::body::{JsonBody, Params};
use super::error::{ApiError, ApiResult};
use super::path::Path;
use super::range::{paginate, RangeKey};
use super::{AppState, ClientAddr};
use crate::clock::{self, rfc3339};
use crate::secrets;
use crate::store::accounts::{self, Account, AccountState, ApiKey};

/// Longest lifetime a new token may ask for: 30 days, as the Heroku CLI asks.
const MAX_EXPIRES_IN_SECS: i64 = 30 * 24 * 3600;

pub fn account_json(account: &Account) -> Value {
    json!({
        "allow_tracking": false,
        "beta": false,
        "country_of_residence": null,
        "created_at": rfc3339(account.created_at),
        "default_organization": null,
        "default_team": null,
        "delinquent_at": null,
        "email": account.email,
        "federated": false,
        "id": account.id,
        "identity_provider": null,
        "last_login": account.last_login_at.map(rfc3339),
        "name": null,
        "sms_number": null,
        "suspended_at": null,
        "two_factor_authentication": false,
        "updated_at": rfc3339(account.updated_at),
        "verified": account.state == AccountState::Active,
    })
}

pub async fn show(caller: Caller) -> Json<Value> {
    Json(account_json(&caller.account))
}

fn authorization_json(key: &ApiKey, account: &Account, token: Option<&str>) -> Value {
    let expires_in = key
        .expires_at
        .map(|at| ((at - clock::now_ms()) / 1000).max(0));
    json!({
        "access_token": {
            "expires_in": expires_in,
            "id": key.id,
            // Only hashes are stored: a token is shown when it is created
            // and to the caller using it, else as "" (no client matches that).
            "token": token.unwrap_or_default(),
        },
        "client": null,
        "created_at": rfc3339(key.created_at),
        "description": key.description,
        "grant": null,
        "id": key.id,
        "refresh_token": null,
        "scope": ["global"],
        "session": null,
        "updated_at": rfc3339(key.created_at),
        "user": { "email": account.email, "full_name": null, "id": account.id },
    })
}

#[derive(Deserialize, Default)]
pub struct NewAuthorization {
    description: Option<String>,
    expires_in: Option<i64>,
}

impl Params for NewAuthorization {
    const FIELDS: &'static [&'static str] = &["description", "expires_in", "scope", "client"];
}

/// Checks an email and password, answering 401 alike for an unknown address,
/// an invited account without a password, and a wrong password, and 429 once
/// the login throttle holds the account or the client's address back (then
/// without looking at the password).
pub async fn verify_login(
    state: &AppState,
    email: &str,
    password: &str,
    client: Option<IpAddr>,
) -> ApiResult<Account> {
    let email = crate::email::normalize(email).ok();
    let attempt = state
        .login_throttle
        .begin(email.as_deref(), client)
        .map_err(|throttled| {
            tracing::warn!(?throttled, client = ?client, "password login throttled");
            ApiError::login_throttled(throttled)
        })?;
    let account = check_password(state, email, password).await?;
    attempt.succeeded();
    Ok(account)
}

async fn check_password(
    state: &AppState,
    email: Option<String>,
    password: &str,
) -> ApiResult<Account> {
    let Some(email) = email else {
        return Err(ApiError::unauthorized());
    };
    if password.len() > secrets::MAX_PASSWORD_LEN {
        return Err(ApiError::unauthorized());
    }
    let account = {
        let mut conn = state.store.read().await?;
        accounts::find_by_email(&mut conn, &email).await?
    };
    let account = account.filter(|a| a.state == AccountState::Active);
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    // Without a usable account the password is checked against a stand-in
    // hash all the same, so that the answer takes as long and the timing
    // does not tell which addresses have accounts.
    let known = stored.is_some();
    let hash = stored.unwrap_or_else(|| secrets::stand_in_password_hash().to_string());
    // argon2 is slow on purpose: it runs off the async threads.
    let password = password.to_string();
    let matched = tokio::task::spawn_blocking(move || secrets::verify_password(&password, &hash))
        .await
        .map_err(|_| ApiError::internal())?;
    match account {
        Some(account) if known && matched => Ok(account),
        _ => Err(ApiError::unauthorized()),
    }
}

/// `POST /oauth/authorizations`: a new API key, for Basic email:password (a
/// login) or for an already authenticated caller.
pub async fn create_authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    connection: Option<Extension<ConnectInfo<ClientAddr>>>,
    JsonBody(params): JsonBody<NewAuthorization>,
) -> ApiResult<impl IntoResponse> {
    let credentials = Credentials::from_headers(&headers).ok_or_else(ApiError::no_credentials)?;
    // An API key works here as everywhere, also as a Basic password beside an
    // email (as `~/.netrc` holds it); otherwise Basic is an email and password.
    let account = match super::auth::account_for_key(&state.store, credentials.api_key()).await? {
        Some((account, _)) => account,
        None => match &credentials {
            Credentials::Basic { user, password } if user.contains('@') => {
                let client = connection.map(|Extension(ConnectInfo(ClientAddr(peer)))| peer.ip());
                verify_login(&state, user, password, client).await?
            }
            _ => return Err(ApiError::unauthorized()),
        },
    };
    let expires_in = match params.expires_in {
        Some(secs) if !(1..=MAX_EXPIRES_IN_SECS).contains(&secs) => {
            return Err(ApiError::invalid_params(format!(
                "expires_in must be between 1 and {MAX_EXPIRES_IN_SECS} seconds"
            )))
        }
        other => other,
    };
    let description = params
        .description
        .unwrap_or_else(|| "API key".to_string())
        .chars()
        .take(200)
        .collect::<String>();

    let now = clock::now_ms();
    let token = secrets::new_token(crate::TOKEN_PREFIX);
    let mut tx = state.store.write().await?;
    let key = accounts::insert_api_key(
        tx.conn(),
        &account.id,
        &secrets::token_digest(&token),
        &description,
        now,
        expires_in.map(|secs| now + secs * 1000),
    )
    .await?;
    accounts::touch_login(tx.conn(), &account.id, now).await?;
    tx.commit().await?;

    tracing::info!(account.id = %account.id, key.id = %key.id, "api key created");
    Ok((
        StatusCode::CREATED,
        Json(authorization_json(&key, &account, Some(&token))),
    ))
}

/// The caller's API keys. Only hashes are stored, so tokens are not shown,
/// except the one the caller is using right now: it is echoed so that the
/// Heroku CLI can find (`auth:token`) and revoke (`logout`) its own key.
pub async fn list_authorizations(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let keys = accounts::list_api_keys(&mut conn, &caller.account.id).await?;
    let presented = Credentials::from_headers(&headers);
    let token_of = |key: &ApiKey| {
        presented
            .as_ref()
            .filter(|_| key.id == caller.key_id)
            .map(|c| c.api_key().to_string())
    };
    Ok(
        paginate(&headers, "id", keys, |key| RangeKey::Text(key.id.clone()))
            .map(|key| authorization_json(&key, &caller.account, token_of(&key).as_deref()))
            .into_response(),
    )
}

/// One of the caller's keys. `~` would be the account's default key, which
/// Slipway does not have: every key is one the user asked for.
pub async fn show_authorization(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut conn = state.store.read().await?;
    let keys = accounts::list_api_keys(&mut conn, &caller.account.id).await?;
    keys.iter()
        .find(|key| key.id == id)
        .map(|key| Json(authorization_json(key, &caller.account, None)))
        .ok_or_else(authorization_not_found)
}

fn authorization_not_found() -> ApiError {
    ApiError::not_found("Couldn't find that authorization.").with_resource("authorization")
}

pub async fn delete_authorization(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut tx = state.store.write().await?;
    let keys = accounts::list_api_keys(tx.conn(), &caller.account.id).await?;
    let key = keys
        .into_iter()
        .find(|key| key.id == id)
        .ok_or_else(authorization_not_found)?;
    accounts::delete_api_key(tx.conn(), &caller.account.id, &key.id).await?;
    tx.commit().await?;
    Ok(Json(authorization_json(&key, &caller.account, None)))
}

/// Slipway has no browser sessions; the Heroku CLI's logout tolerates this 404.
pub async fn delete_session(_caller: Caller) -> ApiError {
    ApiError::not_found("Couldn't find that session.").with_resource("session")
}
