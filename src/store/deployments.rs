//! What the runtime reads to know what should run: each app's current
//! release with its slug, its config vars and its formation.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use super::StoreResult;

/// An app's newest succeeded release that has a slug.
#[derive(Debug, Clone)]
pub struct CurrentRelease {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub version: i64,
    pub slug_id: String,
    /// `{"web": "command", ...}` as JSON text.
    pub process_types: String,
    pub description: String,
    pub actor_email: String,
}

pub async fn current_releases(conn: &mut AnyConnection) -> StoreResult<Vec<CurrentRelease>> {
    let rows = sqlx::query(
        "SELECT r.id, r.app_id, p.name AS app_name, r.version, r.slug_id, s.process_types, \
         r.description, r.actor_email \
         FROM releases r JOIN apps p ON p.id = r.app_id JOIN slugs s ON s.id = r.slug_id \
         WHERE r.status = 'succeeded' AND r.version = \
         (SELECT MAX(r2.version) FROM releases r2 \
          WHERE r2.app_id = r.app_id AND r2.status = 'succeeded')",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CurrentRelease {
                id: row.try_get("id")?,
                app_id: row.try_get("app_id")?,
                app_name: row.try_get("app_name")?,
                version: row.try_get("version")?,
                slug_id: row.try_get("slug_id")?,
                process_types: row.try_get("process_types")?,
                description: row.try_get("description")?,
                actor_email: row.try_get("actor_email")?,
            })
        })
        .collect()
}

/// Every app's scaled quantities: app id -> type -> quantity.
pub async fn formations(
    conn: &mut AnyConnection,
) -> StoreResult<BTreeMap<String, BTreeMap<String, i64>>> {
    let rows = sqlx::query("SELECT app_id, type, quantity FROM formation")
        .fetch_all(conn)
        .await?;
    let mut all: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for row in rows {
        all.entry(row.try_get("app_id")?)
            .or_default()
            .insert(row.try_get("type")?, row.try_get("quantity")?);
    }
    Ok(all)
}

pub async fn config_vars(
    conn: &mut AnyConnection,
    app_id: &str,
) -> StoreResult<BTreeMap<String, String>> {
    let rows = sqlx::query("SELECT key, value FROM config_vars WHERE app_id = $1")
        .bind(app_id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("key")?, row.try_get("value")?)))
        .collect()
}
