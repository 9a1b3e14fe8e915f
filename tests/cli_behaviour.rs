//! How the client behaves around the API: errors go to stderr with the
//! server's message and a non-zero exit; lists print JSON with `--json`; the
//! app comes from `-a`, else from the git remote named `slipway` (or `-r`).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::cast::Cast;
use common::{run, stderr, stdout};
use serde_json::Value;

fn slipway(cast: &Cast, key: &str, args: &[&str]) -> Output {
    run(cast.server.cli(Some(key)).args(args))
}

/// The command failed, said `message` on stderr, and printed nothing on stdout.
fn assert_fails_with(out: &Output, message: &str, what: &str) {
    assert!(!out.status.success(), "{what} succeeded: {}", stdout(out));
    assert!(
        stderr(out).contains(message),
        "{what}: stderr {:?} lacks {message:?}",
        stderr(out)
    );
    assert_eq!(stdout(out), "", "{what}: stdout");
}

fn json_out(out: &Output, what: &str) -> Value {
    assert!(out.status.success(), "{what}: {}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{what}: {e}: {}", stdout(out)))
}

#[test]
fn errors_go_to_stderr_with_the_servers_message_and_fail() {
    let cast = Cast::shared();
    let (alice, erin) = (&cast.alice, &cast.erin);
    let cases: [(&str, &[&str], &str); 9] = [
        (
            alice,
            &["info", "-a", "no-such-app"],
            "Couldn't find that app.",
        ),
        (
            erin,
            &["info", "-a", "demo-app"],
            "You do not have access to the app demo-app.",
        ),
        (
            erin,
            &["sharing", "-a", "demo-app"],
            "You do not have access to the app demo-app.",
        ),
        (
            erin,
            &["apps:create", "demo-app"],
            "Name demo-app is already taken",
        ),
        (
            erin,
            &["apps:create", "Bad_Name"],
            "must start with a lowercase letter",
        ),
        (
            alice,
            &["apps:rename", "x", "-a", "demo-app"],
            "between 3 and 30 characters",
        ),
        (
            alice,
            &["sharing:remove", "frank@example.com", "-a", "demo-app"],
            "frank@example.com is not a collaborator on demo-app",
        ),
        (
            alice,
            &["sharing:add", "not-an-email", "-a", "demo-app"],
            "\"not-an-email\" is not an email address",
        ),
        (
            &cast.bob,
            &["apps:destroy", "demo-app", "--confirm", "demo-app"],
            "Only the owner of demo-app (alice@example.com) can delete the app.",
        ),
    ];
    let before = cast.server.snapshot();
    for (key, args, message) in cases {
        let out = slipway(&cast, key, args);
        assert_fails_with(&out, message, &args.join(" "));
    }
    common::inspect::assert_unchanged(&before, &cast.server.snapshot(), "failed commands");

    // Destroying without the confirmation refuses before asking the server.
    let out = slipway(&cast, alice, &["apps:destroy", "demo-app"]);
    assert_fails_with(&out, "--confirm demo-app", "destroy without --confirm");
    let out = slipway(
        &cast,
        alice,
        &["apps:destroy", "demo-app", "--confirm", "demo-ap"],
    );
    assert_fails_with(&out, "--confirm demo-app", "destroy with the wrong name");
    assert_eq!(cast.alice().get("/apps/demo-app").status, 200);
}

#[test]
fn missing_or_unusable_credentials_and_servers_are_clear_errors() {
    let cast = Cast::start();

    let out = run(cast.server.cli(None).arg("apps"));
    assert_fails_with(&out, "You are not logged in", "no key");
    let out = run(cast.server.cli(Some("slw_wrong")).arg("apps"));
    assert_fails_with(&out, "Invalid credentials provided.", "wrong key");

    // A port nothing listens on, on loopback.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = run(cast
        .server
        .cli(Some(&cast.alice))
        .env("SLIPWAY_API_URL", &url)
        .arg("apps"));
    assert_fails_with(&out, "cannot reach the Slipway API", "closed port");
    let out = run(cast
        .server
        .cli(Some(&cast.alice))
        .env("SLIPWAY_API_URL", "ftp://127.0.0.1/")
        .arg("apps"));
    assert_fails_with(&out, "SLIPWAY_API_URL", "ftp URL");

    let out = run(cast.server.cli(Some(&cast.alice)).args(["apps:fly"]));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("apps:fly"), "{}", stderr(&out));
}

#[test]
fn lists_print_json_with_json() {
    let cast = Cast::shared();

    let apps = json_out(
        &slipway(&cast, &cast.bob, &["apps", "--json"]),
        "apps --json",
    );
    let names: Vec<&str> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo-app"]);
    assert_eq!(apps[0]["owner"]["email"], "alice@example.com");

    let sharing = json_out(
        &slipway(&cast, &cast.bob, &["sharing", "--json", "-a", "demo-app"]),
        "sharing --json",
    );
    let people: Vec<(&str, &str)> = sharing
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["user"]["email"].as_str().unwrap(),
                c["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        people,
        [
            ("alice@example.com", "owner"),
            ("bob@example.com", "collaborator"),
            ("carol@example.com", "collaborator"),
        ]
    );

    let info = json_out(
        &slipway(&cast, &cast.bob, &["info", "--json", "-a", "demo-app"]),
        "info --json",
    );
    assert_eq!(info["app"]["name"], "demo-app");
    assert!(info["app"]["git_url"]
        .as_str()
        .unwrap()
        .ends_with("/demo-app.git"));
    assert_eq!(info["collaborators"].as_array().unwrap().len(), 3);

    let activity = json_out(
        &slipway(&cast, &cast.bob, &["activity", "--json", "-a", "demo-app"]),
        "activity --json",
    );
    assert_eq!(activity[0]["action"], "create");

    // Without --json, the familiar text.
    let apps = stdout(&slipway(&cast, &cast.bob, &["apps"]));
    assert!(apps.contains("=== Collaborated Apps"), "{apps}");
    assert!(
        apps.contains("demo-app") && apps.contains("alice@example.com"),
        "{apps}"
    );
    let apps = stdout(&slipway(&cast, &cast.alice, &["apps"]));
    assert!(
        apps.starts_with("=== alice@example.com Apps\ndemo-app\n"),
        "{apps}"
    );
    let none = stdout(&slipway(&cast, &cast.carol, &["apps"]));
    assert!(none.contains("=== Collaborated Apps"), "{none}");
}

/// A checkout with remotes `slipway` (demo-app) and `staging` (demo-api).
fn checkout(cast: &Cast) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = run(Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("HOME", cast.server.home()));
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    };
    git(&["init", "-q"]);
    git(&[
        "remote",
        "add",
        "slipway",
        &format!("{}/demo-app.git", cast.server.url),
    ]);
    git(&[
        "remote",
        "add",
        "staging",
        &format!("{}/demo-api.git", cast.server.url),
    ]);
    dir
}

fn slipway_in(cast: &Cast, dir: &Path, args: &[&str]) -> Output {
    run(cast
        .server
        .cli(Some(&cast.alice))
        .current_dir(dir)
        .args(args))
}

#[test]
fn the_app_comes_from_a_or_the_slipway_git_remote() {
    let cast = Cast::shared();
    cast.create_app(&cast.alice, "demo-api");
    let repo = checkout(&cast);

    let info = slipway_in(&cast, repo.path(), &["info"]);
    assert!(info.status.success(), "{}", stderr(&info));
    assert!(
        stdout(&info).starts_with("=== demo-app\n"),
        "{}",
        stdout(&info)
    );

    let sharing = slipway_in(&cast, repo.path(), &["sharing", "-r", "staging"]);
    assert!(
        stdout(&sharing).starts_with("=== demo-api Collaborators\n"),
        "{}",
        stdout(&sharing)
    );

    // -a wins over the remote.
    let info = slipway_in(&cast, repo.path(), &["info", "-a", "demo-api"]);
    assert!(
        stdout(&info).starts_with("=== demo-api\n"),
        "{}",
        stdout(&info)
    );

    // Commands that change things follow the remote too.
    let add = slipway_in(&cast, repo.path(), &["sharing:add", "erin@example.com"]);
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(stderr(&add).contains("Adding erin@example.com to demo-app collaborators... done"));
    assert!(cast
        .collaborator_emails(&cast.alice(), "demo-app")
        .contains(&"erin@example.com".to_string()));

    // No -a and no such remote: say how to name the app.
    let out = slipway_in(&cast, repo.path(), &["info", "-r", "nowhere"]);
    assert_fails_with(&out, "No app specified", "unknown remote");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = slipway_in(&cast, elsewhere.path(), &["info"]);
    assert_fails_with(&out, "No app specified", "outside a checkout");
}

#[test]
fn login_whoami_logout() {
    let cast = Cast::start_with_passwords();
    let login = |password: &str| {
        common::run_with_stdin(
            {
                let mut cmd = cast.server.cli(None);
                cmd.arg("login");
                cmd
            },
            Some(&format!("Bob@Example.com\n{password}\n")),
        )
    };

    let wrong = login("not-the-password");
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("Invalid credentials provided."),
        "{}",
        stderr(&wrong)
    );
    assert!(!cast.server.home().join(".netrc").exists());

    let right = login("pw-bob@example.com");
    assert!(right.status.success(), "{}", stderr(&right));
    assert_eq!(stdout(&right).trim(), "Logged in as bob@example.com");
    let whoami = run(cast.server.cli(None).arg("auth:whoami"));
    assert_eq!(stdout(&whoami).trim(), "bob@example.com");
    let key = stored_key(&cast);
    assert_eq!(cast.server.api(&key).get("/account").status, 200);

    // Logout revokes the key on the server before forgetting it.
    let logout = run(cast.server.cli(None).arg("logout"));
    assert!(logout.status.success(), "{}", stderr(&logout));
    assert_eq!(stderr(&logout).trim(), "Logging out... done");
    assert_eq!(cast.server.api(&key).get("/account").status, 401);
    let whoami = run(cast.server.cli(None).arg("auth:whoami"));
    assert_fails_with(&whoami, "You are not logged in", "whoami after logout");
}

/// The key `slipway login` stored in ~/.netrc.
fn stored_key(cast: &Cast) -> String {
    let netrc = std::fs::read_to_string(cast.server.home().join(".netrc")).unwrap();
    let mut tokens = netrc.split_whitespace();
    tokens.find(|t| *t == "password");
    tokens.next().expect("a password in ~/.netrc").to_string()
}

fn log_in_as_bob(cast: &Cast) -> String {
    let mut cmd = cast.server.cli(None);
    cmd.arg("login");
    let out = common::run_with_stdin(cmd, Some("bob@example.com\npw-bob@example.com\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    stored_key(cast)
}

/// When the key cannot be revoked, logout still forgets it locally, exits 0,
/// and says that the key was not revoked.
#[test]
fn logout_says_when_the_key_could_not_be_revoked() {
    let cast = Cast::start_with_passwords();

    // The server cannot be reached (same host, so the same netrc entry).
    let key = log_in_as_bob(&cast);
    let unreachable = format!("http://127.0.0.1:{}", common::free_port());
    let logout = run(cast
        .server
        .cli(None)
        .env("SLIPWAY_API_URL", &unreachable)
        .arg("logout"));
    assert!(logout.status.success(), "{}", stderr(&logout));
    assert!(
        stderr(&logout).contains("the API key could NOT be revoked: cannot reach the Slipway API"),
        "{}",
        stderr(&logout)
    );
    assert!(stderr(&logout).contains("keeps working until it expires"));
    assert!(!std::fs::read_to_string(cast.server.home().join(".netrc"))
        .unwrap()
        .contains(&key));
    // What it said is true: the key still works.
    assert_eq!(cast.server.api(&key).get("/account").status, 200);

    // The key was already revoked elsewhere.
    let key = log_in_as_bob(&cast);
    let api = cast.server.api(&key);
    let own = api.get("/oauth/authorizations").body;
    let own = own
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["access_token"]["token"] == key.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.delete(&format!("/oauth/authorizations/{own}")).status,
        200
    );
    let logout = run(cast.server.cli(None).arg("logout"));
    assert!(logout.status.success(), "{}", stderr(&logout));
    assert!(
        stderr(&logout)
            .contains("The API key could not be revoked: the server no longer accepts it"),
        "{}",
        stderr(&logout)
    );
    let whoami = run(cast.server.cli(None).arg("auth:whoami"));
    assert_fails_with(&whoami, "You are not logged in", "whoami after logout");

    // Nothing stored: nothing to do, and said so.
    let logout = run(cast.server.cli(None).arg("logout"));
    assert!(logout.status.success(), "{}", stderr(&logout));
    assert!(
        stderr(&logout).contains("Not logged in"),
        "{}",
        stderr(&logout)
    );
}

#[test]
fn apps_create_without_a_name_picks_a_valid_one() {
    let cast = Cast::start();
    let out = slipway(&cast, &cast.alice, &["apps:create", "--json"]);
    let app = json_out(&out, "apps:create --json");
    let name = app["name"].as_str().unwrap();
    assert!(
        stderr(&out).contains(&format!("done, {name}")),
        "{}",
        stderr(&out)
    );
    let valid = name.len() >= 3
        && name.len() <= 30
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    assert!(valid, "{name}");
    assert_eq!(app["owner"]["email"], "alice@example.com");
    assert!(app["git_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/{name}.git")));
    assert_eq!(cast.alice().get(&format!("/apps/{name}")).status, 200);
}

/// `slipway admin` works on an existing installation only: pointed at a
/// directory without one (say, run from elsewhere without `--data-dir`), it
/// refuses instead of making a new, empty one and printing a key for it.
#[test]
fn admin_refuses_a_data_dir_without_an_installation() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("elsewhere");
    let out = run(Command::new(common::BIN)
        .env_remove("DATABASE_URL")
        .env_remove("SLIPWAY_DATA_DIR")
        .args(["admin", "--data-dir"])
        .arg(&empty)
        .args(["create-user", "eve@example.com"]));
    assert_fails_with(&out, "no Slipway installation in", "create-user");
    assert!(!empty.join("slipway.db").exists(), "a database was made");
}

#[test]
fn admin_mail_refuses_an_unknown_state() {
    let cast = Cast::start();
    let out = cast.server.admin(&["mail", "--state", "bogus"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("possible values"), "{}", stderr(&out));
    let sent = cast.server.admin(&["mail", "--state", "sent"], None);
    assert!(sent.status.success(), "{}", stderr(&sent));
}
