//! Two `slipway serve` nodes on one PostgreSQL database and one data dir
//! behave as one platform. Runs when the suite runs on PostgreSQL
//! (`SLIPWAY_TEST_DATABASE_URL=postgres://...`); on SQLite, which serves one
//! machine, it says so and passes.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use common::{files_with_ext, run, stderr, wait_for, Server, TestDatabase, BIN};
use serde_json::json;
use tempfile::TempDir;

/// Two nodes sharing a store and a data dir. Fields drop in order: the nodes
/// stop before their database is dropped.
struct Cluster {
    a: Server,
    b: Server,
    shared: TempDir,
    db: TestDatabase,
}

impl Cluster {
    /// Starts both nodes at the same time on `db`.
    fn start(db: TestDatabase) -> Cluster {
        let shared = tempfile::tempdir().unwrap();
        let data_dir = shared.path().join("data");
        let node = || {
            Server::builder()
                .database_url(&db.url)
                .data_dir(&data_dir)
                .start()
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(node);
            let b = s.spawn(node);
            (a.join().unwrap(), b.join().unwrap())
        });
        Cluster { a, b, shared, db }
    }

    fn mail_dir(&self) -> std::path::PathBuf {
        self.shared.path().join("data").join("mail")
    }
}

fn postgres_database() -> Option<TestDatabase> {
    let db = TestDatabase::create();
    if db.is_none() {
        eprintln!("skipped: several nodes need PostgreSQL (SLIPWAY_TEST_DATABASE_URL)");
    }
    db
}

#[test]
fn removal_through_one_node_is_refused_at_once_through_the_other() {
    let Some(db) = postgres_database() else {
        return;
    };
    let cluster = Cluster::start(db);
    let alice = cluster.a.create_user("alice@example.com");
    let bob = cluster.b.create_user("bob@example.com");

    let created = cluster
        .a
        .api(&alice)
        .post("/apps", json!({"name": "demo-app"}));
    assert_eq!(created.status, 201, "{}", created.text);
    let added = cluster.b.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({"user": "bob@example.com"}),
    );
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(cluster.b.api(&bob).get("/apps/demo-app").status, 200);
    assert_eq!(cluster.a.api(&bob).get("/apps/demo-app").status, 200);

    let removed = cluster
        .a
        .api(&alice)
        .delete("/apps/demo-app/collaborators/bob@example.com");
    assert_eq!(removed.status, 200, "{}", removed.text);

    // No grace window on either node.
    let refused = cluster.b.api(&bob).get("/apps/demo-app");
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.id(), "forbidden");
    let refused = cluster.b.api(&bob).get("/apps/demo-app/collaborators");
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(cluster.a.api(&bob).get("/apps/demo-app").status, 403);
}

/// Messages already in the outbox when both nodes start race straight into
/// both workers; more are queued through both nodes while they run.
#[test]
fn every_queued_email_is_sent_exactly_once_by_two_nodes() {
    let Some(db) = postgres_database() else {
        return;
    };

    // Migrate the empty database, then fill the outbox before any node runs:
    // 400 due messages, one claimed by a node that died (claim expired), and
    // one claimed by a node still sending (claim valid: left alone).
    let migrate = run(Command::new(BIN)
        .args(["admin", "mail"])
        .env("DATABASE_URL", &db.url)
        .env("SLIPWAY_DATA_DIR", std::env::temp_dir()));
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    db.sql(
        "INSERT INTO outbox (id, message_id, template, recipient, subject, body_text, state, \
         attempts, next_attempt_at, created_at) \
         SELECT 'seed-' || n, '<seed-' || n || '@example.com>', 'test', \
                'user' || n || '@example.com', 'Message ' || n, 'Body', 'queued', 0, 0, 0 \
         FROM generate_series(1, 400) AS n",
    );
    db.sql(
        "INSERT INTO outbox (id, message_id, template, recipient, subject, body_text, state, \
         attempts, next_attempt_at, created_at, claimed_by, claim_expires_at) VALUES \
         ('dead-claim', '<dead-claim@example.com>', 'test', 'dead@example.com', 'Dead', 'Body', \
          'sending', 0, 0, 0, 'dead-node', 1), \
         ('live-claim', '<live-claim@example.com>', 'test', 'live@example.com', 'Live', 'Body', \
          'sending', 0, 0, 0, 'live-node', 9000000000000)",
    );

    let cluster = Cluster::start(db);
    let alice = cluster.a.create_user("alice@example.com");
    let created = cluster
        .a
        .api(&alice)
        .post("/apps", json!({"name": "demo-app"}));
    assert_eq!(created.status, 201, "{}", created.text);
    for i in 0..10 {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        node.create_user(&format!("c{i}@example.com"));
        let added = node.api(&alice).post(
            "/apps/demo-app/collaborators",
            json!({"user": format!("c{i}@example.com")}),
        );
        assert_eq!(added.status, 201, "{}", added.text);
    }

    // Everything but the live claim ends up sent.
    let pending = "SELECT count(*) FROM outbox WHERE state <> 'sent' AND id <> 'live-claim'";
    let drained = wait_for(Duration::from_secs(60), || {
        (cluster.db.sql(pending) == "0").then_some(())
    });
    assert!(
        drained.is_some(),
        "outbox not drained: {}",
        cluster.db.sql(pending)
    );
    let expected: usize = cluster
        .db
        .sql("SELECT count(*) FROM outbox WHERE state = 'sent'")
        .parse()
        .unwrap();
    assert!(expected >= 411, "only {expected} messages sent");
    assert_eq!(
        cluster
            .db
            .sql("SELECT state FROM outbox WHERE id = 'live-claim'"),
        "sending"
    );

    // Give a duplicate send time to land, then count the files both nodes wrote.
    std::thread::sleep(Duration::from_millis(500));
    let files = files_with_ext(&cluster.mail_dir(), "eml");
    let mut ids = HashSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let id = message_id(&text).unwrap_or_else(|| panic!("no Message-ID in {text}"));
        assert!(ids.insert(id.clone()), "{id} was sent twice");
    }
    assert_eq!(files.len(), expected, "one file per sent message");
    assert!(ids.contains("<dead-claim@example.com>"));
    assert!(!ids.contains("<live-claim@example.com>"));
}

fn message_id(eml: &str) -> Option<String> {
    eml.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("message-id")
            .then(|| value.trim().to_string())
    })
}
