//! Sharing an app: adding and removing collaborators, with the notification
//! and the activity entry written in the same transaction as the change.

use crate::email;
use crate::mail::templates::{self, AppLinks};
use crate::settings::Settings;
use crate::store::accounts::{self, Account, AccountState};
use crate::store::activity::{self, NewActivity};
use crate::store::apps::App;
use crate::store::collaborators::{self, Collaborator};
use crate::store::outbox::{self, NewMessage};
use crate::store::{StoreError, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum SharingError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("{email} owns {app}; the owner cannot be added as a collaborator")]
    IsOwner { email: String, app: String },
    #[error("{email} is already a collaborator on {app}")]
    AlreadyCollaborator { email: String, app: String },
    #[error("The owner cannot be removed from {app}; transfer or delete the app instead")]
    RemoveOwner { app: String },
    #[error("{identity} is not a collaborator on {app}")]
    NotCollaborator { identity: String, app: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a successful add.
pub struct Added {
    pub collaborator: Collaborator,
    /// The address had no account: an invited account was created.
    pub invited: bool,
    /// A notification was queued (false when `silent`).
    pub notified: bool,
}

/// Turns what the caller typed (`~` for themselves) into a canonical email.
fn resolve_email(raw: &str, actor: &Account) -> Result<String, SharingError> {
    if raw.trim() == "~" {
        return Ok(actor.email.clone());
    }
    email::normalize(raw).map_err(SharingError::InvalidEmail)
}

/// Turns how a path names a collaborator (`~` for the caller, an email, or
/// an id) into the canonical form stored. Anything else names nobody, and is
/// refused before it reaches the store.
pub fn resolve_identity(raw: &str, actor: &Account, app: &App) -> Result<String, SharingError> {
    let raw = raw.trim();
    if raw == "~" {
        return Ok(actor.email.clone());
    }
    if raw.contains('@') {
        return email::normalize(raw).map_err(SharingError::InvalidEmail);
    }
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| SharingError::NotCollaborator {
            identity: raw.to_string(),
            app: app.name.clone(),
        })
}

pub async fn add_collaborator(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    app: &App,
    actor: &Account,
    raw_email: &str,
    silent: bool,
    now: i64,
) -> Result<Added, SharingError> {
    let email = resolve_email(raw_email, actor)?;
    if email == app.owner_email {
        return Err(SharingError::IsOwner {
            email,
            app: app.name.clone(),
        });
    }

    let (account, invited) =
        accounts::insert_if_absent(tx.conn(), &email, None, AccountState::Invited, now).await?;
    if !collaborators::insert(tx.conn(), &app.id, &account.id, now).await? {
        return Err(SharingError::AlreadyCollaborator {
            email,
            app: app.name.clone(),
        });
    }
    let collaborator = collaborators::find(tx.conn(), &app.id, &account.id)
        .await?
        .ok_or(StoreError::Sql(sqlx::Error::RowNotFound))?;

    let pending = account.state == AccountState::Invited;
    if !silent {
        let web_url = settings.web_url(&app.name);
        let git_url = settings.git_url(&app.name);
        let links = AppLinks {
            app: &app.name,
            web_url: &web_url,
            git_url: &git_url,
        };
        let rendered = if pending {
            templates::invitation(
                &links,
                &actor.email,
                "Ask the operator of this Slipway server to create your account \
                 for this address; your access is waiting for it.",
            )
        } else {
            templates::access_granted(&links, &actor.email)
        };
        queue(tx, settings, &email, rendered, now).await?;
    }
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &app.id,
            app_name: &app.name,
            actor_id: &actor.id,
            actor_email: &actor.email,
            action: "collaborator.add",
            detail: format!("added {email}{}", if pending { " (invited)" } else { "" }),
        },
        now,
    )
    .await?;
    Ok(Added {
        collaborator,
        invited,
        notified: !silent,
    })
}

/// Removes a collaborator, or lets one leave. Returns the removed entry.
pub async fn remove_collaborator(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    app: &App,
    actor: &Account,
    identity: &str,
    now: i64,
) -> Result<Collaborator, SharingError> {
    let identity = resolve_identity(identity, actor, app)?;
    if identity == app.owner_email || identity == app.owner_id {
        return Err(SharingError::RemoveOwner {
            app: app.name.clone(),
        });
    }
    let Some(collaborator) = collaborators::find(tx.conn(), &app.id, &identity).await? else {
        return Err(SharingError::NotCollaborator {
            identity,
            app: app.name.clone(),
        });
    };
    collaborators::delete(tx.conn(), &app.id, &collaborator.account_id).await?;

    let leaving = collaborator.account_id == actor.id;
    if !leaving {
        let rendered = templates::access_removed(&app.name, &actor.email);
        queue(tx, settings, &collaborator.email, rendered, now).await?;
    }
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &app.id,
            app_name: &app.name,
            actor_id: &actor.id,
            actor_email: &actor.email,
            action: if leaving {
                "collaborator.leave"
            } else {
                "collaborator.remove"
            },
            detail: if leaving {
                format!("{} left", collaborator.email)
            } else {
                format!("removed {}", collaborator.email)
            },
        },
        now,
    )
    .await?;
    Ok(collaborator)
}

async fn queue(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    recipient: &str,
    rendered: templates::Rendered,
    now: i64,
) -> Result<(), StoreError> {
    outbox::enqueue(
        tx.conn(),
        NewMessage {
            template: rendered.template,
            recipient,
            subject: rendered.subject,
            body_text: rendered.body,
        },
        &settings.mail_domain,
        now,
    )
    .await?;
    Ok(())
}
