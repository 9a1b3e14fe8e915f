//! How many dynos of each process type an app wants, and their size.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct Formation {
    pub id: String,
    pub app_id: String,
    pub process_type: String,
    pub quantity: i64,
    pub size: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str =
    "SELECT id, app_id, type, quantity, size, created_at, updated_at FROM formation";

fn from_row(row: &AnyRow) -> StoreResult<Formation> {
    Ok(Formation {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        process_type: row.try_get("type")?,
        quantity: row.try_get("quantity")?,
        size: row.try_get("size")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The app's formation, ordered by process type.
pub async fn list(conn: &mut AnyConnection, app_id: &str) -> StoreResult<Vec<Formation>> {
    let sql = format!("{SELECT} WHERE app_id = $1 ORDER BY type");
    let rows = sqlx::query(&sql).bind(app_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

pub async fn find(
    conn: &mut AnyConnection,
    app_id: &str,
    process_type: &str,
) -> StoreResult<Option<Formation>> {
    let sql = format!("{SELECT} WHERE app_id = $1 AND (type = $2 OR id = $2)");
    let row = sqlx::query(&sql)
        .bind(app_id)
        .bind(process_type)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Adds a row for a process type that has none (a release declared it), at
/// `quantity`; a type already scaled keeps its row as it is.
pub async fn ensure(
    conn: &mut AnyConnection,
    app_id: &str,
    process_type: &str,
    quantity: i64,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO formation (id, app_id, type, quantity, size, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'Basic', $5, $5) ON CONFLICT (app_id, type) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(app_id)
    .bind(process_type)
    .bind(quantity)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the quantity and size of one process type, creating its row when needed.
pub async fn upsert(
    conn: &mut AnyConnection,
    app_id: &str,
    process_type: &str,
    quantity: i64,
    size: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO formation (id, app_id, type, quantity, size, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (app_id, type) DO UPDATE \
         SET quantity = excluded.quantity, size = excluded.size, updated_at = excluded.updated_at",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(app_id)
    .bind(process_type)
    .bind(quantity)
    .bind(size)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
