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
