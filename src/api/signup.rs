//! Signing up from an invitation: `GET /invitations/{token}` serves a small
//! page to choose a password, `POST` to it activates the invited account
//! (a form answers with a page, JSON with the account and an API key), and
//! `POST /signup` asks for a fresh link by address.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::account::account_json;
use super::body::{self, Params, MAX_JSON_BODY};
use super::error::{ApiError, ApiResult};
use super::signup_page;
use super::AppState;
use crate::clock::{self, rfc3339};
use crate::invitations::{self, InvitationError, SignupByAddress};
use crate::secrets;
use crate::store::accounts;

impl From<InvitationError> for ApiError {
    fn from(error: InvitationError) -> Self {
        let message = error.to_string();
        match error {
            InvitationError::Store(e) => e.into(),
            InvitationError::Unknown => ApiError::not_found(message),
            InvitationError::Expired { .. } | InvitationError::AllExpired => {
                ApiError::new(StatusCode::GONE, "invitation_expired", message)
            }
            InvitationError::InvitationOnly(_) => ApiError::forbidden(message),
            InvitationError::OtherAddress { .. }
            | InvitationError::InvalidEmail(_)
            | InvitationError::AddressInUse(_) => ApiError::invalid_params(message),
        }
    }
}

/// `GET /invitations/{token}`: the sign-up page, or a page saying why not.
pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let found = async {
        let mut conn = state.store.read().await?;
        invitations::find_valid(&mut conn, &token, clock::now_ms()).await
    }
    .await;
    match found {
        Ok(invitation) => signup_page::form(
            StatusCode::OK,
            &invitation.email,
            &invitation.app_name,
            &invitation.invited_by,
            &rfc3339(invitation.expires_at),
            None,
        ),
        Err(error) => error_page(error.into()),
    }
}

/// The sign-up fields, from the page's form or as JSON.
#[derive(Deserialize)]
pub struct SignupParams {
    password: String,
    #[serde(default)]
    password_confirmation: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl Params for SignupParams {
    const FIELDS: &'static [&'static str] = &["password", "password_confirmation", "email"];
}

/// `POST /invitations/{token}`: activates the invited account.
pub async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let from_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let result = match parse_signup(&body, from_form) {
        Ok(params) => sign_up(&state, &token, &params, !from_form).await,
        Err(error) => Err(error),
    };
    match (result, from_form) {
        (Ok(done), false) => (StatusCode::CREATED, Json(done)).into_response(),
        (Ok(done), true) => signup_page::welcome(
            done["account"]["email"].as_str().unwrap_or_default(),
            &state.settings.public_url,
        ),
        (Err(error), false) => error.into_response(),
        (Err(error), true) if error.status == StatusCode::UNPROCESSABLE_ENTITY => {
            form_again(&state, &token, error).await
        }
        (Err(error), true) => error_page(error),
    }
}

/// The form once more, saying what was wrong with what was typed.
async fn form_again(state: &AppState, token: &str, error: ApiError) -> Response {
    let found = async {
        let mut conn = state.store.read().await?;
        invitations::find_valid(&mut conn, token, clock::now_ms()).await
    }
    .await;
    match found {
        Ok(invitation) => signup_page::form(
            StatusCode::UNPROCESSABLE_ENTITY,
            &invitation.email,
            &invitation.app_name,
            &invitation.invited_by,
            &rfc3339(invitation.expires_at),
            Some(&error.message),
        ),
        Err(_) => error_page(error),
    }
}

fn parse_signup(body: &Bytes, from_form: bool) -> ApiResult<SignupParams> {
    if body.len() > MAX_JSON_BODY {
        return Err(ApiError::bad_request("Request body is too large."));
    }
    if !from_form {
        return body::parse(body);
    }
    let mut params = SignupParams {
        password: String::new(),
        password_confirmation: None,
        email: None,
    };
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "password" => params.password = value.into_owned(),
            "password_confirmation" => params.password_confirmation = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok(params)
}

async fn sign_up(
    state: &AppState,
    token: &str,
    params: &SignupParams,
    with_key: bool,
) -> ApiResult<serde_json::Value> {
    secrets::check_new_password(&params.password).map_err(ApiError::invalid_params)?;
    if params
        .password_confirmation
        .as_deref()
        .is_some_and(|again| again != params.password)
    {
        return Err(ApiError::invalid_params("The two passwords differ."));
    }
    let password = params.password.clone();
    let hash = tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|_| ApiError::internal())?;

    let now = clock::now_ms();
    let mut tx = state.store.write().await?;
    let (account, apps) =
        invitations::accept(&mut tx, token, params.email.as_deref(), &hash, now).await?;
    let key = if with_key {
        let key = secrets::new_token(crate::TOKEN_PREFIX);
        let description = "created at sign-up";
        let digest = secrets::token_digest(&key);
        accounts::insert_api_key(tx.conn(), &account.id, &digest, description, now, None).await?;
        Some(key)
    } else {
        None
    };
    tx.commit().await?;

    tracing::info!(account.id = %account.id, apps = apps.len(), "invited account signed up");
    Ok(json!({ "account": account_json(&account), "apps": apps, "api_key": key }))
}

fn error_page(error: ApiError) -> Response {
    if error.status.is_server_error() {
        return signup_page::problem(error.status, "Something went wrong; try again later.");
    }
    tracing::debug!(status = error.status.as_u16(), message = %error.message, "sign-up refused");
    signup_page::problem(error.status, &error.message)
}

#[derive(Deserialize)]
pub struct SignupByAddressParams {
    email: String,
}

impl Params for SignupByAddressParams {
    const FIELDS: &'static [&'static str] = &["email"];
}

/// `POST /signup {email}`: an invited address gets its links again (to that
/// inbox: holding the token is what proves the address); an address in use
/// gets 422; anyone else learns that accounts come by invitation.
pub async fn by_address(
    State(state): State<AppState>,
    super::body::JsonBody(params): super::body::JsonBody<SignupByAddressParams>,
) -> ApiResult<Response> {
    let mut tx = state.store.write().await?;
    let outcome =
        invitations::signup_by_address(&mut tx, &state.settings, &params.email, clock::now_ms())
            .await?;
    tx.commit().await?;

    let (email, message) = match outcome {
        SignupByAddress::LinkSent { email } => {
            state.mail.wake();
            let message = format!(
                "{email} has a pending invitation: a sign-up link was queued for that address."
            );
            (email, message)
        }
        SignupByAddress::LinkRecentlySent { email } => {
            let message = format!(
                "{email} has a pending invitation and a sign-up link was sent a moment ago; \
                 check that inbox."
            );
            (email, message)
        }
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "email": email, "pending_invitation": true, "message": message })),
    )
        .into_response())
}
