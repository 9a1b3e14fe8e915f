//! Whether builds and dynos run isolated is said at start-up and in `info`:
//! on where the machine allows it, off only when the operator asks.

mod common;

use common::{can_isolate, run, stderr, stdout, Server};
use serde_json::json;

#[test]
fn the_start_up_line_and_info_say_whether_isolation_is_on() {
    let server = Server::start();
    let expected = if can_isolate() { "on" } else { "off" };
    assert_eq!(server.isolation(), expected, "{}", server.log());
    assert!(server.log().contains("slipway listening api=http://"));
    // Only the server's user may enter the data dir.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&server.data_dir).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o700, "data dir mode {mode:o}");
    // Isolated dynos are fenced off the host's loopback services.
    let loopback = if can_isolate() {
        "loopback=fenced"
    } else {
        "loopback=n/a"
    };
    assert!(server.log().contains(loopback), "{}", server.log());

    let alice = server.create_user("alice@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({ "name": "boxed-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["isolation"], expected);
    let info = run(server.cli(Some(&alice)).args(["info", "-a", "boxed-app"]));
    assert!(info.status.success(), "{}", stderr(&info));
    let line = stdout(&info)
        .lines()
        .find(|l| l.starts_with("Isolation:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    assert_eq!(line, Some(format!("Isolation: {expected}")));
}

#[test]
fn no_sandbox_turns_isolation_off_on_purpose() {
    let server = Server::builder().arg("--no-sandbox").start();
    assert_eq!(server.isolation(), "off");
    assert!(
        server.log().contains("isolation is off (--no-sandbox)"),
        "{}",
        server.log()
    );
    let alice = server.create_user("alice@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({ "name": "open-app" }));
    assert_eq!(created.body["isolation"], "off");
}

#[test]
fn a_server_that_cannot_isolate_refuses_builds_and_says_so() {
    if !can_isolate() {
        eprintln!("starting a server as another user needs root; not checked here");
        return;
    }
    let server = Server::builder().run_as(65534).start();
    assert_eq!(server.isolation(), "unavailable", "{}", server.log());
    assert!(
        server
            .log()
            .contains("slipway serve is not running as root"),
        "{}",
        server.log()
    );
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    let created = api.post("/apps", json!({ "name": "bare-app" }));
    assert_eq!(created.body["isolation"], "unavailable");

    // A build that would run the app's code is refused, with the reason.
    let buildpack =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sandbox/buildpack");
    let config = api.patch(
        "/apps/bare-app/config-vars",
        json!({ "BUILDPACK_URL": buildpack.display().to_string() }),
    );
    assert_eq!(config.status, 200, "{}", config.text);
    let git = common::git::GitUser::new("alice");
    let repo = git.new_repo("bare");
    git.commit(&repo, "probe.py", "print('never run')\n", "probe");
    let url = common::git::url_with_key(&server.url, &alice, "bare-app");
    let (pushed, out) = git.push(&repo, &url, &["main"]);
    assert!(!pushed, "{out}");
    assert!(
        out.contains("builds and dynos are not run on this server: it cannot isolate them"),
        "{out}"
    );
    assert!(out.contains("--no-sandbox"), "{out}");
}
