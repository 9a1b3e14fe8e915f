//! Looks at what the server stored, straight from its database, so that tests
//! can say "nothing changed" about rows the API does not show (invited
//! accounts, queued mail, activity of deleted apps).

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::{Connection, Row};

use super::{stdout, Server};

/// Rows of the tables a refused request must leave alone, each row as text.
/// Two equal snapshots mean the request changed nothing the store holds.
pub type Snapshot = BTreeMap<&'static str, Vec<String>>;

const SNAPSHOT_QUERIES: &[(&str, &str)] = &[
    (
        "accounts",
        "SELECT id || ' ' || email || ' ' || state FROM accounts ORDER BY id",
    ),
    (
        "api_keys",
        "SELECT id || ' ' || account_id FROM api_keys ORDER BY id",
    ),
    (
        "apps",
        "SELECT id || ' ' || name || ' ' || owner_id FROM apps ORDER BY id",
    ),
    (
        "collaborators",
        "SELECT id || ' ' || app_id || ' ' || account_id FROM collaborators ORDER BY id",
    ),
    (
        "outbox",
        "SELECT id || ' ' || recipient || ' ' || template FROM outbox ORDER BY id",
    ),
    (
        "activity",
        "SELECT id || ' ' || action || ' ' || detail FROM activity ORDER BY id",
    ),
    (
        "config_vars",
        "SELECT app_id || ' ' || key || ' ' || value FROM config_vars ORDER BY app_id, key",
    ),
    (
        "formation",
        "SELECT id || ' ' || type || ' ' || quantity || ' ' || size FROM formation ORDER BY id",
    ),
    (
        "addons",
        "SELECT id || ' ' || app_id || ' ' || name || ' ' || plan FROM addons ORDER BY id",
    ),
    (
        "addon_usage",
        "SELECT id || ' ' || account_id || ' ' || started_at || ' ' || COALESCE(ended_at, -1) \
         FROM addon_usage ORDER BY id",
    ),
    (
        "app_transfers",
        "SELECT id || ' ' || app_id || ' ' || recipient_id || ' ' || state FROM app_transfers \
         ORDER BY id",
    ),
];

impl Server {
    /// The URL of this server's store, as the harness configured it.
    pub fn store_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("slipway.db").display()))
    }

    /// Runs read-only queries against the server's store; each returns one text column.
    pub fn query_texts(&self, queries: &[&str]) -> Vec<Vec<String>> {
        let url = self.store_url();
        let queries: Vec<String> = queries.iter().map(|q| q.to_string()).collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&url)
                .await
                .expect("open the store");
            let mut results = Vec::new();
            for sql in &queries {
                let rows = sqlx::query(sql).fetch_all(&mut conn).await.expect(sql);
                let texts = rows.iter().map(|row| row.get::<String, _>(0)).collect();
                results.push(texts);
            }
            let _ = conn.close().await;
            results
        })
    }

    pub fn snapshot(&self) -> Snapshot {
        let sql: Vec<&str> = SNAPSHOT_QUERIES.iter().map(|(_, sql)| *sql).collect();
        let results = self.query_texts(&sql);
        SNAPSHOT_QUERIES
            .iter()
            .map(|(table, _)| *table)
            .zip(results)
            .collect()
    }

    /// How many rows `table` holds (one of the snapshot tables).
    pub fn count(&self, table: &str) -> usize {
        let snapshot = self.snapshot();
        snapshot
            .get(table)
            .unwrap_or_else(|| panic!("no snapshot of {table}"))
            .len()
    }

    /// The outbox as `slipway admin mail --json` lists it, newest first.
    pub fn outbox(&self) -> Vec<Value> {
        let out = self.admin(&["mail", "--all", "--json"], None);
        assert!(out.status.success(), "admin mail: {}", super::stderr(&out));
        serde_json::from_str::<Value>(&stdout(&out))
            .expect("admin mail --json prints JSON")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Outbox messages addressed to `recipient`.
    pub fn mail_to(&self, recipient: &str) -> Vec<Value> {
        self.outbox()
            .into_iter()
            .filter(|m| m["recipient"] == recipient)
            .collect()
    }

    /// `.eml` files the embedded mail transport has written so far.
    pub fn eml_files(&self) -> usize {
        super::files_with_ext(&self.data_dir.join("mail"), "eml").len()
    }
}

/// Asserts that two snapshots are equal, naming the table that differs.
pub fn assert_unchanged(before: &Snapshot, after: &Snapshot, what: &str) {
    for (table, rows) in before {
        assert_eq!(
            Some(rows),
            after.get(table),
            "{what} changed the {table} table"
        );
    }
}
