//! Conformance: the official Heroku CLI (npm `heroku` 11, unmodified) against
//! a real Slipway over HTTPS on loopback. Each step asserts on what the CLI
//! printed and on the server's state afterwards; every JSON response the CLI
//! read is validated against the Platform API schema (tests/common/heroku.rs).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::heroku::{cli_bin, cli_dir, run_bounded, schema, HerokuCli};
use common::{wait_for, Api, Follower, Server};
use serde_json::{json, Value};

fn tls_server() -> Server {
    Server::builder().tls().start()
}

/// GETs `path` with the test's own client and checks the body against the
/// schema too, so that server state is asserted in the documented shape.
fn get_valid(api: &Api, path: &str) -> Value {
    let resp = api.get(path);
    if let Err(problem) = schema().check_response("GET", path, resp.status, &resp.body) {
        panic!("{problem}");
    }
    resp.body
}

fn emails(collaborators: &Value) -> Vec<String> {
    let mut list: Vec<String> = collaborators
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user"]["email"].as_str().unwrap().to_string())
        .collect();
    list.sort();
    list
}

fn git(dir: &Path, cli: &HerokuCli, args: &[&str]) -> common::heroku::CliRun {
    let mut cmd = Command::new("git");
    cmd.args(args);
    cli.apply_env(&mut cmd);
    cmd.current_dir(dir);
    run_bounded(cmd, &format!("git {}", args.join(" ")))
}

#[test]
fn the_schema_check_catches_missing_fields_and_wrong_types() {
    let schema = schema();
    assert_eq!(schema.resource_of("GET", "/apps/demo"), Some("app"));
    assert_eq!(
        schema.resource_of("GET", "/apps/demo/collaborators"),
        Some("collaborator")
    );
    assert_eq!(schema.resource_of("GET", "/users/~/apps"), Some("app"));
    assert_eq!(schema.resource_of("GET", "/nothing/here"), None);

    let missing = schema.check_response("GET", "/account", 200, &json!({"email": "a@b.c"}));
    assert!(missing.unwrap_err().contains("$.id is missing"));
    let wrong = schema.check_response("GET", "/apps", 200, &json!([{"name": 7}]));
    assert!(wrong.unwrap_err().contains("$[0].name: 7 is not of type"));
    let error = schema.check_response("GET", "/apps/x", 404, &json!({"message": "gone"}));
    assert!(error.is_err());
}

#[test]
fn apps_lifecycle_through_the_heroku_cli() {
    let server = tls_server();
    let alice_key = server.create_user("alice@example.com");
    let bob_key = server.create_user("bob@example.com");
    let alice = HerokuCli::new(&server, "alice", Some(&alice_key));
    let bob = HerokuCli::new(&server, "bob", Some(&bob_key));
    let api = server.api(&alice_key);
    let url = &server.url;

    // auth:whoami
    let whoami = alice.ok(&["auth:whoami"]);
    assert_eq!(whoami.stdout.trim(), "alice@example.com");

    // apps:create prints the web URL and the https git URL the CLI builds.
    let create = alice.ok(&["apps:create", "demo-app"]);
    assert!(
        create.stderr.contains("Creating demo-app... done"),
        "{create:?}"
    );
    let app = get_valid(&api, "/apps/demo-app");
    let web_url = app["web_url"].as_str().unwrap();
    assert_eq!(
        create.stdout.trim(),
        format!("{web_url} | {url}/demo-app.git")
    );
    assert_eq!(app["owner"]["email"], "alice@example.com");
    assert_eq!(app["git_url"], format!("{url}/demo-app.git"));

    // A taken name is refused with the API's message and error id.
    let taken = alice.fails(&["apps:create", "demo-app"]);
    assert!(
        taken.stderr.contains("Name demo-app is already taken"),
        "{taken:?}"
    );
    assert!(
        taken.stderr.contains("Error ID: invalid_params"),
        "{taken:?}"
    );

    // apps lists it under the owner.
    let apps = alice.ok(&["apps"]);
    assert!(
        apps.stdout.contains("=== alice@example.com Apps"),
        "{apps:?}"
    );
    assert!(
        apps.stdout.lines().any(|l| l.trim() == "demo-app"),
        "{apps:?}"
    );

    // git:remote adds the https remote in a work tree.
    let repo = server.dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    assert!(git(&repo, &alice, &["init", "-q", "-b", "main"]).success());
    let remote = alice.ok_in(&repo, &["git:remote", "-a", "demo-app"]);
    assert!(
        remote
            .stdout
            .contains(&format!("set git remote heroku to {url}/demo-app.git")),
        "{remote:?}"
    );

    // A collaborator may not rename; the CLI shows the server's message.
    api.post(
        "/apps/demo-app/collaborators",
        json!({"user": "bob@example.com"}),
    );
    let refused = bob.fails(&["apps:rename", "bobs-app", "-a", "demo-app"]);
    assert!(
        refused.stderr.contains("Only the owner of demo-app"),
        "{refused:?}"
    );
    assert_eq!(api.get("/apps/demo-app").status, 200);

    // apps:rename in the work tree renames on the server and rewrites the remote.
    let rename = alice.ok_in(&repo, &["apps:rename", "renamed-app", "-a", "demo-app"]);
    assert!(
        rename.stdout.contains(&format!("{url}/renamed-app.git")),
        "{rename:?}"
    );
    assert_eq!(api.get("/apps/demo-app").status, 404);
    assert_eq!(get_valid(&api, "/apps/renamed-app")["name"], "renamed-app");
    let remotes = git(&repo, &alice, &["remote", "-v"]);
    assert!(
        remotes
            .stdout
            .contains(&format!("heroku\t{url}/renamed-app.git")),
        "{remotes:?}"
    );

    // Unknown apps: the CLI prints the API's not-found error.
    let missing = alice.fails(&["access", "-a", "no-such-app"]);
    assert!(
        missing.stderr.contains("Couldn't find that app."),
        "{missing:?}"
    );
    assert!(
        missing.stderr.contains("Error ID: not_found"),
        "{missing:?}"
    );

    // apps:destroy needs the right confirmation, then deletes.
    let wrong = alice.fails(&["apps:destroy", "renamed-app", "--confirm", "other"]);
    assert!(wrong.stderr.contains("did not match"), "{wrong:?}");
    assert_eq!(api.get("/apps/renamed-app").status, 200);
    let destroy = alice.ok_in(
        &repo,
        &["apps:destroy", "renamed-app", "--confirm", "renamed-app"],
    );
    assert!(
        destroy
            .stderr
            .contains("Destroying renamed-app (including all add-ons)... done"),
        "{destroy:?}"
    );
    assert_eq!(api.get("/apps/renamed-app").status, 404);
    let remotes = git(&repo, &alice, &["remote"]);
    assert!(!remotes.stdout.contains("heroku"), "{remotes:?}");
    let apps = alice.ok(&["apps"]);
    assert!(apps.stdout.contains("You have no apps."), "{apps:?}");
}

#[test]
fn sharing_through_the_heroku_cli() {
    let server = tls_server();
    let alice_key = server.create_user("alice@example.com");
    let bob_key = server.create_user("bob@example.com");
    let alice = HerokuCli::new(&server, "alice", Some(&alice_key));
    let bob = HerokuCli::new(&server, "bob", Some(&bob_key));
    let api = server.api(&alice_key);
    alice.ok(&["apps:create", "shared-app"]);

    // access: a two-column table with the owner.
    let access = alice.ok(&["access", "-a", "shared-app"]);
    assert!(
        access.stdout.contains("alice@example.com   owner"),
        "{access:?}"
    );
    assert!(!access.stdout.contains("permissions"), "{access:?}");

    // access:add
    let add = alice.ok(&["access:add", "bob@example.com", "-a", "shared-app"]);
    assert!(
        add.stderr
            .contains("Adding bob@example.com access to the app shared-app... done"),
        "{add:?}"
    );
    let collaborators = get_valid(&api, "/apps/shared-app/collaborators");
    assert_eq!(
        emails(&collaborators),
        ["alice@example.com", "bob@example.com"]
    );

    // access and access --json show both, with their roles.
    let access = alice.ok(&["access", "-a", "shared-app"]);
    assert!(
        access.stdout.contains("bob@example.com     collaborator"),
        "{access:?}"
    );
    let listed: Value =
        serde_json::from_str(&alice.ok(&["access", "-a", "shared-app", "--json"]).stdout).unwrap();
    let roles: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["user"]["email"].as_str().unwrap().into(),
                c["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        roles.contains(&("alice@example.com".into(), "owner".into())),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("bob@example.com".into(), "collaborator".into())),
        "{roles:?}"
    );

    // bob sees it among the collaborated apps.
    let apps = bob.ok(&["apps"]);
    assert!(apps.stdout.contains("Collaborated Apps"), "{apps:?}");
    assert!(apps.stdout.contains("shared-app") && apps.stdout.contains("alice@example.com"));

    // apps:leave (the CLI sends the address percent-encoded).
    let leave = bob.ok(&["apps:leave", "-a", "shared-app"]);
    assert!(
        leave.stderr.contains("Leaving shared-app... done"),
        "{leave:?}"
    );
    assert_eq!(
        emails(&get_valid(&api, "/apps/shared-app/collaborators")),
        ["alice@example.com"]
    );
    let refused = bob.fails(&["access", "-a", "shared-app"]);
    assert!(
        refused
            .stderr
            .contains("You do not have access to the app shared-app"),
        "{refused:?}"
    );

    // The owner cannot leave their own app.
    let owner_leave = alice.fails(&["apps:leave", "-a", "shared-app"]);
    assert!(owner_leave.stderr.contains("Error ID:"), "{owner_leave:?}");

    // access:remove (the CLI sends the address raw).
    alice.ok(&["access:add", "bob@example.com", "-a", "shared-app"]);
    let remove = alice.ok(&["access:remove", "bob@example.com", "-a", "shared-app"]);
    assert!(
        remove
            .stderr
            .contains("Removing bob@example.com access from the app shared-app... done"),
        "{remove:?}"
    );
    assert_eq!(
        emails(&get_valid(&api, "/apps/shared-app/collaborators")),
        ["alice@example.com"]
    );
    let gone = bob.fails(&["access", "-a", "shared-app"]);
    assert!(gone.stderr.contains("You do not have access"), "{gone:?}");
}

#[test]
fn login_with_email_and_password_and_logout() {
    let server = tls_server();
    server.create_user("alice@example.com");
    let alice = HerokuCli::new(&server, "alice", None);
    let login = |password: &str| {
        let mut cmd = Command::new("python3");
        cmd.arg(cli_dir().join("pty_login.py"))
            .arg(cli_bin())
            .args(["alice@example.com", password]);
        alice.apply_env(&mut cmd);
        cmd.current_dir(&alice.home);
        let run = run_bounded(cmd, "heroku login -i");
        alice.check_observed("heroku login -i");
        run
    };

    // A wrong password is refused with the API's message.
    let wrong = login("not-the-password");
    assert!(!wrong.success(), "{wrong:?}");
    assert!(
        wrong.stdout.contains("Invalid credentials provided."),
        "{wrong:?}"
    );
    assert!(alice
        .fails(&["auth:whoami"])
        .stderr
        .contains("not logged in"));

    // The right one logs in and stores the token for the server's host.
    let ok = login("pw-alice@example.com");
    assert!(ok.success(), "{ok:?}");
    assert!(
        ok.stdout.contains("Logged in as alice@example.com"),
        "{ok:?}"
    );
    let host = server.url.trim_start_matches("https://");
    let netrc = std::fs::read_to_string(alice.home.join(".netrc")).unwrap();
    assert!(netrc.contains(&format!("machine {host}")), "{netrc}");
    assert_eq!(
        alice.ok(&["auth:whoami"]).stdout.trim(),
        "alice@example.com"
    );

    // auth:token prints a key the API accepts.
    let token = alice.ok(&["auth:token"]).stdout.trim().to_string();
    let api = server.api(&token);
    assert_eq!(get_valid(&api, "/account")["email"], "alice@example.com");
    let authorizations = get_valid(&api, "/oauth/authorizations");
    assert!(authorizations
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["access_token"]["token"] == token.as_str()));

    // logout revokes that key on the server and forgets it locally.
    let logout = alice.ok(&["logout"]);
    assert!(logout.stderr.contains("Logging out... done"), "{logout:?}");
    assert_eq!(api.get("/account").status, 401);
    assert!(alice
        .fails(&["auth:whoami"])
        .stderr
        .contains("not logged in"));
}

#[test]
fn a_list_longer_than_a_page_comes_back_complete() {
    let server = tls_server();
    let key = server.create_user("alice@example.com");
    let api = server.api(&key);
    for i in 0..205 {
        let created = api.post("/apps", json!({ "name": format!("many-app-{i:03}") }));
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let alice = HerokuCli::new(&server, "alice", Some(&key));

    let listed: Value = serde_json::from_str(&alice.ok(&["apps", "--json"]).stdout).unwrap();
    let mut names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 205);
    assert_eq!((names[0], names[204]), ("many-app-000", "many-app-204"));
    let observed = std::fs::read_to_string(alice.home.join("observed.jsonl")).unwrap();
    assert!(
        observed.contains("\"next_range\":\"name ]"),
        "the CLI saw no Next-Range"
    );
}

#[test]
fn info_config_scaling_addons_and_transfer_through_the_heroku_cli() {
    let server = tls_server();
    let alice_key = server.create_user("alice@example.com");
    let bob_key = server.create_user("bob@example.com");
    let alice = HerokuCli::new(&server, "alice", Some(&alice_key));
    let bob = HerokuCli::new(&server, "bob", Some(&bob_key));
    let api = server.api(&alice_key);
    let url = &server.url;
    alice.ok(&["apps:create", "busy-app"]);
    alice.ok(&["access:add", "bob@example.com", "-a", "busy-app"]);

    // apps:info prints the server's real values.
    let info = alice.ok(&["apps:info", "-a", "busy-app"]);
    let app = get_valid(&api, "/apps/busy-app");
    for line in [
        "=== busy-app".to_string(),
        format!("Git URL:        {url}/busy-app.git"),
        format!("Web URL:        {}", app["web_url"].as_str().unwrap()),
        "Repo Size:      0 B".to_string(),
        "Slug Size:      0 B".to_string(),
        "Owner:          alice@example.com".to_string(),
        "Collaborators:  bob@example.com".to_string(),
        "Stack:          heroku-24".to_string(),
    ] {
        assert!(info.stdout.contains(&line), "{line:?} missing: {info:?}");
    }

    // config and config:get read what the API holds.
    let set = api.patch(
        "/apps/busy-app/config-vars",
        json!({"GREETING": "hello world"}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let config = bob.ok(&["config", "-a", "busy-app"]);
    assert!(
        config.stdout.contains("=== busy-app Config Vars"),
        "{config:?}"
    );
    assert!(
        config.stdout.contains("GREETING: hello world"),
        "{config:?}"
    );
    let value = bob.ok(&["config:get", "GREETING", "-a", "busy-app"]);
    assert_eq!(value.stdout.trim(), "hello world");

    // ps:scale, with and without arguments.
    let scale = bob.ok(&["ps:scale", "web=2", "-a", "busy-app"]);
    assert!(
        scale.stderr.contains("now running web at 2:Basic"),
        "{scale:?}"
    );
    let formation = get_valid(&api, "/apps/busy-app/formation");
    let web = formation
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "web")
        .unwrap();
    assert_eq!(web["quantity"], 2);
    assert_eq!(
        bob.ok(&["ps:scale", "-a", "busy-app"]).stdout.trim(),
        "web=2:Basic"
    );

    // ps, ps:restart and logs before anything was deployed: no dynos yet,
    // and the restart shows in the app's log.
    let ps = bob.ok(&["ps", "-a", "busy-app"]);
    assert!(ps.stdout.contains("No dynos on busy-app"), "{ps:?}");
    let restart = bob.ok(&["ps:restart", "-a", "busy-app"]);
    assert!(
        restart
            .stderr
            .contains("Restarting all dynos on busy-app... done"),
        "{restart:?}"
    );
    let logs = alice.ok(&["logs", "-a", "busy-app"]);
    assert!(
        logs.stdout
            .contains("app[api]: Restart all dynos by user bob@example.com"),
        "{logs:?}"
    );

    // addons:create (free, by a collaborator), addons, addons:destroy.
    let create = bob.ok(&[
        "addons:create",
        "postgresql:mini",
        "-a",
        "busy-app",
        "--name",
        "busy-db",
    ]);
    assert!(create.stdout.contains("Created busy-db"), "{create:?}");
    let addons = get_valid(&api, "/apps/busy-app/addons");
    assert_eq!(addons[0]["name"], "busy-db");
    let listed = alice.ok(&["addons", "-a", "busy-app"]);
    assert!(listed.stdout.contains("postgresql (busy-db)"), "{listed:?}");
    assert!(alice.ok(&["addons"]).stdout.contains("busy-db"));
    // A paid plan is the owner's call.
    let paid = bob.fails(&["addons:create", "postgresql:essential-0", "-a", "busy-app"]);
    assert!(
        paid.stderr.contains("Only the owner of busy-app"),
        "{paid:?}"
    );
    let destroy = bob.ok(&[
        "addons:destroy",
        "busy-db",
        "-a",
        "busy-app",
        "--confirm",
        "busy-app",
    ]);
    assert!(
        destroy
            .stderr
            .contains("Destroying busy-db on busy-app... done"),
        "{destroy:?}"
    );
    assert_eq!(get_valid(&api, "/apps/busy-app/addons"), json!([]));

    // apps:transfer offers the app; once bob accepts, he owns it.
    let transfer = alice.ok(&["apps:transfer", "bob@example.com", "-a", "busy-app"]);
    assert!(
        transfer
            .stderr
            .contains("Initiating transfer of busy-app to bob@example.com... email sent"),
        "{transfer:?}"
    );
    let offers = get_valid(&server.api(&bob_key), "/account/app-transfers");
    let offer = &offers.as_array().unwrap()[0];
    assert_eq!(offer["state"], "pending");
    let accepted = server.api(&bob_key).patch(
        &format!("/account/app-transfers/{}", offer["id"].as_str().unwrap()),
        json!({"state": "accepted"}),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(
        get_valid(&api, "/apps/busy-app")["owner"]["email"],
        "bob@example.com"
    );
    let apps = bob.ok(&["apps"]);
    assert!(apps.stdout.contains("=== bob@example.com Apps"), "{apps:?}");
    assert!(
        apps.stdout.lines().any(|l| l.trim() == "busy-app"),
        "{apps:?}"
    );
}

#[test]
fn git_push_clone_releases_and_config_changes_through_the_heroku_cli() {
    let server = tls_server();
    let alice_key = server.create_user("alice@example.com");
    let bob_key = server.create_user("bob@example.com");
    let alice = HerokuCli::new(&server, "alice", Some(&alice_key));
    let bob = HerokuCli::new(&server, "bob", Some(&bob_key));
    let api = server.api(&alice_key);
    alice.ok(&["apps:create", "deploy-app"]);
    alice.ok(&["access:add", "bob@example.com", "-a", "deploy-app"]);
    let releases = || get_valid(&api, "/apps/deploy-app/releases");

    // git:remote, then a plain `git push heroku main` authenticated by the
    // credential helper the CLI registered.
    let repo = server.dir.path().join("deploy-app");
    std::fs::create_dir_all(&repo).unwrap();
    assert!(git(&repo, &alice, &["init", "-q", "-b", "main"]).success());
    std::fs::write(repo.join("Procfile"), "web: python3 -m http.server $PORT\n").unwrap();
    assert!(git(&repo, &alice, &["add", "."]).success());
    assert!(git(&repo, &alice, &["commit", "-q", "-m", "first"]).success());
    alice.ok_in(&repo, &["git:remote", "-a", "deploy-app"]);
    let helper = git(
        &repo,
        &alice,
        &["config", "--global", "--get-regexp", "credential"],
    );
    assert!(
        helper.stdout.contains("heroku git:credentials"),
        "{helper:?}"
    );
    let push = git(&repo, &alice, &["push", "heroku", "main"]);
    assert!(push.success(), "{push:?}");
    assert!(push.stderr.contains("Released v1"), "{push:?}");
    assert_eq!(releases().as_array().unwrap().len(), 1);

    // releases
    let listed = alice.ok(&["releases", "-a", "deploy-app"]);
    assert!(
        listed
            .stdout
            .contains("=== deploy-app Releases - Current: v1"),
        "{listed:?}"
    );
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.contains("v1") && l.contains("alice@example.com")),
        "{listed:?}"
    );

    // A collaborator clones with git:clone and pushes back.
    let bob_dir = server.dir.path().join("bob-work");
    std::fs::create_dir_all(&bob_dir).unwrap();
    bob.ok_in(&bob_dir, &["git:clone", "-a", "deploy-app"]);
    let clone = bob_dir.join("deploy-app");
    assert!(
        clone.join("Procfile").is_file(),
        "git:clone made no work tree"
    );
    std::fs::write(clone.join("bob.txt"), "bob\n").unwrap();
    assert!(git(&clone, &bob, &["add", "."]).success());
    assert!(git(&clone, &bob, &["commit", "-q", "-m", "bob's change"]).success());
    let push = git(&clone, &bob, &["push", "heroku", "main"]);
    assert!(push.success(), "{push:?}");
    let newest = bob.ok(&["releases", "-a", "deploy-app"]);
    assert!(newest.stdout.contains("Current: v2"), "{newest:?}");
    assert!(
        newest
            .stdout
            .lines()
            .any(|l| l.contains("v2") && l.contains("bob@example.com")),
        "{newest:?}"
    );

    // config:set and config:unset make releases and say which.
    let set = alice.ok(&["config:set", "GREETING=hello world", "-a", "deploy-app"]);
    assert!(
        set.stderr
            .contains("Setting GREETING and restarting deploy-app... done, v3"),
        "{set:?}"
    );
    assert!(set.stdout.contains("GREETING: hello world"), "{set:?}");
    assert_eq!(
        get_valid(&api, "/apps/deploy-app/config-vars")["GREETING"],
        "hello world"
    );
    let unset = alice.ok(&["config:unset", "GREETING", "-a", "deploy-app"]);
    assert!(
        unset
            .stderr
            .contains("Unsetting GREETING and restarting deploy-app... done, v4"),
        "{unset:?}"
    );
    assert!(get_valid(&api, "/apps/deploy-app/config-vars")
        .get("GREETING")
        .is_none());
    assert_eq!(releases().as_array().unwrap().len(), 4);
}

/// `heroku ps` until `wanted` shows, or a minute has passed.
fn ps_shows(cli: &HerokuCli, app: &str, wanted: &[&str]) -> common::heroku::CliRun {
    let mut last = None;
    let shown = wait_for(Duration::from_secs(60), || {
        let ps = cli.ok(&["ps", "-a", app]);
        let all = wanted.iter().all(|w| ps.stdout.contains(w));
        if all {
            return Some(ps);
        }
        last = Some(ps);
        std::thread::sleep(Duration::from_millis(300));
        None
    });
    shown.unwrap_or_else(|| panic!("heroku ps never showed {wanted:?}: {last:#?}"))
}

/// How many lines of the app's log, as `heroku logs` prints them, contain `text`.
fn log_count(cli: &HerokuCli, app: &str, text: &str) -> usize {
    let logs = cli.ok(&["logs", "-n", "1500", "-a", app]);
    logs.stdout.lines().filter(|l| l.contains(text)).count()
}

/// Runs `heroku ps:restart ARGS`, checks what it says, and waits until the
/// log shows `dyno` starting once more than before.
fn assert_restarts(cli: &HerokuCli, app: &str, args: &[&str], says: &str, dyno: &str) {
    let started = format!("heroku[{dyno}]: Starting process with command");
    let before = log_count(cli, app, &started);
    let mut command = vec!["ps:restart", "-a", app];
    command.extend_from_slice(args);
    let restart = cli.ok(&command);
    assert!(restart.stderr.contains(says), "{restart:?}");
    let restarted = wait_for(Duration::from_secs(30), || {
        (log_count(cli, app, &started) > before).then_some(())
    });
    assert!(restarted.is_some(), "{dyno} was not started again");
}

#[test]
fn running_dynos_through_the_heroku_cli() {
    let server = tls_server();
    let alice_key = server.create_user("alice@example.com");
    let bob_key = server.create_user("bob@example.com");
    let alice = HerokuCli::new(&server, "alice", Some(&alice_key));
    let bob = HerokuCli::new(&server, "bob", Some(&bob_key));
    let app = "dyno-app";
    alice.ok(&["apps:create", app]);
    alice.ok(&["access:add", "bob@example.com", "-a", app]);

    let repo = server.dir.path().join(app);
    std::fs::create_dir_all(&repo).unwrap();
    assert!(git(&repo, &alice, &["init", "-q", "-b", "main"]).success());
    std::fs::write(repo.join("Procfile"), "web: python3 -m http.server $PORT\n").unwrap();
    assert!(git(&repo, &alice, &["add", "."]).success());
    assert!(git(&repo, &alice, &["commit", "-q", "-m", "first"]).success());
    alice.ok_in(&repo, &["git:remote", "-a", app]);
    let push = git(&repo, &alice, &["push", "heroku", "main"]);
    assert!(push.success(), "{push:?}");

    // ps with a running dyno, in the CLI's own layout.
    let ps = ps_shows(&bob, app, &["web.1: up"]);
    assert!(
        ps.stdout
            .contains("=== web (Basic): python3 -m http.server $PORT (1)"),
        "{ps:?}"
    );

    // A collaborator scales up; both dynos show as up.
    bob.ok(&["ps:scale", "web=2", "-a", app]);
    let ps = ps_shows(&bob, app, &["web.1: up", "web.2: up"]);
    assert!(ps.stdout.contains("(2)"), "{ps:?}");

    // Restart one dyno by name, then the whole type (which reaches web.2).
    assert_restarts(
        &bob,
        app,
        &["--dyno-name", "web.1"],
        &format!("Restarting dyno web.1 on {app}... done"),
        "web.1",
    );
    assert_restarts(
        &bob,
        app,
        &["--process-type", "web"],
        &format!("Restarting all web dynos on {app}... done"),
        "web.2",
    );
    assert!(
        log_count(
            &alice,
            app,
            "app[api]: Restart web dynos by user bob@example.com"
        ) == 1,
        "the type restart is not in the log"
    );

    // Stopping the type: the formation brings fresh dynos back.
    let stop = bob.ok(&["ps:stop", "--process-type", "web", "-a", app]);
    assert!(
        stop.stderr
            .contains(&format!("Stopping all web dynos on {app}... done")),
        "{stop:?}"
    );
    ps_shows(&bob, app, &["web.1: up", "web.2: up"]);

    // An unknown type is refused with the server's message (the CLI exits 2
    // on an API error with a message).
    let unknown = bob.run(&["ps:restart", "--process-type", "worker", "-a", app]);
    assert_eq!(unknown.code, Some(2), "{unknown:?}");
    assert!(
        unknown.stderr.contains("Couldn't find that formation."),
        "{unknown:?}"
    );

    // logs --tail shows a request made through the router after it started.
    let web_url = get_valid(&server.api(&alice_key), &format!("/apps/{app}"))["web_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_tail_shows_a_new_request(&bob, app, &web_url);
}

/// Runs `heroku logs --tail` and requests a marked path through the router
/// until the access line for it streams in (at most 30 s).
fn assert_tail_shows_a_new_request(cli: &HerokuCli, app: &str, web_url: &str) {
    let mut command = cli.command(&["logs", "--tail", "-n", "1", "-a", app]);
    let tail = Follower::spawn(command.current_dir(&cli.home));
    let url = url::Url::parse(web_url).unwrap();
    let router = format!("http://127.0.0.1:{}", url.port().unwrap());
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let marker = format!("/tail-{}", std::process::id());
    let found = tail.until(
        Duration::from_secs(30),
        || {
            let _ = http
                .get(format!("{router}{marker}"))
                .header("Host", &host)
                .send();
        },
        |line| line.contains("heroku[router]:") && line.contains(&format!("path=\"{marker}\"")),
    );
    drop(tail);
    cli.check_observed("heroku logs --tail");
    assert!(found, "heroku logs --tail did not show the request");
}
