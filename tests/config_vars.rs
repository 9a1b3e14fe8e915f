//! Config vars through the API and the CLI: collaborators may change them,
//! `null` unsets, bad names are refused, and values never reach the server
//! log or the activity.

mod common;

use common::{run, stderr, stdout, Server};
use serde_json::json;

fn shared_app(server: &Server) -> (String, String) {
    let alice = server.create_user("alice@example.com");
    let bob = server.create_user("bob@example.com");
    let api = server.api(&alice);
    assert_eq!(api.post("/apps", json!({"name": "demo-app"})).status, 201);
    let added = api.post(
        "/apps/demo-app/collaborators",
        json!({"user": "bob@example.com"}),
    );
    assert_eq!(added.status, 201);
    (alice, bob)
}

#[test]
fn collaborator_sets_and_unsets_config_through_the_cli() {
    let server = Server::start();
    let (alice, bob) = shared_app(&server);

    let set = run(server.cli(Some(&bob)).args([
        "config:set",
        "GREETING=hello world",
        "EQ=x=y",
        "-a",
        "demo-app",
    ]));
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(
        stderr(&set).contains("Setting EQ, GREETING and restarting demo-app... done"),
        "{}",
        stderr(&set)
    );
    assert!(stdout(&set).contains("GREETING:"), "{}", stdout(&set));

    let shown = run(server.cli(Some(&alice)).args(["config", "-a", "demo-app"]));
    let shown = stdout(&shown);
    assert!(shown.starts_with("=== demo-app Config Vars\n"), "{shown}");
    assert!(shown.contains("GREETING: hello world"), "{shown}");
    let shell = run(server
        .cli(Some(&alice))
        .args(["config", "--shell", "-a", "demo-app"]));
    assert!(stdout(&shell).contains("EQ='x=y'\n"), "{}", stdout(&shell));
    let get = run(server
        .cli(Some(&alice))
        .args(["config:get", "EQ", "-a", "demo-app"]));
    assert_eq!(stdout(&get), "x=y\n");

    let unset = run(server
        .cli(Some(&bob))
        .args(["config:unset", "EQ", "-a", "demo-app"]));
    assert!(unset.status.success(), "{}", stderr(&unset));
    assert!(stderr(&unset).contains("Unsetting EQ and restarting demo-app... done"));
    let vars = server.api(&alice).get("/apps/demo-app/config-vars");
    assert_eq!(vars.body, json!({"GREETING": "hello world"}));

    // Unsetting what is not set makes no release and says so.
    let releases = || server.api(&alice).get("/apps/demo-app/releases").body;
    let before = releases();
    let nothing =
        run(server
            .cli(Some(&bob))
            .args(["config:unset", "EQ", "NOPE", "-a", "demo-app"]));
    assert!(nothing.status.success(), "{}", stderr(&nothing));
    assert_eq!(
        stderr(&nothing),
        "EQ, NOPE are not set on demo-app; nothing changed.\n"
    );
    assert_eq!(releases(), before);
}

#[test]
fn patch_answers_the_full_object_and_null_unsets() {
    let server = Server::start();
    let (alice, _) = shared_app(&server);
    let api = server.api(&alice);

    let first = api.patch("/apps/demo-app/config-vars", json!({"A": "1", "B": "2"}));
    assert_eq!(
        (first.status, first.body.clone()),
        (200, json!({"A": "1", "B": "2"}))
    );
    let second = api.patch("/apps/demo-app/config-vars", json!({"A": null, "C": ""}));
    assert_eq!(second.body, json!({"B": "2", "C": ""}));
    let unchanged = api.patch("/apps/demo-app/config-vars", json!({"NOPE": null}));
    assert_eq!(unchanged.body, json!({"B": "2", "C": ""}));
}

#[test]
fn bad_names_and_values_are_refused_by_name() {
    let server = Server::start();
    let (alice, _) = shared_app(&server);
    let api = server.api(&alice);

    for body in [
        json!({"1ABC": "x"}),
        json!({"A-B": "x"}),
        json!({"": "x"}),
        json!({"A": 1}),
        json!({"A": ["x"]}),
        json!({"A": "x".repeat(40 * 1024)}),
        json!({"PORT": "1"}),
        json!({"DYNO": "web.9"}),
    ] {
        let refused = api.patch("/apps/demo-app/config-vars", body.clone());
        assert_eq!(
            (refused.status, refused.id()),
            (422, "invalid_params"),
            "{body}"
        );
    }
    // Each value fits, but together they would not fit a dyno's environment.
    let big = "x".repeat(30 * 1024);
    for key in ["BIG1", "BIG2"] {
        let set = api.patch("/apps/demo-app/config-vars", json!({ key: big }));
        assert_eq!(set.status, 200, "{}", set.text);
    }
    let too_much = api.patch("/apps/demo-app/config-vars", json!({"BIG3": big}));
    assert_eq!((too_much.status, too_much.id()), (422, "invalid_params"));
    assert!(
        too_much.text.contains("at most 64 KB in all"),
        "{}",
        too_much.text
    );
    let cleared = api.patch(
        "/apps/demo-app/config-vars",
        json!({"BIG1": null, "BIG2": null}),
    );
    assert_eq!(cleared.body, json!({}));
    let not_object = api.patch("/apps/demo-app/config-vars", json!(["A"]));
    assert_eq!(not_object.status, 422);
    let broken = api.raw("PATCH", "/apps/demo-app/config-vars", b"{".to_vec());
    assert_eq!((broken.status, broken.id()), (400, "invalid_params"));
    // Nothing of a refused request was kept.
    assert_eq!(api.get("/apps/demo-app/config-vars").body, json!({}));
}

#[test]
fn values_stay_out_of_logs_and_activity() {
    let server = Server::start();
    let (alice, bob) = shared_app(&server);
    let secret = "s3cr3t-value-4f9e1c";

    let set = server
        .api(&bob)
        .patch("/apps/demo-app/config-vars", json!({"API_TOKEN": secret}));
    assert_eq!(set.status, 200);
    let activity = server.api(&alice).get("/apps/demo-app/activity");
    assert!(activity.text.contains("API_TOKEN"), "{}", activity.text);
    assert!(!activity.text.contains(secret));
    let refused = server
        .api(&bob)
        .patch("/apps/demo-app/config-vars", json!({"BAD-NAME": secret}));
    assert_eq!(refused.status, 422);
    assert!(!refused.text.contains(secret));
    assert!(server.log().contains("config vars changed"));
    assert!(
        !server.log().contains(secret),
        "a config value reached the log"
    );
}

#[test]
fn strangers_and_anonymous_callers_are_refused() {
    let server = Server::start();
    shared_app(&server);
    let eve = server.create_user("eve@example.com");

    for (api, status, id) in [
        (server.api(&eve), 403, "forbidden"),
        (server.anonymous(), 401, "unauthorized"),
    ] {
        let read = api.get("/apps/demo-app/config-vars");
        assert_eq!((read.status, read.id()), (status, id));
        let write = api.patch("/apps/demo-app/config-vars", json!({"A": "1"}));
        assert_eq!((write.status, write.id()), (status, id));
    }
}
