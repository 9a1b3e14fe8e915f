//! An app's config vars. Values are the app's secrets: nothing here logs them.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use super::StoreResult;

/// Every config var of the app, by name.
pub async fn all(conn: &mut AnyConnection, app_id: &str) -> StoreResult<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM config_vars WHERE app_id = $1 ORDER BY key")
            .bind(app_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Sets one variable, replacing its value when it exists.
pub async fn set(
    conn: &mut AnyConnection,
    app_id: &str,
    key: &str,
    value: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO config_vars (app_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(app_id)
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes one variable; false when it was not set.
pub async fn unset(conn: &mut AnyConnection, app_id: &str, key: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM config_vars WHERE app_id = $1 AND key = $2")
        .bind(app_id)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
