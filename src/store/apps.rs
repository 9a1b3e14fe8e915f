//! Apps and their owners.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner_email: String,
    pub repo_size: Option<i64>,
    pub slug_size: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub released_at: Option<i64>,
}

const APP_SELECT: &str = "SELECT p.id, p.name, p.owner_id, o.email AS owner_email, p.repo_size, \
     p.slug_size, p.created_at, p.updated_at, p.released_at \
     FROM apps p JOIN accounts o ON o.id = p.owner_id";

fn app_from_row(row: &AnyRow) -> StoreResult<App> {
    Ok(App {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        owner_id: row.try_get("owner_id")?,
        owner_email: row.try_get("owner_email")?,
        repo_size: row.try_get("repo_size")?,
        slug_size: row.try_get("slug_size")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        released_at: row.try_get("released_at")?,
    })
}

/// Finds an app by its name or its id.
pub async fn find(conn: &mut AnyConnection, name_or_id: &str) -> StoreResult<Option<App>> {
    let sql = format!("{APP_SELECT} WHERE p.name = $1 OR p.id = $1");
    let row = sqlx::query(&sql)
        .bind(name_or_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(app_from_row).transpose()
}

pub async fn name_taken(conn: &mut AnyConnection, name: &str) -> StoreResult<bool> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM apps WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Inserts an app; false when the name was taken by a concurrent insert.
pub async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    name: &str,
    owner_id: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO apps (id, name, owner_id, repo_size, slug_size, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, 0, $4, $4) ON CONFLICT (name) DO NOTHING",
    )
    .bind(id)
    .bind(name)
    .bind(owner_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Renames an app; false when the new name is taken.
pub async fn rename(
    conn: &mut AnyConnection,
    id: &str,
    new_name: &str,
    now: i64,
) -> StoreResult<bool> {
    if name_taken(&mut *conn, new_name).await? {
        return Ok(false);
    }
    let done = sqlx::query("UPDATE apps SET name = $1, updated_at = $2 WHERE id = $3")
        .bind(new_name)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await;
    match done.map_err(StoreError::from) {
        Ok(_) => Ok(true),
        // A concurrent rename or create took the name after the check above.
        Err(error) if error.is_unique_violation() => Ok(false),
        Err(error) => Err(error),
    }
}

pub async fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM collaborators WHERE app_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM apps WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Apps the account owns or collaborates on, ordered by name.
pub async fn list_visible_to(conn: &mut AnyConnection, account_id: &str) -> StoreResult<Vec<App>> {
    let sql = format!(
        "{APP_SELECT} WHERE p.owner_id = $1 \
         OR p.id IN (SELECT app_id FROM collaborators WHERE account_id = $1) ORDER BY p.name"
    );
    let rows = sqlx::query(&sql).bind(account_id).fetch_all(conn).await?;
    rows.iter().map(app_from_row).collect()
}

/// Hands the app to another account (an accepted transfer).
pub async fn set_owner(
    conn: &mut AnyConnection,
    id: &str,
    owner_id: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE apps SET owner_id = $1, updated_at = $2 WHERE id = $3")
        .bind(owner_id)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Finds an app by its name only (git URLs address apps by name).
pub async fn find_by_name(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<App>> {
    let sql = format!("{APP_SELECT} WHERE p.name = $1");
    let row = sqlx::query(&sql).bind(name).fetch_optional(conn).await?;
    row.as_ref().map(app_from_row).transpose()
}

/// Stamps a new release on the app. Being the first write of a release
/// transaction, it also locks the app's row on PostgreSQL, so that two
/// releases of one app are numbered one after the other.
pub async fn mark_released(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE apps SET released_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records the sizes of the app's repository and current slug, in bytes.
pub async fn set_sizes(
    conn: &mut AnyConnection,
    id: &str,
    repo_size: i64,
    slug_size: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE apps SET repo_size = $1, slug_size = $2 WHERE id = $3")
        .bind(repo_size)
        .bind(slug_size)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
