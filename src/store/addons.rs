//! Add-ons attached to apps.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct Addon {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub name: String,
    pub service: String,
    /// Short plan name, without the service.
    pub plan: String,
    /// Monthly price copied from the catalog when the plan was chosen.
    pub price_cents: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT d.id, d.app_id, p.name AS app_name, d.name, d.service, d.plan, \
     d.price_cents, d.created_at, d.updated_at FROM addons d JOIN apps p ON p.id = d.app_id";

fn from_row(row: &AnyRow) -> StoreResult<Addon> {
    Ok(Addon {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        app_name: row.try_get("app_name")?,
        name: row.try_get("name")?,
        service: row.try_get("service")?,
        plan: row.try_get("plan")?,
        price_cents: row.try_get("price_cents")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub struct NewAddon<'a> {
    pub id: &'a str,
    pub app_id: &'a str,
    pub name: &'a str,
    pub service: &'a str,
    pub plan: &'a str,
    pub price_cents: i64,
}

/// Inserts an add-on; false when its name is taken.
pub async fn insert(conn: &mut AnyConnection, addon: NewAddon<'_>, now: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO addons (id, app_id, name, service, plan, price_cents, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (name) DO NOTHING",
    )
    .bind(addon.id)
    .bind(addon.app_id)
    .bind(addon.name)
    .bind(addon.service)
    .bind(addon.plan)
    .bind(addon.price_cents)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list_for_app(conn: &mut AnyConnection, app_id: &str) -> StoreResult<Vec<Addon>> {
    let sql = format!("{SELECT} WHERE d.app_id = $1 ORDER BY d.name");
    let rows = sqlx::query(&sql).bind(app_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Add-ons of every app the account owns or collaborates on.
pub async fn list_visible_to(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Vec<Addon>> {
    let sql = format!(
        "{SELECT} WHERE p.owner_id = $1 \
         OR p.id IN (SELECT app_id FROM collaborators WHERE account_id = $1) ORDER BY d.name"
    );
    let rows = sqlx::query(&sql).bind(account_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// An add-on of the app, by name or id.
pub async fn find(
    conn: &mut AnyConnection,
    app_id: &str,
    name_or_id: &str,
) -> StoreResult<Option<Addon>> {
    let sql = format!("{SELECT} WHERE d.app_id = $1 AND (d.name = $2 OR d.id = $2)");
    let row = sqlx::query(&sql)
        .bind(app_id)
        .bind(name_or_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn change_plan(
    conn: &mut AnyConnection,
    id: &str,
    plan: &str,
    price_cents: i64,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE addons SET plan = $1, price_cents = $2, updated_at = $3 WHERE id = $4")
        .bind(plan)
        .bind(price_cents)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM addons WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
