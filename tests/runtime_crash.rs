//! A server that dies without a chance to stop its dynos (SIGKILL) leaves
//! none running: each sandboxed dyno ends with the process that started it.
//! Started again on the same data, the server brings the formation back.

mod common;

use std::path::Path;
use std::time::Duration;

use common::git::{url_with_key, GitUser};
use common::{can_isolate, wait_for, Server};
use serde_json::json;

/// Host pids of the processes whose command line is `command` (the
/// sandbox's own processes only carry it among their arguments).
fn pids_running(command: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().to_string();
            pid.chars().all(|c| c.is_ascii_digit()).then_some(())?;
            // Arguments are NUL-separated there.
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // A zombie has ended; only its exit status is left to collect.
            let zombie = stat.split(") ").nth(1).unwrap_or("").starts_with('Z');
            (!zombie && cmdline.trim_end() == command).then_some(pid)
        })
        .collect()
}

#[test]
fn a_killed_server_leaves_no_dyno_running_and_brings_them_back() {
    if !can_isolate() {
        eprintln!("sandboxed dynos need root and bubblewrap, as CI has; not checked here");
        return;
    }
    let mut server = Server::start();
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    assert_eq!(
        api.post("/apps", json!({ "name": "crash-app" })).status,
        201
    );

    // A worker whose command line is unique to this test run.
    let marker = format!("sleep {}", 9_000_000 + std::process::id());
    let git = GitUser::new("alice");
    let repo = git.new_repo("crash-app");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webapp");
    std::fs::copy(fixture.join("server.py"), repo.join("server.py")).unwrap();
    git.commit(&repo, "VERSION", "v1", "version");
    git.commit(
        &repo,
        "Procfile",
        &format!("web: python3 server.py\nworker: {marker}\n"),
        "procfile",
    );
    let (pushed, out) = git.push(
        &repo,
        &url_with_key(&server.url, &alice, "crash-app"),
        &["main"],
    );
    assert!(pushed, "{out}");
    let scaled = api.patch(
        "/apps/crash-app/formation",
        json!({ "updates": [{ "type": "worker", "quantity": 2 }] }),
    );
    assert_eq!(scaled.status, 200, "{}", scaled.text);
    let running = wait_for(Duration::from_secs(60), || {
        let pids = pids_running(&marker);
        (pids.len() == 2).then_some(pids)
    });
    assert!(
        running.is_some(),
        "the workers never ran:\n{}",
        server.log()
    );

    server.crash_and_restart();
    // The new server starts fresh workers; the old ones must be gone.
    let old = running.unwrap();
    let gone = wait_for(Duration::from_secs(20), || {
        let now = pids_running(&marker);
        old.iter().all(|pid| !now.contains(pid)).then_some(())
    });
    assert!(gone.is_some(), "dynos outlived their server: {old:?}");
    let back = wait_for(Duration::from_secs(60), || {
        (pids_running(&marker).len() == 2).then_some(())
    });
    assert!(
        back.is_some(),
        "the formation did not come back:\n{}",
        server.log()
    );
}
