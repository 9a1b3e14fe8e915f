//! `slipway admin migrate-store` copies a whole installation from SQLite to
//! PostgreSQL without losing a row. Runs when the suite runs on PostgreSQL
//! (`SLIPWAY_TEST_DATABASE_URL=postgres://...`), which gives it a target.

mod common;

use std::path::Path;
use std::process::Command;

use common::{run, stderr, stdout, Server, TestDatabase, BIN};
use serde_json::json;

fn postgres_database() -> Option<TestDatabase> {
    let db = TestDatabase::create();
    if db.is_none() {
        eprintln!("skipped: migrate-store needs a PostgreSQL target (SLIPWAY_TEST_DATABASE_URL)");
    }
    db
}

fn migrate_store(from: &str, to: &str) -> std::process::Output {
    run(Command::new(BIN)
        .args(["admin", "migrate-store", "--from", from, "--to", to])
        .env_remove("DATABASE_URL"))
}

/// What users see of the installation, to compare before and after (the
/// server's and the router's addresses aside, which change with the ports).
fn snapshot(server: &Server, alice: &str, bob: &str) -> Vec<(String, String)> {
    let alice = server.api(alice);
    let mut seen = vec![
        ("/apps".to_string(), alice.get("/apps").text),
        (
            "/apps as bob".to_string(),
            server.api(bob).get("/apps").text,
        ),
    ];
    for app in ["demo-app", "demo-api"] {
        for path in [
            "",
            "/collaborators",
            "/activity",
            "/config-vars",
            "/formation",
        ] {
            let path = format!("/apps/{app}{path}");
            let resp = alice.get(&path);
            assert_eq!(resp.status, 200, "{path}: {}", resp.text);
            seen.push((path, resp.text));
        }
    }
    seen.into_iter()
        .map(|(path, text)| (path, without_ports(&text.replace(&server.url, "SERVER"))))
        .collect()
}

/// Replaces the port in every `localhost:PORT` (app URLs name the router).
fn without_ports(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("localhost:") {
        let (head, tail) = rest.split_at(at + "localhost:".len());
        out.push_str(head);
        out.push_str("PORT");
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

fn sqlite_count(db: &Path, table: &str) -> String {
    let out = run(Command::new("sqlite3")
        .arg(db)
        .arg(format!("SELECT count(*) FROM {table}")));
    assert!(out.status.success(), "sqlite3: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn an_sqlite_installation_moves_to_postgresql_whole() {
    let Some(target) = postgres_database() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let sqlite_file = data.path().join("slipway.db");
    let sqlite_url = format!("sqlite://{}", sqlite_file.display());

    // An installation with accounts, apps, collaborators, config, activity and mail.
    let mut server = Server::builder()
        .data_dir(data.path())
        .database_url(&sqlite_url)
        .start();
    let alice = server.create_user("alice@example.com");
    let bob = server.create_user("bob@example.com");
    server.create_user("carol@example.com");
    let api = server.api(&alice);
    for app in ["demo-app", "demo-api"] {
        assert_eq!(api.post("/apps", json!({"name": app})).status, 201);
        for user in ["bob@example.com", "carol@example.com", "frank@example.com"] {
            let added = api.post(&format!("/apps/{app}/collaborators"), json!({"user": user}));
            assert_eq!(added.status, 201, "{}", added.text);
        }
        let config = api.patch(
            &format!("/apps/{app}/config-vars"),
            json!({"DATABASE_URL": "postgres://x", "MODE": app}),
        );
        assert_eq!(config.status, 200, "{}", config.text);
    }
    let removed = api.delete("/apps/demo-api/collaborators/carol@example.com");
    assert_eq!(removed.status, 200, "{}", removed.text);
    let before = snapshot(&server, &alice, &bob);
    server.stop();

    let copied = migrate_store(&sqlite_url, &target.url);
    assert!(
        copied.status.success(),
        "migrate-store: {}",
        stderr(&copied)
    );
    let report = stdout(&copied);
    assert!(report.contains("every count matches"), "{report}");

    // Every table of the source has the same rows in the target.
    let tables = target.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> 'schema_migrations' ORDER BY table_name",
    );
    for table in tables.lines() {
        let rows = sqlite_count(&sqlite_file, table);
        assert_eq!(
            target.sql(&format!("SELECT count(*) FROM {table}")),
            rows,
            "{table}"
        );
        assert!(
            report
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()[..2] == [table, &rows]),
            "{table} with {rows} rows missing from the report:\n{report}"
        );
    }
    assert_ne!(target.sql("SELECT count(*) FROM activity"), "0");

    // A server on the copy shows the same installation and keeps working:
    // the old keys are valid and new rows get fresh keys after the copied ones.
    let server = Server::builder()
        .data_dir(data.path())
        .database_url(&target.url)
        .start();
    for (after, before) in snapshot(&server, &alice, &bob).iter().zip(&before) {
        assert_eq!(after, before);
    }
    let added = server.api(&alice).post(
        "/apps/demo-api/collaborators",
        json!({"user": "carol@example.com"}),
    );
    assert_eq!(added.status, 201, "{}", added.text);
    let activity = server.api(&alice).get("/apps/demo-api/activity");
    assert_eq!(activity.status, 200, "{}", activity.text);
}

#[test]
fn a_target_with_data_is_refused_and_left_alone() {
    let Some(target) = postgres_database() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", data.path().join("slipway.db").display());
    let mut server = Server::builder()
        .data_dir(data.path())
        .database_url(&sqlite_url)
        .start();
    server.create_user("alice@example.com");
    server.stop();

    let first = migrate_store(&sqlite_url, &target.url);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = migrate_store(&sqlite_url, &target.url);
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("the target is not empty"),
        "{}",
        stderr(&second)
    );
    assert_eq!(target.sql("SELECT count(*) FROM accounts"), "1");

    let missing = format!("sqlite://{}", data.path().join("nope.db").display());
    let refused = migrate_store(&missing, &target.url);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not exist"),
        "{}",
        stderr(&refused)
    );
    assert!(!data.path().join("nope.db").exists());
}
