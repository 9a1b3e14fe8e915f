//! The git remote over HTTP with the real git client: who may push and
//! clone, credentials (K11, K12, K14), path tricks (K15), renames (K10),
//! oversized pushes (K18), and the CLI's git commands.

mod common;

use std::time::{Duration, Instant};

use common::git::{basic_auth, raw_request, server_main, server_repo, url_with_key, GitUser};
use common::{run, run_with_stdin, stderr, stdout, Server};
use serde_json::json;

/// alice owns demo-app; bob and carol get keys (not yet collaborators).
struct Cast {
    server: Server,
    alice: String,
    bob: String,
    carol: String,
    app_id: String,
}

fn cast_with(server: Server) -> Cast {
    let alice = server.create_user("alice@example.com");
    let bob = server.create_user("bob@example.com");
    let carol = server.create_user("carol@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({ "name": "demo-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    let app_id = created.body["id"].as_str().unwrap().to_string();
    Cast {
        server,
        alice,
        bob,
        carol,
        app_id,
    }
}

fn cast() -> Cast {
    cast_with(Server::start())
}

fn share(cast: &Cast, email: &str) {
    let added = cast.server.api(&cast.alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": email, "silent": true }),
    );
    assert_eq!(added.status, 201, "{}", added.text);
}

fn unshare(cast: &Cast, email: &str) {
    let removed = cast
        .server
        .api(&cast.alice)
        .delete(&format!("/apps/demo-app/collaborators/{email}"));
    assert!(
        removed.status == 200 || removed.status == 204,
        "{}",
        removed.text
    );
}

fn url(cast: &Cast, key: &str) -> String {
    url_with_key(&cast.server.url, key, "demo-app")
}

#[test]
fn owner_and_collaborators_push_and_clone_while_access_is_recomputed() {
    let cast = cast();
    let alice = GitUser::new("alice");
    let bob = GitUser::new("bob");
    let carol = GitUser::new("carol");

    // K12 step 1: alice pushes v1.
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    assert!(out.contains("Released v1"), "{out}");
    assert!(out.contains("Procfile declares types -> web"), "{out}");

    // Steps 2-3: bob and carol are added; bob clones and pushes at once.
    share(&cast, "bob@example.com");
    share(&cast, "carol@example.com");
    let bob_work = bob.clone(&url(&cast, &cast.bob), "demo-app");
    assert!(bob_work.join("Procfile").is_file());
    let bob_commit = bob.commit(&bob_work, "bob.txt", "bob\n", "bob's change");
    let (ok, out) = bob.push(&bob_work, &url(&cast, &cast.bob), &["main"]);
    assert!(ok, "{out}");
    assert_eq!(
        server_main(&cast.server, &cast.app_id).as_deref(),
        Some(bob_commit.as_str())
    );

    // Step 4: carol is removed; her clone and push are refused with a message.
    let carol_work = carol.clone(&url(&cast, &cast.carol), "demo-app");
    unshare(&cast, "carol@example.com");
    carol.commit(&carol_work, "carol.txt", "carol\n", "carol's change");
    let (ok, out) = carol.push(&carol_work, &url(&cast, &cast.carol), &["main"]);
    assert!(!ok);
    assert!(
        out.contains("You do not have access to the app demo-app"),
        "{out}"
    );
    assert!(out.contains("403"), "{out}");
    let refused = carol.run(&carol.home, &["clone", &url(&cast, &cast.carol), "again"]);
    assert!(!refused.status.success());

    // Step 5: bob and alice still push.
    let bob_again = bob.commit(&bob_work, "bob.txt", "bob 2\n", "bob again");
    let (ok, out) = bob.push(&bob_work, &url(&cast, &cast.bob), &["main"]);
    assert!(ok, "{out}");
    alice.ok(
        &work,
        &[
            "pull",
            "--quiet",
            "--rebase",
            &url(&cast, &cast.alice),
            "main",
        ],
    );
    let alice_again = alice.commit(&work, "alice.txt", "alice\n", "alice again");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    assert!(out.contains("Released v4"), "{out}");
    assert_eq!(
        server_main(&cast.server, &cast.app_id).as_deref(),
        Some(alice_again.as_str())
    );
    alice.ok(&work, &["merge-base", "--is-ancestor", &bob_again, "HEAD"]);

    // Releases, newest first on request, with who pushed.
    let api = cast.server.api(&cast.bob);
    let releases = api.send(
        api.request("GET", "/apps/demo-app/releases")
            .header("Range", "version ..; max=2, order=desc"),
    );
    assert_eq!(releases.status, 206, "{}", releases.text);
    let versions: Vec<i64> = releases
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [4, 3]);
    assert_eq!(releases.body[0]["user"]["email"], "alice@example.com");
    assert_eq!(releases.body[0]["current"], true);
    assert_eq!(releases.body[1]["user"]["email"], "bob@example.com");
    let v2 = api.get("/apps/demo-app/releases/2");
    assert_eq!(v2.status, 200);
    assert!(
        v2.body["description"]
            .as_str()
            .unwrap()
            .starts_with("Deploy "),
        "{}",
        v2.text
    );
    assert_eq!(api.get("/apps/demo-app/releases/99").status, 404);

    // The app shows real sizes and when it was released.
    let app = api.get("/apps/demo-app");
    assert!(app.body["repo_size"].as_i64().unwrap() > 0, "{}", app.text);
    assert!(app.body["slug_size"].as_i64().unwrap() > 0, "{}", app.text);
    assert!(app.body["released_at"].is_string());

    // Deploys are in the activity list with who pushed.
    let activity = api.get("/apps/demo-app/activity");
    let deploys: Vec<&str> = activity
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "deploy")
        .map(|e| e["user"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        deploys,
        [
            "alice@example.com",
            "bob@example.com",
            "bob@example.com",
            "alice@example.com"
        ]
    );
}

#[test]
fn removal_refuses_push_fetch_and_api_at_once_with_netrc_credentials() {
    let cast = cast();
    share(&cast, "bob@example.com");
    let bob = GitUser::new("bob");

    // K11 step 1 / K14: bob logs in, so ~/.netrc holds his key, and plain
    // `git push` without credentials in the URL works after the challenge.
    let mut login = cast.server.cli(None);
    login.env("HOME", &bob.home).arg("login");
    let login = run_with_stdin(login, Some("bob@example.com\npw-bob@example.com\n"));
    assert!(login.status.success(), "{}", stderr(&login));
    let plain_url = format!("{}/demo-app.git", cast.server.url);
    let work = bob.new_repo("work");
    let (ok, out) = bob.push(&work, &plain_url, &["main"]);
    assert!(ok, "{out}");
    let tip = server_main(&cast.server, &cast.app_id).unwrap();

    // Step 2-3: alice removes bob; within a second everything is refused.
    unshare(&cast, "bob@example.com");
    let started = Instant::now();
    bob.commit(&work, "late.txt", "late\n", "too late");
    let (ok, out) = bob.push(&work, &plain_url, &["main"]);
    assert!(!ok);
    assert!(
        out.contains("You do not have access to the app demo-app"),
        "{out}"
    );
    let fetch = bob.run(&work, &["fetch", &plain_url]);
    assert!(!fetch.status.success());
    assert!(common::git::combined(&fetch).contains("403"));
    assert_eq!(cast.server.api(&cast.bob).get("/apps/demo-app").status, 403);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(server_main(&cast.server, &cast.app_id), Some(tip));
}

#[test]
fn advertisements_need_credentials_and_leak_nothing() {
    let cast = cast();
    let alice = GitUser::new("alice");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    let tip = server_main(&cast.server, &cast.app_id).unwrap();

    // K14: no credentials: 401 with a challenge, the same for a missing app.
    let mut answers = Vec::new();
    for app in ["demo-app", "no-such-app"] {
        for service in ["git-receive-pack", "git-upload-pack"] {
            let path = format!("/{app}.git/info/refs?service={service}");
            let response = cast.server.anonymous().get(&path);
            assert_eq!(response.status, 401, "{path}");
            let challenge = response.headers["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Basic"), "{challenge}");
            assert!(!response.text.contains("refs/"), "{}", response.text);
            assert!(!response.text.contains(&tip[..7]), "{}", response.text);
            answers.push(response.text);
        }
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // A wrong key is 401 too; a key without access is 403; a missing app
    // behind a valid key is 404.
    let wrong = raw_request(
        &cast.server.url,
        "GET",
        "/demo-app.git/info/refs?service=git-upload-pack",
        &[("Authorization", &basic_auth("slw_wrong"))],
    );
    assert_eq!(wrong.0, 401);
    let erin = cast.server.create_user("erin@example.com");
    let (status, body) = raw_request(
        &cast.server.url,
        "GET",
        "/demo-app.git/info/refs?service=git-upload-pack",
        &[("Authorization", &basic_auth(&erin))],
    );
    assert_eq!(status, 403);
    assert!(
        body.contains("You do not have access to the app demo-app"),
        "{body}"
    );
    assert!(!body.contains(&tip[..7]));
    let (status, _) = raw_request(
        &cast.server.url,
        "GET",
        "/no-such-app.git/info/refs?service=git-upload-pack",
        &[("Authorization", &basic_auth(&erin))],
    );
    assert_eq!(status, 404);
}

#[test]
fn path_tricks_never_reach_another_repository() {
    let cast = cast();
    let alice = GitUser::new("alice");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    let tip = server_main(&cast.server, &cast.app_id).unwrap();

    let erin_key = cast.server.create_user("erin@example.com");
    let erin_app = cast
        .server
        .api(&erin_key)
        .post("/apps", json!({ "name": "erin-app" }));
    assert_eq!(erin_app.status, 201);
    let auth = basic_auth(&erin_key);
    let id = &cast.app_id;
    let tricks = [
        "/erin-app/../demo-app.git".to_string(),
        "/erin-app.git/../demo-app.git".to_string(),
        "/%2e%2e/demo-app.git".to_string(),
        "/erin-app%2F..%2Fdemo-app.git".to_string(),
        "/erin-app.git%2F..%2Fdemo-app.git".to_string(),
        "/..%2Fdemo-app.git".to_string(),
        format!("/{id}.git"),
        format!("/..%2Frepos%2F{id}.git"),
        format!("/%2F{}.git", server_repo(&cast.server, id).display()),
        format!("/{}", server_repo(&cast.server, id).display()),
        "/DEMO-APP.git".to_string(),
        "/demo-app.git.git".to_string(),
    ];
    for trick in &tricks {
        for (method, suffix) in [
            ("GET", "/info/refs?service=git-receive-pack"),
            ("GET", "/info/refs?service=git-upload-pack"),
            ("POST", "/git-receive-pack"),
            ("POST", "/git-upload-pack"),
        ] {
            let path = format!("{trick}{suffix}");
            let (status, body) =
                raw_request(&cast.server.url, method, &path, &[("Authorization", &auth)]);
            assert!(
                [400, 403, 404].contains(&status),
                "{method} {path} answered {status}: {body}"
            );
            assert!(!body.contains(&tip[..7]), "{path} leaked a ref: {body}");
        }
    }

    // The real git client, pushing as erin, changes nothing.
    let erin = GitUser::new("erin");
    let erin_work = erin.new_repo("work");
    let host = cast.server.url.trim_start_matches("http://");
    for trick in [
        "erin-app/../demo-app.git",
        "%2e%2e/demo-app.git",
        "erin-app%2F..%2Fdemo-app.git",
    ] {
        let target = format!("http://git:{erin_key}@{host}/{trick}");
        let (ok, out) = erin.push(&erin_work, &target, &["main"]);
        assert!(!ok, "{trick}: {out}");
    }
    assert_eq!(server_main(&cast.server, &cast.app_id), Some(tip));

    // App names that are paths are refused by the API.
    let api = cast.server.api(&erin_key);
    assert_eq!(
        api.post("/apps", json!({ "name": "../demo-app" })).status,
        422
    );
    assert_eq!(api.post("/apps", json!({ "name": "a%2Fb" })).status, 422);
    assert_eq!(
        api.patch("/apps/erin-app", json!({ "name": "demo-app/.." }))
            .status,
        422
    );

    // Only the two apps' repositories exist, each named by its app id.
    let mut repos: Vec<String> = std::fs::read_dir(cast.server.data_dir.join("repos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    repos.sort();
    let mut expected = vec![
        format!("{id}.git"),
        format!("{}.git", erin_app.body["id"].as_str().unwrap()),
    ];
    expected.sort();
    assert_eq!(repos, expected);
}

#[test]
fn rename_keeps_the_repository_and_rewrites_remotes() {
    let cast = cast();
    share(&cast, "bob@example.com");
    let alice = GitUser::new("alice");
    let bob = GitUser::new("bob");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    let collaborators_before = cast
        .server
        .api(&cast.alice)
        .get("/apps/demo-app/collaborators")
        .text;
    let bob_work = bob.clone(&url(&cast, &cast.bob), "demo-app");

    // K10 step 1: two remotes point at the app; the rename rewrites both.
    let plain = format!("{}/demo-app.git", cast.server.url);
    alice.ok(&work, &["remote", "add", "heroku", &plain]);
    alice.ok(&work, &["remote", "add", "staging", &plain]);
    let rename = run(cast.server.cli(Some(&cast.alice)).current_dir(&work).args([
        "apps:rename",
        "demo-app2",
        "-a",
        "demo-app",
    ]));
    assert!(rename.status.success(), "{}", stderr(&rename));
    let remotes = alice.ok(&work, &["remote", "-v"]);
    assert_eq!(remotes.matches("/demo-app2.git").count(), 4, "{remotes}");

    // Step 2: bob pushes to the new name on top of the old history.
    let new_url = url_with_key(&cast.server.url, &cast.bob, "demo-app2");
    let commit = bob.commit(&bob_work, "b.txt", "b\n", "after the rename");
    let (ok, out) = bob.push(&bob_work, &new_url, &["main"]);
    assert!(ok, "{out}");
    assert!(out.contains("Released v2"), "{out}");
    assert_eq!(server_main(&cast.server, &cast.app_id), Some(commit));

    // Step 3: the old name is gone and makes no ghost repository.
    bob.commit(&bob_work, "c.txt", "c\n", "to the old name");
    let (ok, out) = bob.push(&bob_work, &url(&cast, &cast.bob), &["main"]);
    assert!(!ok);
    assert!(out.contains("not found"), "{out}");
    let repos = std::fs::read_dir(cast.server.data_dir.join("repos"))
        .unwrap()
        .count();
    assert_eq!(repos, 1);

    // Step 4: bob may not rename; the collaborators are as they were.
    let patch = cast
        .server
        .api(&cast.bob)
        .patch("/apps/demo-app2", json!({ "name": "x-app" }));
    assert_eq!(patch.status, 403);
    let collaborators_after = cast
        .server
        .api(&cast.alice)
        .get("/apps/demo-app2/collaborators")
        .text;
    assert_eq!(
        collaborators_before.replace("demo-app", "NAME"),
        collaborators_after.replace("demo-app2", "NAME")
    );
}

#[test]
fn oversized_push_is_refused_cleanly_and_the_repo_stays_healthy() {
    const MB: usize = 1024 * 1024;
    let server = Server::builder()
        .env("SLIPWAY_MAX_PUSH_BYTES", &(15 * MB).to_string())
        .start();
    let cast = cast_with(server);
    let alice = GitUser::new("alice");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    let tip = server_main(&cast.server, &cast.app_id).unwrap();

    // K18 step 1: N + 50 MB is refused with 413 and changes nothing.
    common::git::random_file(&work, "big.bin", 65 * MB);
    alice.ok(&work, &["add", "big.bin"]);
    alice.ok(&work, &["commit", "--quiet", "-m", "too big"]);
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(!ok);
    assert!(out.contains("413"), "{out}");
    assert_eq!(server_main(&cast.server, &cast.app_id), Some(tip.clone()));
    let objects = server_repo(&cast.server, &cast.app_id).join("objects");
    let leftovers: Vec<_> = std::fs::read_dir(&objects)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.starts_with("incoming-") || name.starts_with("tmp_"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (status, body) = raw_request(
        &cast.server.url,
        "POST",
        "/demo-app.git/git-receive-pack",
        &[
            ("Authorization", &basic_auth(&cast.alice)),
            ("Content-Length", &(20 * MB).to_string()),
        ],
    );
    assert_eq!(status, 413);
    assert!(body.contains("larger than this server's limit"), "{body}");

    // Steps 2-3: a small commit, then N - 10 MB (sent chunked by git).
    alice.ok(&work, &["reset", "--quiet", "--hard", "HEAD~1"]);
    alice.commit(&work, "small.txt", "small\n", "small");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    common::git::random_file(&work, "medium.bin", 5 * MB);
    alice.ok(&work, &["add", "medium.bin"]);
    alice.ok(&work, &["commit", "--quiet", "-m", "medium"]);
    let medium = alice.ok(&work, &["rev-parse", "HEAD"]);
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    assert_eq!(
        server_main(&cast.server, &cast.app_id),
        Some(medium.clone())
    );

    // A clone afterwards works and the repository is sound.
    let copy = alice.clone(&url(&cast, &cast.alice), "copy");
    assert_eq!(alice.ok(&copy, &["rev-parse", "HEAD"]), medium);
    let fsck = alice.run(
        &cast.server.data_dir,
        &[
            "--git-dir",
            server_repo(&cast.server, &cast.app_id).to_str().unwrap(),
            "fsck",
            "--strict",
        ],
    );
    assert!(fsck.status.success(), "{}", common::git::combined(&fsck));
    assert!(!cast.server.log().contains("http.status=500"));
}

#[test]
fn cli_sets_remotes_clones_and_lists_releases() {
    let cast = cast();
    let alice = GitUser::new("alice");
    let work = alice.new_repo("work");

    // git:remote adds the remote, then updates it in place.
    let cli = |args: &[&str]| {
        let mut cmd = cast.server.cli(Some(&cast.alice));
        cmd.current_dir(&work).env("HOME", &alice.home).args(args);
        run(&mut cmd)
    };
    let added = cli(&["git:remote", "-a", "demo-app"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let plain = format!("{}/demo-app.git", cast.server.url);
    assert_eq!(alice.ok(&work, &["remote", "get-url", "slipway"]), plain);
    let named = cli(&["git:remote", "-a", "demo-app", "-r", "prod"]);
    assert!(named.status.success(), "{}", stderr(&named));
    assert_eq!(alice.ok(&work, &["remote", "get-url", "prod"]), plain);
    assert!(cli(&["git:remote", "-a", "demo-app"]).status.success());

    // A release to list: pushed through the remote with the key from netrc.
    let netrc = format!(
        "machine 127.0.0.1\n  login alice@example.com\n  password {}\n",
        cast.alice
    );
    std::fs::write(alice.home.join(".netrc"), netrc).unwrap();
    let (ok, out) = alice.push(&work, "slipway", &["main"]);
    assert!(ok, "{out}");
    let releases = cli(&["releases"]);
    assert!(releases.status.success(), "{}", stderr(&releases));
    let text = stdout(&releases);
    assert!(
        text.starts_with("=== demo-app Releases - Current: v1"),
        "{text}"
    );
    assert!(
        text.contains("v1") && text.contains("alice@example.com"),
        "{text}"
    );
    let json = cli(&["releases", "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(parsed[0]["version"], 1);

    // info shows the real sizes.
    let info = stdout(&cli(&["info"]));
    for label in ["Repo Size:", "Slug Size:"] {
        let line = info
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_default();
        let size = line.trim_start_matches(label).trim();
        assert!(!size.is_empty() && size != "0 B", "{info}");
    }

    // git:clone makes a checkout with the remote set.
    let mut clone = cast.server.cli(Some(&cast.alice));
    clone
        .current_dir(&alice.home)
        .env("HOME", &alice.home)
        .args(["git:clone", "-a", "demo-app", "cloned"]);
    let cloned = run(&mut clone);
    assert!(cloned.status.success(), "{}", stderr(&cloned));
    let dir = alice.home.join("cloned");
    assert!(dir.join("Procfile").is_file());
    assert_eq!(alice.ok(&dir, &["remote", "get-url", "slipway"]), plain);

    // Deleting the app deletes its repository.
    let destroyed = cli(&["apps:destroy", "demo-app", "--confirm", "demo-app"]);
    assert!(destroyed.status.success(), "{}", stderr(&destroyed));
    assert!(!server_repo(&cast.server, &cast.app_id).exists());
    assert!(!cast
        .server
        .data_dir
        .join("slugs")
        .join(&cast.app_id)
        .exists());
}
