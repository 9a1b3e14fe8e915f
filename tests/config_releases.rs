//! Config changes are releases; scaling knows the Procfile of the latest
//! build, and before the first build any well-formed type scales.

mod common;

use common::git::{url_with_key, GitUser};
use common::{run, stderr, Server};
use serde_json::json;

#[test]
fn config_changes_are_releases_and_scaling_knows_the_procfile() {
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let bob = server.create_user("bob@example.com");
    let api = server.api(&alice);
    assert_eq!(api.post("/apps", json!({"name": "demo-app"})).status, 201);
    let shared = api.post(
        "/apps/demo-app/collaborators",
        json!({"user": "bob@example.com"}),
    );
    assert_eq!(shared.status, 201);
    let cli =
        |key: &str, args: &[&str]| run(server.cli(Some(key)).args(args).args(["-a", "demo-app"]));
    let releases = || {
        let request = api
            .request("GET", "/apps/demo-app/releases")
            .header("Range", "version ..; order=desc,max=1");
        api.send(request).body
    };

    // Not built yet: the change is release v1, without a slug.
    let early = cli(&bob, &["config:set", "EARLY=1"]);
    assert!(early.status.success(), "{}", stderr(&early));
    assert!(
        stderr(&early).contains("restarting demo-app... done, v1"),
        "{}",
        stderr(&early)
    );
    let any_type = api.patch(
        "/apps/demo-app/formation",
        json!({"updates": [{"type": "worker", "quantity": 1}]}),
    );
    assert_eq!(any_type.status, 200, "{}", any_type.text);

    let git = GitUser::new("alice");
    let work = git.new_repo("work");
    let (ok, out) = git.push(
        &work,
        &url_with_key(&server.url, &alice, "demo-app"),
        &["main"],
    );
    assert!(ok, "{out}");
    assert_eq!(releases()[0]["version"], 2);

    // The release puts its process types in the formation, at their
    // defaults, with their commands; what was scaled before stays.
    let formation = api.get("/apps/demo-app/formation").body;
    let entry = |t: &str| {
        formation
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["type"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("no {t} in {formation}"))
    };
    assert_eq!(entry("web")["quantity"], 1);
    assert_eq!(entry("web")["command"], "./run-web");
    assert_eq!(entry("worker")["quantity"], 1);
    assert_eq!(entry("worker")["command"], "");
    let listed = cli(&bob, &["ps:scale"]);
    assert_eq!(
        common::stdout(&listed).trim(),
        "web=1:Basic\nworker=1:Basic",
        "{}",
        stderr(&listed)
    );

    // Built: bob's change is release v3, unsetting is v4; no-ops release nothing.
    let set = cli(&bob, &["config:set", "GREETING=hello"]);
    assert!(
        stderr(&set).contains("Setting GREETING and restarting demo-app... done, v3"),
        "{}",
        stderr(&set)
    );
    let newest = releases();
    assert_eq!(newest[0]["description"], "Set GREETING config vars");
    assert_eq!(newest[0]["user"]["email"], "bob@example.com");
    let unset = cli(&alice, &["config:unset", "GREETING"]);
    assert!(stderr(&unset).contains("done, v4"), "{}", stderr(&unset));
    assert_eq!(releases()[0]["description"], "Remove GREETING config vars");
    let same = api.patch(
        "/apps/demo-app/config-vars",
        json!({"EARLY": "1", "NOPE": null}),
    );
    assert_eq!(same.status, 200);
    assert_eq!(releases()[0]["version"], 4);

    // The Procfile declares web only.
    let worker = api.patch(
        "/apps/demo-app/formation",
        json!({"updates": [{"type": "worker", "quantity": 2}]}),
    );
    assert_eq!((worker.status, worker.id()), (422, "invalid_params"));
    assert!(
        worker.message().contains("No such process type worker"),
        "{}",
        worker.text
    );
    let web = cli(&bob, &["ps:scale", "web=2"]);
    assert!(web.status.success(), "{}", stderr(&web));
}
