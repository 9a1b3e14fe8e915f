//! Collaborators of an app: list, add, show, remove (and leave).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::AppMember;
use super::body::{JsonBody, Params};
use super::error::{ApiError, ApiResult};
use super::path::Path;
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::access::Action;
use crate::clock::{self, rfc3339};
use crate::sharing::{self, SharingError};
use crate::store::accounts::AccountState;
use crate::store::apps::App;
use crate::store::collaborators::{self, Collaborator};
use crate::store::invitations::{self, Invitation};

impl From<SharingError> for ApiError {
    fn from(error: SharingError) -> Self {
        match error {
            SharingError::Store(e) => e.into(),
            SharingError::NotCollaborator { .. } => ApiError::not_found(error.to_string()),
            other => ApiError::invalid_params(other.to_string()),
        }
    }
}

fn collaborator_json(app: &App, c: &Collaborator, invitation: Option<&Invitation>) -> Value {
    let invitation = invitation.map(|i| {
        json!({
            "id": i.id,
            "created_at": rfc3339(i.created_at),
            "expires_at": rfc3339(i.expires_at),
            "link_issued_at": rfc3339(i.issued_at),
            "expired": i.expired(clock::now_ms()),
            "invited_by": i.invited_by,
        })
    });
    json!({
        "app": { "id": app.id, "name": app.name },
        "created_at": rfc3339(c.created_at),
        "id": c.id,
        "invitation": invitation,
        "pending": c.account_state == AccountState::Invited,
        "role": "collaborator",
        "updated_at": rfc3339(c.updated_at),
        "user": { "email": c.email, "federated": false, "id": c.account_id },
    })
}

/// The owner appears in the list too, with role `owner`.
fn owner_json(app: &App) -> Value {
    json!({
        "app": { "id": app.id, "name": app.name },
        "created_at": rfc3339(app.created_at),
        "id": app.owner_id,
        "pending": false,
        "role": "owner",
        "updated_at": rfc3339(app.created_at),
        "user": { "email": app.owner_email, "federated": false, "id": app.owner_id },
    })
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: AppMember,
) -> ApiResult<Response> {
    let mut conn = state.store.read().await?;
    let app = &member.app;
    let mut entries = vec![(app.owner_email.clone(), owner_json(app))];
    let invitations = invitations::list_for_app(&mut conn, &app.id).await?;
    for c in collaborators::list(&mut conn, &app.id).await? {
        let invitation = invitations.iter().find(|i| i.account_id == c.account_id);
        entries.push((c.email.clone(), collaborator_json(app, &c, invitation)));
    }
    Ok(paginate(&headers, "email", entries, |(email, _)| {
        RangeKey::Text(email.clone())
    })
    .map(|(_, value)| value)
    .into_response())
}

#[derive(Deserialize)]
pub struct NewCollaborator {
    user: String,
    #[serde(default)]
    silent: bool,
}

impl Params for NewCollaborator {
    const FIELDS: &'static [&'static str] = &["user", "silent"];
}

pub async fn create(
    State(state): State<AppState>,
    member: AppMember,
    JsonBody(params): JsonBody<NewCollaborator>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::AddCollaborator)?;

    let now = clock::now_ms();
    let mut tx = state.store.write().await?;
    let added = sharing::add_collaborator(
        &mut tx,
        &state.settings,
        &member.app,
        member.account(),
        &params.user,
        params.silent,
        now,
    )
    .await?;
    tx.commit().await?;

    if added.notified {
        state.mail.wake();
    }
    tracing::info!(
        app.id = %member.app.id,
        collaborator.id = %added.collaborator.id,
        invited = added.invited,
        "collaborator added"
    );
    let invitation = pending_invitation(&state, &added.collaborator).await?;
    let mut body = collaborator_json(&member.app, &added.collaborator, invitation.as_ref());
    // Say what happened to the email honestly: it is queued, not yet sent.
    body["notification"] = json!(if added.notified { "queued" } else { "none" });
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn show(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, identity)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let app = &member.app;
    let identity = sharing::resolve_identity(&identity, member.account(), app)?;
    if identity == app.owner_email || identity == app.owner_id {
        return Ok(Json(owner_json(app)));
    }
    let mut conn = state.store.read().await?;
    let collaborator = collaborators::find(&mut conn, &app.id, &identity)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("{identity} is not a collaborator on {}", app.name))
        })?;
    let invitation = pending_invitation(&state, &collaborator).await?;
    Ok(Json(collaborator_json(
        app,
        &collaborator,
        invitation.as_ref(),
    )))
}

async fn pending_invitation(state: &AppState, c: &Collaborator) -> ApiResult<Option<Invitation>> {
    let mut conn = state.store.read().await?;
    Ok(invitations::find(&mut conn, &c.app_id, &c.account_id).await?)
}

pub async fn destroy(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, identity)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let me = member.account();
    let target = sharing::resolve_identity(&identity, me, &member.app)?;
    let leaving = target == me.email || target == me.id;
    member.require(if leaving {
        Action::Leave
    } else {
        Action::RemoveCollaborator
    })?;

    let mut tx = state.store.write().await?;
    let removed = sharing::remove_collaborator(
        &mut tx,
        &state.settings,
        &member.app,
        member.account(),
        &identity,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;

    state.mail.wake();
    tracing::info!(app.id = %member.app.id, collaborator.id = %removed.id, "collaborator removed");
    Ok(Json(collaborator_json(&member.app, &removed, None)))
}

/// `POST /apps/{app}/collaborators/{collaborator}/resend`: the invitation (with
/// a new link) or the access notice again, for whoever may add collaborators.
pub async fn resend(
    State(state): State<AppState>,
    member: AppMember,
    Path((_, identity)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::AddCollaborator)?;

    let mut tx = state.store.write().await?;
    let resent = sharing::resend(
        &mut tx,
        &state.settings,
        &member.app,
        member.account(),
        &identity,
        clock::now_ms(),
    )
    .await?;
    tx.commit().await?;

    state.mail.wake();
    tracing::info!(
        app.id = %member.app.id,
        collaborator.id = %resent.collaborator.id,
        invitation = resent.invitation,
        "collaborator mail re-sent"
    );
    let invitation = pending_invitation(&state, &resent.collaborator).await?;
    let mut body = collaborator_json(&member.app, &resent.collaborator, invitation.as_ref());
    body["notification"] = json!("queued");
    Ok((StatusCode::ACCEPTED, Json(body)))
}
