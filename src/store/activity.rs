//! The per-app record of who changed what.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct Activity {
    pub seq: i64,
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub actor_id: String,
    pub actor_email: String,
    pub action: String,
    pub detail: String,
    pub created_at: i64,
}

/// What to record: the app and actor are given, the rest describes the change.
/// `detail` must never carry secrets or config values.
pub struct NewActivity<'a> {
    pub app_id: &'a str,
    pub app_name: &'a str,
    pub actor_id: &'a str,
    pub actor_email: &'a str,
    pub action: &'a str,
    pub detail: String,
}

pub async fn record(conn: &mut AnyConnection, entry: NewActivity<'_>, now: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO activity (id, app_id, app_name, actor_id, actor_email, action, detail, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(entry.app_id)
    .bind(entry.app_name)
    .bind(entry.actor_id)
    .bind(entry.actor_email)
    .bind(entry.action)
    .bind(entry.detail)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

fn activity_from_row(row: &AnyRow) -> StoreResult<Activity> {
    Ok(Activity {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        app_name: row.try_get("app_name")?,
        actor_id: row.try_get("actor_id")?,
        actor_email: row.try_get("actor_email")?,
        action: row.try_get("action")?,
        detail: row.try_get("detail")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The app's activity, oldest first.
pub async fn list(conn: &mut AnyConnection, app_id: &str) -> StoreResult<Vec<Activity>> {
    let rows = sqlx::query(
        "SELECT seq, id, app_id, app_name, actor_id, actor_email, action, detail, created_at \
         FROM activity WHERE app_id = $1 ORDER BY seq",
    )
    .bind(app_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(activity_from_row).collect()
}
