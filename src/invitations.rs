//! Invitations: access promised to an address that has no account yet.
//!
//! Sharing an app with such an address creates an invited account, a pending
//! collaborator entry and an invitation holding a single-use sign-up token
//! (stored as a digest) with a deadline. Signing up with the token gives the
//! account its password; it then sees every app whose invitation had not
//! expired. Re-inviting before the deadline changes nothing; after it, a fresh
//! invitation starts a new deadline.

use sqlx::AnyConnection;

use crate::clock::rfc3339;
use crate::email;
use crate::mail::templates::{self, AppLinks, SignupLink};
use crate::secrets;
use crate::settings::Settings;
use crate::store::accounts::{self, Account, AccountState};
use crate::store::activity::{self, NewActivity};
use crate::store::collaborators;
use crate::store::invitations::{self, Invitation, Issue};
use crate::store::outbox;
use crate::store::{StoreError, WriteTx};

/// Prefix of invitation tokens, so that a pasted one is recognisable.
pub const TOKEN_PREFIX: &str = "slwinv_";
/// A sign-up request for an invited address mails its link at most this often
/// (a link that failed to go out does not count).
const RESEND_COOLDOWN_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error(
        "This invitation link is not valid: it is unknown, was already used, or was cancelled."
    )]
    Unknown,
    #[error("The invitation to {app} expired on {expires}; ask the owner to re-invite you.")]
    Expired { app: String, expires: String },
    #[error("Your invitation expired; ask the owner of the app to re-invite you.")]
    AllExpired,
    #[error("This invitation was sent to {invited}, not to {typed}.")]
    OtherAddress { invited: String, typed: String },
    #[error("{0}")]
    InvalidEmail(String),
    #[error("{0} is already in use by an account; log in with it instead.")]
    AddressInUse(String),
    #[error(
        "Slipway accounts are by invitation: ask the owner of an app to share it with {0}, \
         or the operator to create your account."
    )]
    InvitationOnly(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token handed out, with the deadline it carries.
pub struct Issued {
    pub token: String,
    pub expires_at: i64,
}

/// Makes a new token for the account's invitation to the app and stores its
/// digest, replacing any earlier token. `keep_deadline` keeps the earlier
/// deadline while it has not passed (a re-send); otherwise a fresh one starts.
pub async fn issue(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    app_id: &str,
    account_id: &str,
    invited_by: &str,
    keep_deadline: bool,
    now: i64,
) -> Result<Issued, StoreError> {
    let earlier = invitations::find(tx.conn(), app_id, account_id).await?;
    let expires_at = match earlier {
        Some(earlier) if keep_deadline && !earlier.expired(now) => earlier.expires_at,
        _ => now + settings.invitation_ttl_ms,
    };
    let token = secrets::new_token(TOKEN_PREFIX);
    invitations::upsert(
        tx.conn(),
        Issue {
            app_id,
            account_id,
            invited_by,
            token_hash: &secrets::token_digest(&token),
            expires_at,
        },
        now,
    )
    .await?;
    Ok(Issued { token, expires_at })
}

/// The invitation email for a token just issued.
pub fn invitation_mail(
    settings: &Settings,
    app_name: &str,
    invited_by: &str,
    issued: &Issued,
) -> templates::Rendered {
    let web_url = settings.web_url(app_name);
    let git_url = settings.git_url(app_name);
    let links = AppLinks {
        app: app_name,
        web_url: &web_url,
        git_url: &git_url,
    };
    let url = settings.invitation_url(&issued.token);
    let expires = rfc3339(issued.expires_at);
    templates::invitation(
        &links,
        invited_by,
        &SignupLink {
            url: &url,
            expires: &expires,
        },
    )
}

/// Pulls the token out of what was pasted: the token itself or the whole link.
pub fn token_from_input(raw: &str) -> &str {
    let raw = raw.trim().trim_end_matches('/');
    raw.rsplit('/').next().unwrap_or(raw)
}

/// The invitation a token belongs to, if it is known and has not expired.
pub async fn find_valid(
    conn: &mut AnyConnection,
    token: &str,
    now: i64,
) -> Result<Invitation, InvitationError> {
    let token = token_from_input(token);
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Err(InvitationError::Unknown);
    }
    let digest = secrets::token_digest(token);
    let invitation = invitations::find_by_token_hash(conn, &digest)
        .await?
        .filter(|found| secrets::digests_match(&found.token_hash, &digest))
        .ok_or(InvitationError::Unknown)?;
    if invitation.expired(now) {
        return Err(InvitationError::Expired {
            app: invitation.app_name,
            expires: rfc3339(invitation.expires_at),
        });
    }
    Ok(invitation)
}

/// Turns an invited account into an active one with `password_hash`. Access
/// whose invitation expired is withdrawn first; the rest becomes real access.
/// Returns the names of the apps the account now collaborates on.
pub async fn activate(
    tx: &mut WriteTx<'_>,
    account: &Account,
    password_hash: Option<&str>,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let pending = invitations::list_for_account(tx.conn(), &account.id).await?;
    let mut granted = Vec::new();
    for invitation in &pending {
        if invitation.expired(now) {
            collaborators::delete(tx.conn(), &invitation.app_id, &account.id).await?;
            continue;
        }
        activity::record(
            tx.conn(),
            NewActivity {
                app_id: &invitation.app_id,
                app_name: &invitation.app_name,
                actor_id: &account.id,
                actor_email: &account.email,
                action: "collaborator.accept",
                detail: format!("{} accepted the invitation", account.email),
            },
            now,
        )
        .await?;
        granted.push(invitation.app_name.clone());
    }
    invitations::delete_for_account(tx.conn(), &account.id).await?;
    accounts::activate(tx.conn(), &account.id, password_hash, now).await?;
    Ok(granted)
}

/// Signs up with an invitation token. `typed_email`, when given, must be the
/// invited address (in any case). Nothing changes unless it all succeeds.
pub async fn accept(
    tx: &mut WriteTx<'_>,
    token: &str,
    typed_email: Option<&str>,
    password_hash: &str,
    now: i64,
) -> Result<(Account, Vec<String>), InvitationError> {
    let invitation = find_valid(tx.conn(), token, now).await?;
    if let Some(typed) = typed_email {
        let typed = email::normalize(typed).map_err(InvitationError::InvalidEmail)?;
        if typed != invitation.email {
            return Err(InvitationError::OtherAddress {
                invited: invitation.email,
                typed,
            });
        }
    }
    let account = accounts::find_by_id(tx.conn(), &invitation.account_id)
        .await?
        .filter(|account| account.state == AccountState::Invited)
        .ok_or(InvitationError::Unknown)?;
    let apps = activate(tx, &account, Some(password_hash), now).await?;
    let account = accounts::find_by_id(tx.conn(), &account.id)
        .await?
        .ok_or(StoreError::Sql(sqlx::Error::RowNotFound))?;
    Ok((account, apps))
}

/// What a sign-up by address (no token) did.
pub enum SignupByAddress {
    /// The address has pending invitations: fresh links were mailed to it.
    LinkSent { email: String },
    /// Links were mailed moments ago; none was sent again.
    LinkRecentlySent { email: String },
}

/// `POST /signup`: someone without the invitation email asks to sign up.
/// Access is only ever claimed with a token that reached the invited inbox,
/// so an invited address gets fresh links mailed to it; an address in use is
/// refused, and an address nobody invited cannot open an account.
pub async fn signup_by_address(
    tx: &mut WriteTx<'_>,
    settings: &Settings,
    raw_email: &str,
    now: i64,
) -> Result<SignupByAddress, InvitationError> {
    let email = email::normalize(raw_email).map_err(InvitationError::InvalidEmail)?;
    let account = accounts::find_by_email(tx.conn(), &email).await?;
    let account = match account {
        None => return Err(InvitationError::InvitationOnly(email)),
        Some(account) if account.state == AccountState::Active => {
            return Err(InvitationError::AddressInUse(email))
        }
        Some(account) => account,
    };
    let pending: Vec<Invitation> = invitations::list_for_account(tx.conn(), &account.id)
        .await?
        .into_iter()
        .filter(|invitation| !invitation.expired(now))
        .collect();
    if pending.is_empty() {
        return Err(InvitationError::AllExpired);
    }
    for invitation in &pending {
        let since = now - RESEND_COOLDOWN_MS;
        if outbox::recently_queued(tx.conn(), &invitation.app_id, &email, "invitation", since)
            .await?
        {
            return Ok(SignupByAddress::LinkRecentlySent { email });
        }
    }
    for invitation in pending {
        let issued = issue(
            tx,
            settings,
            &invitation.app_id,
            &account.id,
            &invitation.invited_by,
            true,
            now,
        )
        .await?;
        let rendered = invitation_mail(
            settings,
            &invitation.app_name,
            &invitation.invited_by,
            &issued,
        );
        crate::mail::queue_about_app(
            tx.conn(),
            settings,
            &invitation.app_id,
            &email,
            rendered,
            now,
        )
        .await?;
    }
    Ok(SignupByAddress::LinkSent { email })
}

#[cfg(test)]
mod tests {
    use super::token_from_input;

    #[test]
    fn tokens_come_from_links_or_themselves() {
        assert_eq!(token_from_input("slwinv_abc"), "slwinv_abc");
        assert_eq!(
            token_from_input(" http://h:5000/invitations/slwinv_abc/ "),
            "slwinv_abc"
        );
    }
}
