//! Scaling an app: validating what the caller asks for (absolute or relative
//! quantities, sizes, process types) and writing the new formation.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use crate::store::accounts::Account;
use crate::store::activity::{self, NewActivity};
use crate::store::apps::App;
use crate::store::formation::{self, Formation};
use crate::store::releases;
use crate::store::{StoreError, StoreResult, WriteTx};

/// Most dynos of one process type an app may ask for.
pub const MAX_QUANTITY: i64 = 100;

/// Dyno sizes, spelled as the Platform API spells them.
pub const SIZES: &[&str] = &[
    "Eco",
    "Basic",
    "Standard-1X",
    "Standard-2X",
    "Performance-M",
    "Performance-L",
];
pub const DEFAULT_SIZE: &str = "Basic";

/// A stable id for a dyno size (the Platform API gives sizes uuids); None
/// for a name that is not one of `SIZES`.
pub fn size_id(name: &str) -> Option<String> {
    let index = SIZES.iter().position(|size| *size == name)?;
    let id = 0x5a1f_d0e5_0000_4000_8000_0000_0000_0000u128 | index as u128;
    Some(uuid::Uuid::from_u128(id).to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(message: impl Into<String>) -> ScaleError {
    ScaleError::Invalid(message.into())
}

/// `2`, `"2"`, `"+1"`, `"-1"`: the Heroku CLI sends quantities as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Absolute(i64),
    Relative(i64),
}

impl Quantity {
    pub fn from_json(value: &serde_json::Value) -> Result<Quantity, ScaleError> {
        let refused = || {
            invalid(format!(
                "Invalid quantity {value}: use a whole number such as 2, \"+1\" or \"-1\"."
            ))
        };
        match value {
            serde_json::Value::Number(n) => n.as_i64().map(Quantity::Absolute).ok_or_else(refused),
            serde_json::Value::String(s) => {
                let s = s.trim();
                let parse = |digits: &str| {
                    (!digits.is_empty()
                        && digits.len() <= 6
                        && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| digits.parse::<i64>().ok())
                    .flatten()
                };
                if let Some(rest) = s.strip_prefix('+') {
                    parse(rest).map(Quantity::Relative).ok_or_else(refused)
                } else if let Some(rest) = s.strip_prefix('-') {
                    parse(rest)
                        .map(|n| Quantity::Relative(-n))
                        .ok_or_else(refused)
                } else {
                    parse(s).map(Quantity::Absolute).ok_or_else(refused)
                }
            }
            _ => Err(refused()),
        }
    }

    fn resolve(self, current: i64) -> i64 {
        match self {
            Quantity::Absolute(n) => n,
            Quantity::Relative(delta) => current.saturating_add(delta),
        }
    }
}

/// One requested change to a process type.
#[derive(Debug, Clone)]
pub struct Update {
    pub process_type: String,
    pub quantity: Option<Quantity>,
    pub size: Option<String>,
}

/// Process type names as a Procfile may declare them.
pub fn validate_type(name: &str) -> Result<(), ScaleError> {
    let ok = !name.is_empty()
        && name.len() <= 30
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Invalid process type {:?}: use letters, digits, dashes and underscores.",
            name.chars().take(40).collect::<String>()
        )))
    }
}

/// The canonical spelling of a size, matched without regard to case.
pub fn canonical_size(raw: &str) -> Result<&'static str, ScaleError> {
    SIZES
        .iter()
        .find(|size| size.eq_ignore_ascii_case(raw.trim()))
        .copied()
        .ok_or_else(|| {
            invalid(format!(
                "Unknown dyno size {:?}: use one of {}.",
                raw.chars().take(40).collect::<String>(),
                SIZES.join(", ")
            ))
        })
}

/// The process types the slug of the app's latest release declares (its
/// Procfile), or None before the first build or without a Procfile: then
/// any well-formed type may be scaled.
pub async fn known_process_types(
    conn: &mut AnyConnection,
    app_id: &str,
) -> StoreResult<Option<Vec<String>>> {
    let declared = declared_commands(conn, app_id).await?;
    Ok((!declared.is_empty()).then(|| declared.into_keys().collect()))
}

/// Process type -> command, as the slug of the app's latest release
/// declares them; empty before the first build.
pub async fn declared_commands(
    conn: &mut AnyConnection,
    app_id: &str,
) -> StoreResult<BTreeMap<String, String>> {
    let Some(slug_id) = releases::latest(&mut *conn, app_id)
        .await?
        .and_then(|r| r.slug_id)
    else {
        return Ok(BTreeMap::new());
    };
    let row: Option<(String,)> = sqlx::query_as("SELECT process_types FROM slugs WHERE id = $1")
        .bind(&slug_id)
        .fetch_optional(conn)
        .await?;
    Ok(row
        .and_then(|(json,)| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

/// Validates every update against the current formation, then writes them
/// all; a batch is applied whole or not at all.
pub async fn apply(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    updates: &[Update],
    now: i64,
) -> Result<Vec<Formation>, ScaleError> {
    if updates.is_empty() {
        return Err(invalid("Give at least one process type to scale."));
    }
    let known = known_process_types(tx.conn(), &app.id).await?;
    let mut planned: Vec<(String, i64, &'static str)> = Vec::new();
    for update in updates {
        validate_type(&update.process_type)?;
        if let Some(known) = &known {
            if !known.contains(&update.process_type) {
                return Err(invalid(format!(
                    "No such process type {} defined in Procfile of {}.",
                    update.process_type, app.name
                )));
            }
        }
        let current = formation::find(tx.conn(), &app.id, &update.process_type).await?;
        let (current_quantity, current_size) = current
            .map(|f| (f.quantity, canonical_size(&f.size).unwrap_or(DEFAULT_SIZE)))
            .unwrap_or((0, DEFAULT_SIZE));
        let quantity = update
            .quantity
            .map(|q| q.resolve(current_quantity))
            .unwrap_or(current_quantity);
        if !(0..=MAX_QUANTITY).contains(&quantity) {
            return Err(invalid(format!(
                "Cannot scale {} to {quantity}: the quantity must be between 0 and {MAX_QUANTITY}.",
                update.process_type
            )));
        }
        let size = match &update.size {
            Some(size) => canonical_size(size)?,
            None => current_size,
        };
        planned.retain(|(t, _, _)| t != &update.process_type);
        planned.push((update.process_type.clone(), quantity, size));
    }

    for (process_type, quantity, size) in &planned {
        formation::upsert(tx.conn(), &app.id, process_type, *quantity, size, now).await?;
    }
    let summary: Vec<String> = planned
        .iter()
        .map(|(t, q, s)| format!("{t}={q}:{s}"))
        .collect();
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &app.id,
            app_name: &app.name,
            actor_id: &actor.id,
            actor_email: &actor.email,
            action: "scale",
            detail: format!("scaled {}", summary.join(" ")),
        },
        now,
    )
    .await?;

    let mut changed = Vec::new();
    for (process_type, _, _) in &planned {
        if let Some(row) = formation::find(tx.conn(), &app.id, process_type).await? {
            changed.push(row);
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_come_as_numbers_or_strings() {
        assert_eq!(
            Quantity::from_json(&json!(2)).unwrap(),
            Quantity::Absolute(2)
        );
        assert_eq!(
            Quantity::from_json(&json!("2")).unwrap(),
            Quantity::Absolute(2)
        );
        assert_eq!(
            Quantity::from_json(&json!("+1")).unwrap(),
            Quantity::Relative(1)
        );
        assert_eq!(
            Quantity::from_json(&json!("-3")).unwrap(),
            Quantity::Relative(-3)
        );
        for bad in [
            json!("x"),
            json!("1.5"),
            json!(1.5),
            json!(null),
            json!("+"),
            json!("99999999"),
        ] {
            assert!(Quantity::from_json(&bad).is_err(), "{bad}");
        }
        assert_eq!(Quantity::Relative(-3).resolve(1), -2);
    }

    #[test]
    fn sizes_have_distinct_stable_ids() {
        let ids: std::collections::HashSet<_> = SIZES.iter().filter_map(|s| size_id(s)).collect();
        assert_eq!(ids.len(), SIZES.len());
        assert_eq!(size_id("Basic"), size_id("Basic"));
        assert_eq!(size_id("Huge"), None);
    }

    #[test]
    fn sizes_are_matched_without_case() {
        assert_eq!(canonical_size("standard-1x").unwrap(), "Standard-1X");
        assert!(canonical_size("huge").is_err());
    }
}
