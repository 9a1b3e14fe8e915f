//! Usage periods of paid add-ons: who pays, for which plan, from when to
//! when. Invoices are computed from them. A period is closed, never edited,
//! when the add-on goes, changes plan, or its app changes owner; so past
//! charges stay with whoever owned the app at the time.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct UsagePeriod {
    pub id: String,
    pub addon_id: String,
    pub addon_name: String,
    pub app_id: String,
    pub app_name: String,
    pub account_id: String,
    pub service: String,
    pub plan: String,
    pub price_cents: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

const SELECT: &str = "SELECT id, addon_id, addon_name, app_id, app_name, account_id, service, \
     plan, price_cents, started_at, ended_at FROM addon_usage";

fn from_row(row: &AnyRow) -> StoreResult<UsagePeriod> {
    Ok(UsagePeriod {
        id: row.try_get("id")?,
        addon_id: row.try_get("addon_id")?,
        addon_name: row.try_get("addon_name")?,
        app_id: row.try_get("app_id")?,
        app_name: row.try_get("app_name")?,
        account_id: row.try_get("account_id")?,
        service: row.try_get("service")?,
        plan: row.try_get("plan")?,
        price_cents: row.try_get("price_cents")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

pub struct NewPeriod<'a> {
    pub addon_id: &'a str,
    pub addon_name: &'a str,
    pub app_id: &'a str,
    pub app_name: &'a str,
    pub account_id: &'a str,
    pub service: &'a str,
    pub plan: &'a str,
    pub price_cents: i64,
}

pub async fn open(conn: &mut AnyConnection, period: NewPeriod<'_>, now: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO addon_usage (id, addon_id, addon_name, app_id, app_name, account_id, \
         service, plan, price_cents, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(period.addon_id)
    .bind(period.addon_name)
    .bind(period.app_id)
    .bind(period.app_name)
    .bind(period.account_id)
    .bind(period.service)
    .bind(period.plan)
    .bind(period.price_cents)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes the add-on's open period, if it has one.
pub async fn close_for_addon(
    conn: &mut AnyConnection,
    addon_id: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE addon_usage SET ended_at = $1 WHERE addon_id = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(addon_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Closes every open period of the app's add-ons.
pub async fn close_for_app(conn: &mut AnyConnection, app_id: &str, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE addon_usage SET ended_at = $1 WHERE app_id = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(app_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every period the account pays or paid for, oldest first.
pub async fn for_account(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Vec<UsagePeriod>> {
    let sql = format!("{SELECT} WHERE account_id = $1 ORDER BY started_at, id");
    let rows = sqlx::query(&sql).bind(account_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Every period of the app, oldest first.
pub async fn for_app(conn: &mut AnyConnection, app_id: &str) -> StoreResult<Vec<UsagePeriod>> {
    let sql = format!("{SELECT} WHERE app_id = $1 ORDER BY started_at, id");
    let rows = sqlx::query(&sql).bind(app_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Moves the app's periods `ms` earlier: the operator's correction tool, and
/// how tests put usage in the past without waiting.
pub async fn shift_earlier(conn: &mut AnyConnection, app_id: &str, ms: i64) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE addon_usage SET started_at = started_at - $1, ended_at = ended_at - $1 \
         WHERE app_id = $2",
    )
    .bind(ms)
    .bind(app_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
