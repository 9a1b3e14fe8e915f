//! Scaling: collaborators scale through the CLI; quantities arrive as the
//! Heroku CLI sends them (strings, relative); bad ones are refused whole.

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
fn collaborator_scales_through_the_cli() {
    let server = Server::start();
    let (alice, bob) = shared_app(&server);

    let scaled = run(server.cli(Some(&bob)).args([
        "ps:scale",
        "web=2",
        "worker=1:standard-1x",
        "-a",
        "demo-app",
    ]));
    assert!(scaled.status.success(), "{}", stderr(&scaled));
    assert!(
        stderr(&scaled)
            .contains("Scaling dynos... done, now running web at 2:Basic, worker at 1:Standard-1X"),
        "{}",
        stderr(&scaled)
    );
    let more = run(server
        .cli(Some(&bob))
        .args(["ps:scale", "web+1", "-a", "demo-app"]));
    assert!(
        stderr(&more).contains("web at 3:Basic"),
        "{}",
        stderr(&more)
    );

    let shown = run(server
        .cli(Some(&alice))
        .args(["ps:scale", "-a", "demo-app"]));
    assert_eq!(stdout(&shown), "web=3:Basic\nworker=1:Standard-1X\n");
    let activity = server.api(&alice).get("/apps/demo-app/activity");
    assert!(
        activity.text.contains("bob@example.com"),
        "{}",
        activity.text
    );
}

#[test]
fn batch_quantities_may_be_strings_and_relative() {
    let server = Server::start();
    let (alice, _) = shared_app(&server);
    let api = server.api(&alice);

    let first = api.patch(
        "/apps/demo-app/formation",
        json!({"updates": [{"type": "web", "quantity": "2"}, {"type": "worker", "quantity": 1}]}),
    );
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body[0]["quantity"], 2);
    assert_eq!(first.body[0]["size"], "Basic");
    let relative = api.patch(
        "/apps/demo-app/formation",
        json!({"updates": [{"type": "web", "quantity": "-1", "size": "Standard-2X"}]}),
    );
    assert_eq!(relative.body[0]["quantity"], 1);
    assert_eq!(relative.body[0]["size"], "Standard-2X");

    let one = api.get("/apps/demo-app/formation/web");
    assert_eq!((one.status, one.body["quantity"].clone()), (200, json!(1)));
    let patched = api.patch("/apps/demo-app/formation/worker", json!({"quantity": "+2"}));
    assert_eq!(patched.body["quantity"], 3);
    assert_eq!(api.get("/apps/demo-app/formation/nope").status, 404);
    assert_eq!(
        api.get("/apps/demo-app/formation")
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn bad_quantities_types_and_sizes_are_refused_whole() {
    let server = Server::start();
    let (alice, _) = shared_app(&server);
    let api = server.api(&alice);
    let ok = api.patch(
        "/apps/demo-app/formation",
        json!({"updates": [{"type": "web", "quantity": 1}]}),
    );
    assert_eq!(ok.status, 200);

    for update in [
        json!({"type": "web", "quantity": -1}),
        json!({"type": "web", "quantity": "-2"}),
        json!({"type": "web", "quantity": 101}),
        json!({"type": "web", "quantity": "lots"}),
        json!({"type": "web", "quantity": 1.5}),
        json!({"type": "web", "size": "Enormous"}),
        json!({"type": "../web", "quantity": 1}),
        json!({"quantity": 1}),
        json!({"type": "web", "quantity": 1, "command": "rm -rf /"}),
    ] {
        // A valid update in the same batch is not applied either.
        let body = json!({"updates": [{"type": "worker", "quantity": 5}, update.clone()]});
        let refused = api.patch("/apps/demo-app/formation", body);
        assert_eq!(
            (refused.status, refused.id()),
            (422, "invalid_params"),
            "{update}"
        );
    }
    let formation = api.get("/apps/demo-app/formation");
    assert_eq!(
        formation.body.as_array().unwrap().len(),
        1,
        "{}",
        formation.text
    );
    assert_eq!(formation.body[0]["quantity"], 1);
    let empty = api.patch("/apps/demo-app/formation", json!({"updates": []}));
    assert_eq!(empty.status, 422);
}

#[test]
fn strangers_cannot_scale() {
    let server = Server::start();
    shared_app(&server);
    let eve = server.create_user("eve@example.com");
    let refused = server.api(&eve).patch(
        "/apps/demo-app/formation",
        json!({"updates": [{"type": "web", "quantity": 1}]}),
    );
    assert_eq!((refused.status, refused.id()), (403, "forbidden"));
    let anonymous = server.anonymous().get("/apps/demo-app/formation");
    assert_eq!(anonymous.status, 401);
}
