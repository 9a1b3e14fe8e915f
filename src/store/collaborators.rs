//! The link between an app and the accounts it is shared with.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::accounts::AccountState;
use super::StoreResult;

#[derive(Debug, Clone)]
pub struct Collaborator {
    pub id: String,
    pub app_id: String,
    pub account_id: String,
    pub email: String,
    pub account_state: AccountState,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLLABORATOR_SELECT: &str = "SELECT c.id, c.app_id, c.account_id, a.email, a.state, \
     c.created_at, c.updated_at FROM collaborators c JOIN accounts a ON a.id = c.account_id";

fn collaborator_from_row(row: &AnyRow) -> StoreResult<Collaborator> {
    let state: String = row.try_get("state")?;
    Ok(Collaborator {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        account_id: row.try_get("account_id")?,
        email: row.try_get("email")?,
        account_state: if state == "active" {
            AccountState::Active
        } else {
            AccountState::Invited
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Links the account to the app; false when it already was.
pub async fn insert(
    conn: &mut AnyConnection,
    app_id: &str,
    account_id: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO collaborators (id, app_id, account_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (app_id, account_id) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(app_id)
    .bind(account_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list(conn: &mut AnyConnection, app_id: &str) -> StoreResult<Vec<Collaborator>> {
    let sql = format!("{COLLABORATOR_SELECT} WHERE c.app_id = $1 ORDER BY a.email");
    let rows = sqlx::query(&sql).bind(app_id).fetch_all(conn).await?;
    rows.iter().map(collaborator_from_row).collect()
}

/// Finds a collaborator of the app by canonical email, collaborator id or account id.
pub async fn find(
    conn: &mut AnyConnection,
    app_id: &str,
    identity: &str,
) -> StoreResult<Option<Collaborator>> {
    let sql = format!(
        "{COLLABORATOR_SELECT} WHERE c.app_id = $1 AND (a.email = $2 OR c.id = $2 OR a.id = $2)"
    );
    let row = sqlx::query(&sql)
        .bind(app_id)
        .bind(identity)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(collaborator_from_row).transpose()
}

/// True when the account is a collaborator (not the owner) of the app.
pub async fn is_collaborator(
    conn: &mut AnyConnection,
    app_id: &str,
    account_id: &str,
) -> StoreResult<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM collaborators WHERE app_id = $1 AND account_id = $2")
            .bind(app_id)
            .bind(account_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

/// Removes the link; false when there was none.
pub async fn delete(conn: &mut AnyConnection, app_id: &str, account_id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM collaborators WHERE app_id = $1 AND account_id = $2")
        .bind(app_id)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
