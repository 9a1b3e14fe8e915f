//! Invitations: the sign-up token and deadline of an address that was given
//! access to an app before it had an account.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub account_id: String,
    pub email: String,
    pub invited_by: String,
    pub token_hash: String,
    pub created_at: i64,
    pub issued_at: i64,
    pub expires_at: i64,
}

impl Invitation {
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at <= now
    }
}

const SELECT: &str = "SELECT i.id, i.app_id, p.name AS app_name, i.account_id, a.email, \
     i.invited_by, i.token_hash, i.created_at, i.issued_at, i.expires_at \
     FROM invitations i JOIN apps p ON p.id = i.app_id JOIN accounts a ON a.id = i.account_id";

fn from_row(row: &AnyRow) -> StoreResult<Invitation> {
    Ok(Invitation {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        app_name: row.try_get("app_name")?,
        account_id: row.try_get("account_id")?,
        email: row.try_get("email")?,
        invited_by: row.try_get("invited_by")?,
        token_hash: row.try_get("token_hash")?,
        created_at: row.try_get("created_at")?,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// What a new or replaced invitation holds.
pub struct Issue<'a> {
    pub app_id: &'a str,
    pub account_id: &'a str,
    pub invited_by: &'a str,
    pub token_hash: &'a str,
    pub expires_at: i64,
}

/// Stores the invitation, replacing the token and deadline of an earlier one
/// for the same app and account.
pub async fn upsert(conn: &mut AnyConnection, issue: Issue<'_>, now: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO invitations (id, app_id, account_id, invited_by, token_hash, created_at, \
         issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) \
         ON CONFLICT (app_id, account_id) DO UPDATE SET invited_by = $4, token_hash = $5, \
         issued_at = $6, expires_at = $7",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(issue.app_id)
    .bind(issue.account_id)
    .bind(issue.invited_by)
    .bind(issue.token_hash)
    .bind(now)
    .bind(issue.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(
    conn: &mut AnyConnection,
    app_id: &str,
    account_id: &str,
) -> StoreResult<Option<Invitation>> {
    let sql = format!("{SELECT} WHERE i.app_id = $1 AND i.account_id = $2");
    let row = sqlx::query(&sql)
        .bind(app_id)
        .bind(account_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_token_hash(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> StoreResult<Option<Invitation>> {
    let sql = format!("{SELECT} WHERE i.token_hash = $1");
    let row = sqlx::query(&sql)
        .bind(token_hash)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list_for_account(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Vec<Invitation>> {
    let sql = format!("{SELECT} WHERE i.account_id = $1 ORDER BY p.name");
    let rows = sqlx::query(&sql).bind(account_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

pub async fn list_for_app(conn: &mut AnyConnection, app_id: &str) -> StoreResult<Vec<Invitation>> {
    let sql = format!("{SELECT} WHERE i.app_id = $1 ORDER BY a.email");
    let rows = sqlx::query(&sql).bind(app_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

pub async fn delete(conn: &mut AnyConnection, app_id: &str, account_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM invitations WHERE app_id = $1 AND account_id = $2")
        .bind(app_id)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_for_account(conn: &mut AnyConnection, account_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM invitations WHERE account_id = $1")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}
