//! Add-ons: provisioning, plan changes and removal, each with its activity
//! entry and its effect on billing in the caller's transaction.
//!
//! Slipway keeps the catalog, the attachment and the bill; it does not run
//! the service behind an add-on, so no config vars are set for one.

pub mod catalog;

use crate::access::Action;
use crate::billing;
use crate::names;
use crate::store::accounts::Account;
use crate::store::activity::{self, NewActivity};
use crate::store::addons::{self, Addon, NewAddon};
use crate::store::apps::App;
use crate::store::{StoreError, WriteTx};
use catalog::Plan;

#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whoever adds, removes or changes an add-on needs this: anything that
/// touches a paid plan is the owner's, because the owner pays for it.
pub fn action_for(prices_cents: &[i64]) -> Action {
    if prices_cents.iter().any(|&cents| cents > 0) {
        Action::ManagePaidAddon
    } else {
        Action::ManageFreeAddon
    }
}

/// Add-on names are global, like app names, with a little more room.
pub fn validate_name(name: &str) -> Result<(), AddonError> {
    let ok = (3..=60).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(AddonError::Invalid(format!(
            "Invalid add-on name {:?}: use 3 to 60 lowercase letters, digits and dashes, \
             starting with a letter.",
            name.chars().take(64).collect::<String>()
        )))
    }
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

/// Attaches a new add-on on `plan` to the app; a paid one starts accruing
/// on the owner's account at once.
pub async fn provision(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    plan: &Plan,
    name: Option<&str>,
    now: i64,
) -> Result<Addon, AddonError> {
    if let Some(name) = name {
        validate_name(name)?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut inserted = None;
    for attempt in 0..10 {
        let candidate = match name {
            Some(name) if attempt == 0 => name.to_string(),
            Some(name) => {
                return Err(AddonError::Conflict(format!(
                    "Name {name} is already taken"
                )))
            }
            None => format!("{}-{}", plan.service, names::generate_app_name()),
        };
        let new = NewAddon {
            id: &id,
            app_id: &app.id,
            name: &candidate,
            service: &plan.service,
            plan: &plan.name,
            price_cents: plan.price_cents,
        };
        if addons::insert(tx.conn(), new, now).await? {
            inserted = Some(candidate);
            break;
        }
    }
    let Some(addon_name) = inserted else {
        return Err(AddonError::Conflict(
            "Could not find a free add-on name; try --name.".into(),
        ));
    };
    let addon = addons::find(tx.conn(), &app.id, &id)
        .await?
        .ok_or(StoreError::Sql(sqlx::Error::RowNotFound))?;
    billing::start(tx, app, &addon, &app.owner_id, now).await?;
    let detail = format!("added {addon_name} ({})", plan.full_name());
    record(tx, app, actor, "addon.create", detail, now).await?;
    Ok(addon)
}

/// Moves an add-on to another plan of the same service.
pub async fn change_plan(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    addon: &Addon,
    plan: &Plan,
    now: i64,
) -> Result<Addon, AddonError> {
    if plan.service != addon.service {
        return Err(AddonError::Invalid(format!(
            "{} is a {} add-on; it cannot move to a plan of {}.",
            addon.name, addon.service, plan.service
        )));
    }
    if plan.name == addon.plan {
        return Ok(addon.clone());
    }
    billing::stop(tx, &addon.id, now).await?;
    addons::change_plan(tx.conn(), &addon.id, &plan.name, plan.price_cents, now).await?;
    let changed = addons::find(tx.conn(), &app.id, &addon.id)
        .await?
        .ok_or(StoreError::Sql(sqlx::Error::RowNotFound))?;
    billing::start(tx, app, &changed, &app.owner_id, now).await?;
    let detail = format!(
        "changed {} from {}:{} to {}",
        addon.name,
        addon.service,
        addon.plan,
        plan.full_name()
    );
    record(tx, app, actor, "addon.update", detail, now).await?;
    Ok(changed)
}

/// Removes an add-on; its charges end now.
pub async fn deprovision(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    addon: &Addon,
    now: i64,
) -> Result<(), AddonError> {
    billing::stop(tx, &addon.id, now).await?;
    addons::delete(tx.conn(), &addon.id).await?;
    let detail = format!("removed {} ({}:{})", addon.name, addon.service, addon.plan);
    record(tx, app, actor, "addon.destroy", detail, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anything_paid_is_the_owners() {
        assert_eq!(action_for(&[0]), Action::ManageFreeAddon);
        assert_eq!(action_for(&[0, 0]), Action::ManageFreeAddon);
        assert_eq!(action_for(&[500]), Action::ManagePaidAddon);
        assert_eq!(action_for(&[0, 500]), Action::ManagePaidAddon);
        assert_eq!(action_for(&[500, 0]), Action::ManagePaidAddon);
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("my-db").is_ok());
        for bad in ["", "ab", "My-db", "db-", "1db", "d b", &"a".repeat(61)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
