//! Two `slipway serve` nodes on one PostgreSQL database and one data dir
//! behave as one platform. Runs when the suite runs on PostgreSQL
//! (`SLIPWAY_TEST_DATABASE_URL=postgres://...`); on SQLite, which serves one
//! machine, it says so and passes.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::sync::Barrier;
use std::time::Duration;

use common::git::{server_main, server_repo, url_with_key, GitUser};
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

/// alice pushes through node A and bob through node B, at the same moment,
/// commits on the same parent; the loser catches up and pushes again. Every
/// push that git reported accepted is in the repository at the end.
#[test]
fn pushes_through_two_nodes_never_lose_a_commit() {
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
    let app_id = created.body["id"].as_str().unwrap().to_string();
    let shared = cluster.b.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({"user": "bob@example.com", "silent": true}),
    );
    assert_eq!(shared.status, 201, "{}", shared.text);

    let via_a = url_with_key(&cluster.a.url, &alice, "demo-app");
    let via_b = url_with_key(&cluster.b.url, &bob, "demo-app");
    let alice_git = GitUser::new("alice");
    let bob_git = GitUser::new("bob");
    let alice_dir = alice_git.new_repo("demo");
    let (pushed, output) = alice_git.push(&alice_dir, &via_a, &["main"]);
    assert!(pushed, "{output}");
    let mut accepted = vec![alice_git.ok(&alice_dir, &["rev-parse", "HEAD"])];
    let bob_dir = bob_git.clone(&via_b, "demo");

    let people = [
        (&alice_git, &alice_dir, &via_a),
        (&bob_git, &bob_dir, &via_b),
    ];
    for round in 0..4 {
        // Both commit on the same parent and push at once, through different nodes.
        let commits: Vec<String> = people
            .iter()
            .enumerate()
            .map(|(i, (git, dir, _))| {
                git.commit(dir, &format!("work-{i}.txt"), &round.to_string(), "work")
            })
            .collect();
        let barrier = Barrier::new(2);
        let results: Vec<(bool, String)> = std::thread::scope(|s| {
            let pushes: Vec<_> = people
                .iter()
                .map(|(git, dir, url)| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        git.push(dir, url, &["main"])
                    })
                })
                .collect();
            pushes.into_iter().map(|p| p.join().unwrap()).collect()
        });

        // Exactly one wins; main is its commit.
        let winners: Vec<usize> = (0..2).filter(|&i| results[i].0).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let winner = winners[0];
        accepted.push(commits[winner].clone());
        assert_eq!(
            server_main(&cluster.a, &app_id).as_deref(),
            Some(commits[winner].as_str())
        );

        // The other catches up through its own node and pushes again.
        let (git, dir, url) = people[1 - winner];
        git.ok(dir, &["pull", "--rebase", "--quiet", url, "main"]);
        let (pushed, output) = git.push(dir, url, &["main"]);
        assert!(pushed, "round {round}: {output}");
        accepted.push(git.ok(dir, &["rev-parse", "HEAD"]));
        let (git, dir, url) = people[winner];
        git.ok(dir, &["pull", "--rebase", "--quiet", url, "main"]);
    }

    let repo = server_repo(&cluster.a, &app_id);
    for commit in &accepted {
        let kept = Command::new("git")
            .arg("--git-dir")
            .arg(&repo)
            .args(["merge-base", "--is-ancestor", commit, "refs/heads/main"])
            .status()
            .unwrap();
        assert!(kept.success(), "accepted commit {commit} was lost");
    }
}
