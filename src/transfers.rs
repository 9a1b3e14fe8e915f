//! Transferring an app to another owner: the owner asks, the recipient (who
//! must already collaborate on the app) accepts or declines. Nothing about
//! the app changes until the recipient accepts; then, in one transaction,
//! the recipient owns it, leaves the collaborator list, the previous owner
//! joins it, and paid add-ons accrue on the new owner from that moment.

use crate::billing;
use crate::email;
use crate::mail::templates::{self, Rendered};
use crate::settings::Settings;
use crate::store::accounts::{self, Account};
use crate::store::activity::{self, NewActivity};
use crate::store::apps::{self, App};
use crate::store::collaborators;
use crate::store::transfers::{self, Transfer};
use crate::store::{StoreError, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// A request that cannot be carried out as asked (422).
    #[error("{0}")]
    Invalid(String),
    /// The caller is party to the transfer but may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such transfer, or none the caller is party to (404).
    #[error("Couldn't find that app transfer.")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn queue(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    app: &App,
    recipient: &str,
    rendered: Rendered,
    now: i64,
) -> Result<(), StoreError> {
    crate::mail::queue_about_app(tx.conn(), settings, &app.id, recipient, rendered, now).await
}

async fn record(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    action: &str,
    detail: String,
    now: i64,
) -> Result<(), StoreError> {
    let entry = NewActivity {
        app_id: &app.id,
        app_name: &app.name,
        actor_id: &actor.id,
        actor_email: &actor.email,
        action,
        detail,
    };
    activity::record(tx.conn(), entry, now).await
}

/// The recipient's account: by email, or by account id.
async fn find_recipient(tx: &mut WriteTx<'_>, raw: &str) -> Result<Option<Account>, TransferError> {
    if raw.contains('@') {
        let email = email::normalize(raw).map_err(TransferError::Invalid)?;
        Ok(accounts::find_by_email(tx.conn(), &email).await?)
    } else {
        Ok(accounts::find_by_id(tx.conn(), raw.trim()).await?)
    }
}

/// Starts a transfer of `app` (the caller is its owner) and mails the recipient.
pub async fn create(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    app: &App,
    owner: &Account,
    raw_recipient: &str,
    now: i64,
) -> Result<Transfer, TransferError> {
    let recipient = find_recipient(tx, raw_recipient).await?;
    let not_collaborator = || {
        TransferError::Invalid(format!(
            "{} is not a collaborator on {}; the recipient must already be a collaborator.",
            raw_recipient.trim(),
            app.name
        ))
    };
    let recipient = recipient.ok_or_else(not_collaborator)?;
    if recipient.id == app.owner_id {
        return Err(TransferError::Invalid(format!(
            "{} already owns {}.",
            recipient.email, app.name
        )));
    }
    if !collaborators::is_collaborator(tx.conn(), &app.id, &recipient.id).await? {
        return Err(not_collaborator());
    }
    if let Some(pending) = transfers::pending_for_app(tx.conn(), &app.id).await? {
        return Err(TransferError::Invalid(format!(
            "A transfer of {} to {} is already pending; cancel it first.",
            app.name, pending.recipient_email
        )));
    }

    let id = uuid::Uuid::new_v4().to_string();
    transfers::insert(tx.conn(), &id, &app.id, &app.owner_id, &recipient.id, now).await?;
    let rendered = templates::transfer_requested(&app.name, &owner.email, &id);
    queue(tx, settings, app, &recipient.email, rendered, now).await?;
    let detail = format!("asked {} to take over {}", recipient.email, app.name);
    record(tx, app, owner, "transfer.create", detail, now).await?;
    transfers::find(tx.conn(), &id)
        .await?
        .ok_or(TransferError::NotFound)
}

/// The transfer as seen by `actor`: only its two parties may see it.
pub async fn visible(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    actor: &Account,
) -> Result<Transfer, TransferError> {
    let transfer = transfers::find(conn, id)
        .await?
        .ok_or(TransferError::NotFound)?;
    if transfer.owner_id != actor.id && transfer.recipient_id != actor.id {
        return Err(TransferError::NotFound);
    }
    Ok(transfer)
}

fn require_pending(transfer: &Transfer) -> Result<(), TransferError> {
    if transfer.state == "pending" {
        Ok(())
    } else {
        Err(TransferError::Invalid(format!(
            "This transfer of {} is already {}.",
            transfer.app_name, transfer.state
        )))
    }
}

/// The recipient accepts or declines.
pub async fn answer(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    id: &str,
    actor: &Account,
    accept: bool,
    now: i64,
) -> Result<Transfer, TransferError> {
    let transfer = visible(tx.conn(), id, actor).await?;
    if transfer.recipient_id != actor.id {
        return Err(TransferError::Forbidden(format!(
            "Only {}, the recipient, can accept or decline this transfer of {}.",
            transfer.recipient_email, transfer.app_name
        )));
    }
    require_pending(&transfer)?;
    let app = apps::find(tx.conn(), &transfer.app_id)
        .await?
        .ok_or(TransferError::NotFound)?;

    if accept {
        hand_over(tx, &app, &transfer, now).await?;
    }
    let state = if accept { "accepted" } else { "declined" };
    transfers::close(tx.conn(), &transfer.id, state, now).await?;
    let rendered = templates::transfer_answered(&app.name, &actor.email, accept);
    queue(tx, settings, &app, &transfer.owner_email, rendered, now).await?;
    let detail = format!(
        "{} {state} the transfer from {}",
        actor.email, transfer.owner_email
    );
    record(tx, &app, actor, &format!("transfer.{state}"), detail, now).await?;
    transfers::find(tx.conn(), id)
        .await?
        .ok_or(TransferError::NotFound)
}

/// Makes the recipient the owner. The previous owner is the one recorded
/// on the transfer, never the account that accepts it.
async fn hand_over(
    tx: &mut WriteTx<'_>,
    app: &App,
    transfer: &Transfer,
    now: i64,
) -> Result<(), TransferError> {
    // The app may have changed since the transfer was made.
    if app.owner_id != transfer.owner_id {
        return Err(TransferError::Invalid(format!(
            "{} changed owner since this transfer was made.",
            app.name
        )));
    }
    if !collaborators::is_collaborator(tx.conn(), &app.id, &transfer.recipient_id).await? {
        return Err(TransferError::Invalid(format!(
            "{} is no longer a collaborator on {}.",
            transfer.recipient_email, app.name
        )));
    }
    apps::set_owner(tx.conn(), &app.id, &transfer.recipient_id, now).await?;
    collaborators::delete(tx.conn(), &app.id, &transfer.recipient_id).await?;
    collaborators::insert(tx.conn(), &app.id, &transfer.owner_id, now).await?;
    billing::move_to_owner(tx, app, &transfer.recipient_id, now).await?;
    Ok(())
}

/// The owner withdraws a pending transfer (the recipient may too: that is
/// declining it).
pub async fn cancel(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    id: &str,
    actor: &Account,
    now: i64,
) -> Result<Transfer, TransferError> {
    let transfer = visible(tx.conn(), id, actor).await?;
    if transfer.recipient_id == actor.id {
        return answer(tx, settings, id, actor, false, now).await;
    }
    require_pending(&transfer)?;
    transfers::close(tx.conn(), &transfer.id, "cancelled", now).await?;
    if let Some(app) = apps::find(tx.conn(), &transfer.app_id).await? {
        let detail = format!("cancelled the transfer to {}", transfer.recipient_email);
        record(tx, &app, actor, "transfer.cancel", detail, now).await?;
    }
    transfers::find(tx.conn(), id)
        .await?
        .ok_or(TransferError::NotFound)
}
