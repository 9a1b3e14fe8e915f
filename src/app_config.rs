//! Changing an app's config vars: validation, the change itself and its
//! activity entry, in the caller's transaction. Only names are recorded;
//! values never leave the store.

use std::collections::BTreeMap;

use crate::store::accounts::Account;
use crate::store::activity::{self, NewActivity};
use crate::store::apps::App;
use crate::store::config_vars;
use crate::store::{StoreError, WriteTx};

/// Longest variable name and value accepted, and most variables per app.
pub const MAX_KEY_LEN: usize = 256;
pub const MAX_VALUE_LEN: usize = 32 * 1024;
pub const MAX_VARS: usize = 1000;
/// Names and values together: they become each dyno's environment, and
/// the kernel refuses to start a program whose environment is too large.
pub const MAX_TOTAL_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a request asks for: a value to set, or None to unset.
pub type Changes = BTreeMap<String, Option<String>>;

/// Config var names follow the shell's rule, so that every app can read them
/// from its environment.
pub fn validate_key(key: &str) -> Result<(), ConfigError> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || key.len() > MAX_KEY_LEN || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        let shown: String = key.chars().take(64).collect();
        return Err(ConfigError::Invalid(format!(
            "Invalid config var name {shown:?}: use letters, digits and underscores, \
             not starting with a digit, at most {MAX_KEY_LEN} characters."
        )));
    }
    Ok(())
}

/// Names the platform sets in every dyno's environment, whatever the config
/// says; accepting them would promise a value the app never sees.
const PLATFORM_OWNED: [&str; 2] = ["PORT", "DYNO"];

fn refuse_platform_owned(key: &str) -> Result<(), ConfigError> {
    if PLATFORM_OWNED.contains(&key) {
        return Err(ConfigError::Invalid(format!(
            "{key} is set by the platform for each dyno and cannot be a config var."
        )));
    }
    Ok(())
}

fn validate_value(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(ConfigError::Invalid(format!(
            "The value of {key} is longer than {} KB.",
            MAX_VALUE_LEN / 1024
        )));
    }
    if value.contains('\0') {
        return Err(ConfigError::Invalid(format!(
            "The value of {key} contains a NUL character."
        )));
    }
    Ok(())
}

/// Turns a request body into changes: strings set, `null` unsets, anything
/// else is refused by name.
pub fn changes_from_json(
    body: serde_json::Map<String, serde_json::Value>,
) -> Result<Changes, ConfigError> {
    let mut changes = Changes::new();
    for (key, value) in body {
        validate_key(&key)?;
        let value = match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => {
                validate_value(&key, &s)?;
                refuse_platform_owned(&key)?;
                Some(s)
            }
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "The value of {key} must be a string, or null to unset it."
                )))
            }
        };
        changes.insert(key, value);
    }
    Ok(changes)
}

/// The outcome of a change, for the response and the log line.
pub struct Applied {
    pub vars: BTreeMap<String, String>,
    pub set: Vec<String>,
    pub unset: Vec<String>,
}

impl Applied {
    pub fn changed(&self) -> bool {
        !self.set.is_empty() || !self.unset.is_empty()
    }
}

/// Applies the changes and records their names in the activity.
pub async fn apply(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    changes: &Changes,
    now: i64,
) -> Result<Applied, ConfigError> {
    let before = config_vars::all(tx.conn(), &app.id).await?;
    let mut set = Vec::new();
    let mut unset = Vec::new();
    for (key, value) in changes {
        match value {
            Some(value) if before.get(key) != Some(value) => {
                config_vars::set(tx.conn(), &app.id, key, value).await?;
                set.push(key.clone());
            }
            Some(_) => {}
            None => {
                if config_vars::unset(tx.conn(), &app.id, key).await? {
                    unset.push(key.clone());
                }
            }
        }
    }

    let vars = config_vars::all(tx.conn(), &app.id).await?;
    if vars.len() > MAX_VARS {
        return Err(ConfigError::Invalid(format!(
            "An app can have at most {MAX_VARS} config vars."
        )));
    }
    let total: usize = vars.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_TOTAL_BYTES {
        return Err(ConfigError::Invalid(format!(
            "An app's config vars can hold at most {} KB in all (names and values); \
             this change would make {} KB.",
            MAX_TOTAL_BYTES / 1024,
            total.div_ceil(1024)
        )));
    }
    let applied = Applied { vars, set, unset };
    if applied.changed() {
        record(tx, app, actor, &applied, now).await?;
        // Every config change is a release, as clients such as the Heroku
        // CLI's config:set expect (they print the new version).
        let description = release_description(&applied);
        crate::releases::create_release(tx, app, actor, &description, None, now).await?;
    }
    Ok(applied)
}

/// "Set A, B config vars", "Remove C config vars", or both.
fn release_description(applied: &Applied) -> String {
    let mut parts = Vec::new();
    if !applied.set.is_empty() {
        parts.push(format!("Set {}", applied.set.join(", ")));
    }
    if !applied.unset.is_empty() {
        parts.push(format!("Remove {}", applied.unset.join(", ")));
    }
    format!("{} config vars", parts.join(" and "))
}

async fn record(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    applied: &Applied,
    now: i64,
) -> Result<(), StoreError> {
    let mut parts = Vec::new();
    if !applied.set.is_empty() {
        parts.push(format!("set {}", applied.set.join(", ")));
    }
    if !applied.unset.is_empty() {
        parts.push(format!("unset {}", applied.unset.join(", ")));
    }
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &app.id,
            app_name: &app.name,
            actor_id: &actor.id,
            actor_email: &actor.email,
            action: "config.update",
            detail: parts.join("; "),
        },
        now,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_follow_the_shell_rule() {
        for good in ["A", "_x", "DATABASE_URL", "a1"] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "É", &"A".repeat(300)] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_strings_and_null_are_values() {
        let body = json!({"A": "1", "B": null});
        let changes = changes_from_json(body.as_object().unwrap().clone()).unwrap();
        assert_eq!(changes["A"].as_deref(), Some("1"));
        assert_eq!(changes["B"], None);
        let body = json!({"A": 1});
        assert!(changes_from_json(body.as_object().unwrap().clone()).is_err());
    }
}
