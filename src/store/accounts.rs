//! Accounts and their API keys.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

/// An account is `Active` once it has a password, `Invited` while it exists
/// only because someone shared an app with that address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    Active,
    Invited,
}

impl AccountState {
    fn as_str(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Invited => "invited",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "active" {
            AccountState::Active
        } else {
            AccountState::Invited
        }
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub password_hash: Option<String>,
    pub state: AccountState,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
}

const ACCOUNT_COLUMNS: &str =
    "id, email, password_hash, state, created_at, updated_at, last_login_at";

fn account_from_row(row: &AnyRow) -> StoreResult<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        state: AccountState::parse(row.try_get::<String, _>("state")?.as_str()),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

/// Looks an account up by its canonical (trimmed, lower-case) email.
pub async fn find_by_email(conn: &mut AnyConnection, email: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1");
    let row = sqlx::query(&sql).bind(email).fetch_optional(conn).await?;
    row.as_ref().map(account_from_row).transpose()
}

pub async fn find_by_id(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(account_from_row).transpose()
}

/// Inserts an account unless one with this email exists; returns the account
/// with that email either way, and whether it was created now.
pub async fn insert_if_absent(
    conn: &mut AnyConnection,
    email: &str,
    password_hash: Option<&str>,
    state: AccountState,
    now: i64,
) -> StoreResult<(Account, bool)> {
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (email) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(email)
    .bind(password_hash)
    .bind(state.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    let account = find_by_email(conn, email)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((account, inserted))
}

/// Gives an invited account its password, making it active.
pub async fn activate(
    conn: &mut AnyConnection,
    id: &str,
    password_hash: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE accounts SET password_hash = $1, state = 'active', updated_at = $2 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn touch_login(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE accounts SET last_login_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    pub description: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

fn key_from_row(row: &AnyRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

pub async fn insert_api_key(
    conn: &mut AnyConnection,
    account_id: &str,
    token_hash: &str,
    description: &str,
    now: i64,
    expires_at: Option<i64>,
) -> StoreResult<ApiKey> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO api_keys (id, account_id, token_hash, description, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(account_id)
    .bind(token_hash)
    .bind(description)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(ApiKey {
        id,
        account_id: account_id.to_string(),
        description: description.to_string(),
        created_at: now,
        expires_at,
    })
}

/// Finds the active account that owns an unexpired key with this hash,
/// together with the stored hash for a constant-time comparison.
pub async fn find_by_key_hash(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> StoreResult<Option<(Account, ApiKey, String)>> {
    let sql = "SELECT a.id, a.email, a.password_hash, a.state, a.created_at, a.updated_at, \
               a.last_login_at, k.id AS key_id, k.description, k.created_at AS key_created_at, \
               k.expires_at, k.token_hash \
               FROM api_keys k JOIN accounts a ON a.id = k.account_id \
               WHERE k.token_hash = $1 AND a.state = 'active' \
               AND (k.expires_at IS NULL OR k.expires_at > $2)";
    let Some(row) = sqlx::query(sql)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(conn)
        .await?
    else {
        return Ok(None);
    };
    let account = account_from_row(&row)?;
    let key = ApiKey {
        id: row.try_get("key_id")?,
        account_id: account.id.clone(),
        description: row.try_get("description")?,
        created_at: row.try_get("key_created_at")?,
        expires_at: row.try_get("expires_at")?,
    };
    Ok(Some((account, key, row.try_get("token_hash")?)))
}

pub async fn list_api_keys(conn: &mut AnyConnection, account_id: &str) -> StoreResult<Vec<ApiKey>> {
    let rows = sqlx::query(
        "SELECT id, account_id, description, created_at, expires_at FROM api_keys \
         WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(key_from_row).collect()
}

/// Deletes one of the account's keys; false when it has no such key.
pub async fn delete_api_key(
    conn: &mut AnyConnection,
    account_id: &str,
    key_id: &str,
) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND account_id = $2")
        .bind(key_id)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
