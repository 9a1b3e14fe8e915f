//! Ownership transfers of apps, pending until the recipient answers.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    /// The owner when the transfer was made.
    pub owner_id: String,
    pub owner_email: String,
    pub recipient_id: String,
    pub recipient_email: String,
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str =
    "SELECT t.id, t.app_id, p.name AS app_name, t.owner_id, o.email AS owner_email, \
     t.recipient_id, r.email AS recipient_email, t.state, t.created_at, t.updated_at \
     FROM app_transfers t JOIN apps p ON p.id = t.app_id \
     JOIN accounts o ON o.id = t.owner_id JOIN accounts r ON r.id = t.recipient_id";

fn from_row(row: &AnyRow) -> StoreResult<Transfer> {
    Ok(Transfer {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        app_name: row.try_get("app_name")?,
        owner_id: row.try_get("owner_id")?,
        owner_email: row.try_get("owner_email")?,
        recipient_id: row.try_get("recipient_id")?,
        recipient_email: row.try_get("recipient_email")?,
        state: row.try_get("state")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    app_id: &str,
    owner_id: &str,
    recipient_id: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO app_transfers (id, app_id, owner_id, recipient_id, state, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
    )
    .bind(id)
    .bind(app_id)
    .bind(owner_id)
    .bind(recipient_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Transfer>> {
    let sql = format!("{SELECT} WHERE t.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// The app's pending transfer, if any.
pub async fn pending_for_app(
    conn: &mut AnyConnection,
    app_id: &str,
) -> StoreResult<Option<Transfer>> {
    let sql = format!("{SELECT} WHERE t.app_id = $1 AND t.state = 'pending'");
    let row = sqlx::query(&sql).bind(app_id).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// Transfers the account made or received, newest first.
pub async fn list_for_account(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Vec<Transfer>> {
    let sql = format!(
        "{SELECT} WHERE t.owner_id = $1 OR t.recipient_id = $1 ORDER BY t.created_at DESC, t.id"
    );
    let rows = sqlx::query(&sql).bind(account_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Moves a pending transfer to `state`; false when it was no longer pending.
pub async fn close(conn: &mut AnyConnection, id: &str, state: &str, now: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE app_transfers SET state = $1, updated_at = $2 WHERE id = $3 AND state = 'pending'",
    )
    .bind(state)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
