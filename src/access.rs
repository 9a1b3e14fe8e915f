//! The one place that answers "may this account do this to this app?".
//!
//! Every handler and the git endpoint ask here; nothing else decides. The rule
//! from the product: a collaborator may do everything the owner may, except
//! the owner-only actions listed in [`Action::owner_only`].

use std::fmt;

use sqlx::AnyConnection;

use crate::store::apps::App;
use crate::store::{collaborators, StoreResult};

/// How an account relates to an app. The order matters: a higher role may do
/// everything a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Collaborator,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Collaborator => "collaborator",
            Role::Owner => "owner",
        }
    }
}

/// Everything that can be done to an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ViewApp,
    ViewActivity,
    AddCollaborator,
    RemoveCollaborator,
    Leave,
    Deploy,
    FetchCode,
    ReadConfig,
    ChangeConfig,
    Scale,
    Restart,
    ViewLogs,
    ManageFreeAddon,
    ManagePaidAddon,
    Rename,
    Delete,
    Transfer,
    ViewCharges,
}

impl Action {
    /// The least role that may perform the action.
    pub fn required_role(self) -> Role {
        if self.owner_only() {
            Role::Owner
        } else {
            Role::Collaborator
        }
    }

    pub fn owner_only(self) -> bool {
        matches!(
            self,
            Action::ManagePaidAddon
                | Action::Rename
                | Action::Delete
                | Action::Transfer
                | Action::ViewCharges
        )
    }

    /// Words for messages: "Only the owner can {describe}".
    pub fn describe(self) -> &'static str {
        match self {
            Action::ViewApp => "view the app",
            Action::ViewActivity => "view the activity",
            Action::AddCollaborator => "add collaborators",
            Action::RemoveCollaborator => "remove collaborators",
            Action::Leave => "leave the app",
            Action::Deploy => "deploy",
            Action::FetchCode => "clone or fetch the code",
            Action::ReadConfig => "read config vars",
            Action::ChangeConfig => "change config vars",
            Action::Scale => "scale",
            Action::Restart => "restart dynos",
            Action::ViewLogs => "view logs",
            Action::ManageFreeAddon => "manage free add-ons",
            Action::ManagePaidAddon => "add or remove paid add-ons",
            Action::Rename => "rename the app",
            Action::Delete => "delete the app",
            Action::Transfer => "transfer the app",
            Action::ViewCharges => "view the app's charges",
        }
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The account has no link to the app at all.
    NoAccess { app: String },
    /// The account collaborates but the action is the owner's alone.
    OwnerOnly {
        app: String,
        owner_email: String,
        action: Action,
    },
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::NoAccess { app } => write!(f, "You do not have access to the app {app}."),
            Denied::OwnerOnly {
                app,
                owner_email,
                action,
            } => write!(
                f,
                "Only the owner of {app} ({owner_email}) can {}.",
                action.describe()
            ),
        }
    }
}

/// How the account relates to the app, read fresh from the store so that a
/// revoked collaborator is refused at once.
pub async fn role_of(
    conn: &mut AnyConnection,
    app: &App,
    account_id: &str,
) -> StoreResult<Option<Role>> {
    if app.owner_id == account_id {
        return Ok(Some(Role::Owner));
    }
    let collaborates = collaborators::is_collaborator(conn, &app.id, account_id).await?;
    Ok(collaborates.then_some(Role::Collaborator))
}

/// Decides whether an account with `role` on the app (None: no link) may do `action`.
pub fn authorize(
    role: Option<Role>,
    action: Action,
    app: &str,
    owner_email: &str,
) -> Result<Role, Denied> {
    let Some(role) = role else {
        return Err(Denied::NoAccess {
            app: app.to_string(),
        });
    };
    if role >= action.required_role() {
        Ok(role)
    } else {
        Err(Denied::OwnerOnly {
            app: app.to_string(),
            owner_email: owner_email.to_string(),
            action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_order_is_pinned() {
        assert!(Role::Owner > Role::Collaborator);
    }

    #[test]
    fn collaborators_may_do_all_but_the_owner_only_actions() {
        let all = [
            Action::ViewApp,
            Action::ViewActivity,
            Action::AddCollaborator,
            Action::RemoveCollaborator,
            Action::Leave,
            Action::Deploy,
            Action::FetchCode,
            Action::ReadConfig,
            Action::ChangeConfig,
            Action::Scale,
            Action::Restart,
            Action::ViewLogs,
            Action::ManageFreeAddon,
            Action::ManagePaidAddon,
            Action::Rename,
            Action::Delete,
            Action::Transfer,
            Action::ViewCharges,
        ];
        let owner_only = [
            Action::ManagePaidAddon,
            Action::Rename,
            Action::Delete,
            Action::Transfer,
            Action::ViewCharges,
        ];
        for action in all {
            assert!(authorize(Some(Role::Owner), action, "a", "o@x.io").is_ok());
            let as_collaborator = authorize(Some(Role::Collaborator), action, "a", "o@x.io");
            assert_eq!(
                as_collaborator.is_err(),
                owner_only.contains(&action),
                "{action:?}"
            );
            assert!(matches!(
                authorize(None, action, "a", "o@x.io"),
                Err(Denied::NoAccess { .. })
            ));
        }
    }

    #[test]
    fn refusal_names_the_action_and_owner() {
        let denied = authorize(
            Some(Role::Collaborator),
            Action::Rename,
            "demo-app",
            "alice@x.io",
        )
        .unwrap_err();
        assert_eq!(
            denied.to_string(),
            "Only the owner of demo-app (alice@x.io) can rename the app."
        );
    }
}
