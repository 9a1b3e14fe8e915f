//! Sharing an app: adding and removing collaborators, with the notification
//! and the activity entry written in the same transaction as the change.

use crate::clock::rfc3339;
use crate::email;
use crate::invitations;
use crate::mail::{self, templates};
use crate::settings::Settings;
use crate::store::accounts::{self, Account, AccountState};
use crate::store::activity::{self, NewActivity};
use crate::store::apps::App;
use crate::store::collaborators::{self, Collaborator};
use crate::store::invitations as stored_invitations;
use crate::store::transfers;
use crate::store::{StoreError, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum SharingError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("{email} owns {app}; the owner cannot be added as a collaborator")]
    IsOwner { email: String, app: String },
    #[error("{email} is already a collaborator on {app}")]
    AlreadyCollaborator { email: String, app: String },
    #[error(
        "{email} already has a pending invitation to {app}, valid until {expires}; \
         use sharing:resend to send it again"
    )]
    AlreadyInvited {
        email: String,
        app: String,
        expires: String,
    },
    #[error("The owner cannot be removed from {app}; transfer or delete the app instead")]
    RemoveOwner { app: String },
    #[error("{email} owns {app}; there is nothing to send them")]
    ResendToOwner { email: String, app: String },
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
    let pending = account.state == AccountState::Invited;
    let reinvite = !collaborators::insert(tx.conn(), &app.id, &account.id, now).await?;
    if reinvite {
        refuse_duplicate(tx, app, &account, now).await?;
    }
    let collaborator = collaborators::find(tx.conn(), &app.id, &account.id)
        .await?
        .ok_or(StoreError::Sql(sqlx::Error::RowNotFound))?;

    // An invitee gets a token even when silent, so that it can be re-sent.
    let rendered = if pending {
        let issued =
            invitations::issue(tx, settings, &app.id, &account.id, &actor.email, false, now)
                .await?;
        invitations::invitation_mail(settings, &app.name, &actor.email, &issued)
    } else {
        access_granted_mail(settings, app, &actor.email)
    };
    if !silent {
        mail::queue_about_app(tx.conn(), settings, &app.id, &email, rendered, now).await?;
    }
    let detail = match (pending, reinvite) {
        (false, _) => format!("added {email}"),
        (true, false) => format!("invited {email}"),
        (true, true) => format!("invited {email} again (the earlier invitation expired)"),
    };
    record(tx, app, actor, "collaborator.add", detail, now).await?;
    Ok(Added {
        collaborator,
        invited,
        notified: !silent,
    })
}

/// Adding someone already there changes nothing and sends nothing, with one
/// exception: an invitee whose invitation expired may be invited afresh.
async fn refuse_duplicate(
    tx: &mut WriteTx<'_>,
    app: &App,
    account: &Account,
    now: i64,
) -> Result<(), SharingError> {
    if account.state == AccountState::Active {
        return Err(SharingError::AlreadyCollaborator {
            email: account.email.clone(),
            app: app.name.clone(),
        });
    }
    match stored_invitations::find(tx.conn(), &app.id, &account.id).await? {
        Some(invitation) if !invitation.expired(now) => Err(SharingError::AlreadyInvited {
            email: account.email.clone(),
            app: app.name.clone(),
            expires: rfc3339(invitation.expires_at),
        }),
        _ => Ok(()),
    }
}

fn access_granted_mail(settings: &Settings, app: &App, shared_by: &str) -> templates::Rendered {
    let web_url = settings.web_url(&app.name);
    let git_url = settings.git_url(&app.name);
    templates::access_granted(
        &templates::AppLinks {
            app: &app.name,
            web_url: &web_url,
            git_url: &git_url,
        },
        shared_by,
    )
}

/// What a re-send did.
pub struct Resent {
    pub collaborator: Collaborator,
    /// An invitation with a new token (the old link stops working).
    pub invitation: bool,
}

/// Sends a collaborator's email again: a pending invitee gets a new link
/// (same deadline while it holds, a fresh one after it passed), anyone else
/// the access notice. A copy of it still waiting in the outbox is withdrawn.
pub async fn resend(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    app: &App,
    actor: &Account,
    identity: &str,
    now: i64,
) -> Result<Resent, SharingError> {
    let identity = resolve_identity(identity, actor, app)?;
    if identity == app.owner_email || identity == app.owner_id {
        return Err(SharingError::ResendToOwner {
            email: app.owner_email.clone(),
            app: app.name.clone(),
        });
    }
    let Some(collaborator) = collaborators::find(tx.conn(), &app.id, &identity).await? else {
        return Err(SharingError::NotCollaborator {
            identity,
            app: app.name.clone(),
        });
    };
    let pending = collaborator.account_state == AccountState::Invited;
    let rendered = if pending {
        let issued = invitations::issue(
            tx,
            settings,
            &app.id,
            &collaborator.account_id,
            &actor.email,
            true,
            now,
        )
        .await?;
        invitations::invitation_mail(settings, &app.name, &actor.email, &issued)
    } else {
        access_granted_mail(settings, app, &actor.email)
    };
    mail::queue_about_app(
        tx.conn(),
        settings,
        &app.id,
        &collaborator.email,
        rendered,
        now,
    )
    .await?;
    let detail = format!(
        "sent the {} to {} again",
        if pending {
            "invitation"
        } else {
            "access notice"
        },
        collaborator.email
    );
    record(tx, app, actor, "collaborator.resend", detail, now).await?;
    Ok(Resent {
        collaborator,
        invitation: pending,
    })
}

/// Removes a collaborator, lets one leave, or cancels a pending invitation.
/// Returns the removed entry.
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
    stored_invitations::delete(tx.conn(), &app.id, &collaborator.account_id).await?;

    let leaving = collaborator.account_id == actor.id;
    let pending = collaborator.account_state == AccountState::Invited;
    // Mail about the app still waiting for them is withdrawn; unless they
    // left, they get the one notice that their access (or invitation) ended.
    crate::store::outbox::supersede(
        tx.conn(),
        &app.id,
        &collaborator.email,
        &["invitation", "access_granted", "transfer_requested"],
    )
    .await?;
    // Only a collaborator can receive the app: an offer to them ends here,
    // rather than coming back to life if they are added again.
    if let Some(offer) = transfers::pending_for_app(tx.conn(), &app.id).await? {
        if offer.recipient_id == collaborator.account_id {
            transfers::close(tx.conn(), &offer.id, "cancelled", now).await?;
            let detail = format!(
                "cancelled the transfer to {}: no longer a collaborator",
                collaborator.email
            );
            record(tx, app, actor, "transfer.cancel", detail, now).await?;
        }
    }
    if !leaving {
        let rendered = templates::access_removed(&app.name, &actor.email, pending);
        mail::queue_about_app(
            tx.conn(),
            settings,
            &app.id,
            &collaborator.email,
            rendered,
            now,
        )
        .await?;
    }
    let (action, detail) = if leaving {
        ("collaborator.leave", format!("{} left", collaborator.email))
    } else if pending {
        (
            "collaborator.remove",
            format!("cancelled the invitation of {}", collaborator.email),
        )
    } else {
        (
            "collaborator.remove",
            format!("removed {}", collaborator.email),
        )
    };
    record(tx, app, actor, action, detail, now).await?;
    Ok(collaborator)
}

async fn record(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    action: &str,
    detail: String,
    now: i64,
) -> Result<(), StoreError> {
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &app.id,
            app_name: &app.name,
            actor_id: &actor.id,
            actor_email: &actor.email,
            action,
            detail,
        },
        now,
    )
    .await
}
