//! Per-app locks: work on one app from two processes runs one after the
//! other, and a holder that dies leaves no lock behind. On SQLite the two
//! processes share the data dir; on PostgreSQL they share the database.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{wait_for, Server};
use serde_json::json;

fn server_with_app() -> Server {
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({"name": "demo-app"}));
    assert_eq!(created.status, 201, "{}", created.text);
    server
}

/// `slipway admin with-app-lock demo-app -- sh -c SCRIPT` in the background.
fn hold_lock(server: &Server, script: &str) -> Child {
    server
        .admin_command(&["with-app-lock", "demo-app", "--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn slipway admin with-app-lock")
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn logged(path: &Path, line: &str) -> bool {
    lines(path).iter().any(|l| l == line)
}

#[test]
fn two_processes_take_turns_on_one_app() {
    let server = server_with_app();
    let log = server.dir.path().join("order.log");
    let step = |tag: &str| {
        format!(
            "echo start {tag} >> {log}; sleep 2; echo end {tag} >> {log}",
            log = log.display()
        )
    };

    let mut first = hold_lock(&server, &step("a"));
    assert!(wait_for(Duration::from_secs(20), || logged(&log, "start a")
        .then_some(()))
    .is_some());
    let mut second = hold_lock(&server, &step("b"));
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());

    assert_eq!(lines(&log), ["start a", "end a", "start b", "end b"]);
}

#[test]
fn a_killed_holder_leaves_no_lock_behind() {
    let server = server_with_app();
    let log = server.dir.path().join("order.log");
    let log_line = |tag: &str| format!("echo {tag} >> {}", log.display());

    let mut holder = hold_lock(&server, &format!("{}; sleep 30", log_line("a")));
    assert!(wait_for(Duration::from_secs(20), || logged(&log, "a").then_some(())).is_some());
    let mut waiter = hold_lock(&server, &log_line("b"));
    std::thread::sleep(Duration::from_secs(1));
    assert!(!logged(&log, "b"), "the lock was taken twice");

    // The holder dies without unlocking anything.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let freed = wait_for(Duration::from_secs(15), || logged(&log, "b").then_some(()));
    assert!(freed.is_some(), "the lock outlived its holder");
    assert!(waiter.wait().unwrap().success());
}

#[test]
fn locking_an_unknown_app_is_refused() {
    let server = Server::start();
    let out = server.admin(&["with-app-lock", "no-such-app", "--", "true"], None);
    assert!(!out.status.success());
    assert!(common::stderr(&out).contains("there is no app named no-such-app"));
}
