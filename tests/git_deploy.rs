//! Pushes that deploy, as the real git client sees them: failing builds and
//! all-or-nothing pushes (K17), removal in the middle of an upload (K11),
//! stale and forced pushes, a client that dies mid-upload, and two clients
//! pushing at once, round after round (K16).

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::git::{server_main, server_repo, spawn_push, url_with_key, GateProxy, GitUser};
use common::Server;
use serde_json::json;

struct Cast {
    server: Server,
    alice: String,
    bob: String,
    app_id: String,
}

/// alice owns demo-app and shares it with bob.
fn cast() -> Cast {
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let bob = server.create_user("bob@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({ "name": "demo-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    let added = server.api(&alice).post(
        "/apps/demo-app/collaborators",
        json!({ "user": "bob@example.com", "silent": true }),
    );
    assert_eq!(added.status, 201, "{}", added.text);
    Cast {
        app_id: created.body["id"].as_str().unwrap().to_string(),
        server,
        alice,
        bob,
    }
}

fn url(cast: &Cast, key: &str) -> String {
    url_with_key(&cast.server.url, key, "demo-app")
}

fn release_count(cast: &Cast) -> usize {
    let api = cast.server.api(&cast.alice);
    let releases = api.send(
        api.request("GET", "/apps/demo-app/releases")
            .header("Range", "version ..; max=1000"),
    );
    releases.body.as_array().map(Vec::len).unwrap_or(0)
}

#[test]
fn a_failing_build_moves_no_ref_and_runs_again_on_the_next_push() {
    let cast = cast();
    let bob = GitUser::new("bob");
    let work = bob.new_repo("work");
    let (ok, out) = bob.push(&work, &url(&cast, &cast.bob), &["main"]);
    assert!(ok, "{out}");
    let good = server_main(&cast.server, &cast.app_id).unwrap();

    // K17 step 1: commit X does not build; main stays where it was.
    bob.commit(&work, "Procfile", "web ./no-colon\n", "broken Procfile");
    let (ok, out) = bob.push(&work, &url(&cast, &cast.bob), &["main"]);
    assert!(!ok);
    assert!(out.contains("Procfile line 1"), "{out}");
    assert!(out.contains("failed to compile demo-app"), "{out}");
    assert_eq!(
        server_main(&cast.server, &cast.app_id).as_deref(),
        Some(good.as_str())
    );

    // Step 2: the same commit again builds again.
    let (ok, out) = bob.push(&work, &url(&cast, &cast.bob), &["main"]);
    assert!(!ok);
    assert!(out.contains("Building demo-app"), "{out}");
    assert!(!out.contains("Everything up-to-date"), "{out}");

    // Step 3: main and a tag in one push: neither lands.
    bob.ok(&work, &["tag", "v1.0"]);
    let (ok, out) = bob.push(&work, &url(&cast, &cast.bob), &["main", "v1.0"]);
    assert!(!ok, "{out}");
    let tags = bob.ok(&work, &["ls-remote", "--tags", &url(&cast, &cast.bob)]);
    assert!(tags.is_empty(), "{tags}");
    assert_eq!(
        server_main(&cast.server, &cast.app_id).as_deref(),
        Some(good.as_str())
    );

    // A branch other than main is refused, naming the branch to use.
    let (ok, out) = bob.push(&work, &url(&cast, &cast.bob), &["HEAD:feature"]);
    assert!(!ok);
    assert!(out.contains("git push slipway feature:main"), "{out}");

    // Fixed, it deploys; one release per accepted push.
    bob.commit(&work, "Procfile", "web: ./run\n", "fixed Procfile");
    let (ok, out) = bob.push(&work, &url(&cast, &cast.bob), &["main", "v1.0"]);
    assert!(ok, "{out}");
    assert_eq!(release_count(&cast), 2);
}

#[test]
fn a_collaborator_removed_mid_upload_is_refused_before_the_ref_moves() {
    let cast = cast();
    let bob = GitUser::new("bob");
    let work = bob.new_repo("work");
    let (ok, out) = bob.push(&work, &url(&cast, &cast.bob), &["main"]);
    assert!(ok, "{out}");
    let tip = server_main(&cast.server, &cast.app_id).unwrap();

    // K11 step 4: bob's upload is held half-way while alice removes him.
    common::git::random_file(&work, "big.bin", 2 * 1024 * 1024);
    bob.ok(&work, &["add", "big.bin"]);
    bob.ok(&work, &["commit", "--quiet", "-m", "large"]);
    let proxy = GateProxy::start(&cast.server.url, 64 * 1024);
    let push = spawn_push(&bob, &work, &proxy.url(&cast.bob, "demo-app"), "main");
    assert!(
        proxy.wait_paused(Duration::from_secs(60)),
        "the upload never started"
    );
    let removed = cast
        .server
        .api(&cast.alice)
        .delete("/apps/demo-app/collaborators/bob@example.com");
    assert_eq!(removed.status, 200, "{}", removed.text);
    proxy.open();

    let out = push.wait_with_output().unwrap();
    let text = common::git::combined(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("You do not have access to the app demo-app"),
        "{text}"
    );
    assert_eq!(server_main(&cast.server, &cast.app_id), Some(tip));
    assert_eq!(release_count(&cast), 1);
}

#[test]
fn a_stale_push_is_refused_with_pull_rebase_guidance_and_force_is_recorded() {
    let cast = cast();
    let alice = GitUser::new("alice");
    let bob = GitUser::new("bob");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    let bob_work = bob.clone(&url(&cast, &cast.bob), "demo-app");

    // alice's push is held after git compared refs; bob pushes meanwhile.
    common::git::random_file(&work, "a.bin", 512 * 1024);
    alice.ok(&work, &["add", "a.bin"]);
    alice.ok(&work, &["commit", "--quiet", "-m", "alice"]);
    let proxy = GateProxy::start(&cast.server.url, 64 * 1024);
    let push = spawn_push(&alice, &work, &proxy.url(&cast.alice, "demo-app"), "main");
    assert!(proxy.wait_paused(Duration::from_secs(60)));
    let bobs = bob.commit(&bob_work, "b.txt", "b\n", "bob first");
    let (ok, out) = bob.push(&bob_work, &url(&cast, &cast.bob), &["main"]);
    assert!(ok, "{out}");
    proxy.open();

    let out = push.wait_with_output().unwrap();
    let text = common::git::combined(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("someone else pushed to main first"), "{text}");
    assert!(text.contains("git pull --rebase"), "{text}");
    assert_eq!(
        server_main(&cast.server, &cast.app_id).as_deref(),
        Some(bobs.as_str())
    );

    // A forced push replaces bob's work, as Heroku allows, and says so.
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["--force", "main"]);
    assert!(ok, "{out}");
    let activity = cast.server.api(&cast.bob).get("/apps/demo-app/activity");
    let forced = activity
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "deploy-forced")
        .unwrap_or_else(|| panic!("no forced deploy in {}", activity.text));
    assert_eq!(forced["user"]["email"], "alice@example.com");
    assert!(forced["description"]
        .as_str()
        .unwrap()
        .contains("forced push"));
}

#[test]
fn a_client_killed_mid_upload_leaves_no_lock_behind() {
    let cast = cast();
    let alice = GitUser::new("alice");
    let bob = GitUser::new("bob");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    let bob_work = bob.clone(&url(&cast, &cast.bob), "demo-app");

    // K16 step 3: bob's client dies half-way through its upload.
    common::git::random_file(&bob_work, "b.bin", 2 * 1024 * 1024);
    bob.ok(&bob_work, &["add", "b.bin"]);
    bob.ok(&bob_work, &["commit", "--quiet", "-m", "bob"]);
    let proxy = GateProxy::start(&cast.server.url, 64 * 1024);
    let mut push = spawn_push(&bob, &bob_work, &proxy.url(&cast.bob, "demo-app"), "main");
    assert!(proxy.wait_paused(Duration::from_secs(60)));
    let _ = push.kill();
    let _ = push.wait();
    proxy.abort();

    // alice's push goes through.
    let commit = alice.commit(&work, "a.txt", "a\n", "alice after bob died");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    assert_eq!(server_main(&cast.server, &cast.app_id), Some(commit));
    assert!(!cast.server.log().contains("http.status=500"));
}

#[test]
fn two_clients_pushing_at_once_lose_no_accepted_commit() {
    let cast = cast();
    let alice = GitUser::new("alice");
    let bob = GitUser::new("bob");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &url(&cast, &cast.alice), &["main"]);
    assert!(ok, "{out}");
    let bob_work = bob.clone(&url(&cast, &cast.bob), "demo-app");
    let alice_url = url(&cast, &cast.alice);
    let bob_url = url(&cast, &cast.bob);

    let mut accepted = Vec::new();
    for round in 0..20 {
        // Both start from the same parent, P.
        for (user, dir, url) in [(&alice, &work, &alice_url), (&bob, &bob_work, &bob_url)] {
            user.ok(dir, &["fetch", "--quiet", url, "main"]);
            user.ok(dir, &["reset", "--quiet", "--hard", "FETCH_HEAD"]);
        }
        let a = alice.commit(&work, "a.txt", &format!("a {round}\n"), "alice");
        let b = bob.commit(&bob_work, "b.txt", &format!("b {round}\n"), "bob");

        let barrier = Arc::new(Barrier::new(2));
        let results: Vec<(bool, String)> = std::thread::scope(|scope| {
            let pushes = [(&alice, &work, &alice_url), (&bob, &bob_work, &bob_url)].map(
                |(user, dir, url)| {
                    let barrier = barrier.clone();
                    scope.spawn(move || {
                        barrier.wait();
                        user.push(dir, url, &["main"])
                    })
                },
            );
            pushes.map(|p| p.join().unwrap()).into()
        });

        // Exactly one advances main; the other is refused plainly.
        let tip = server_main(&cast.server, &cast.app_id).unwrap();
        let winners: Vec<&String> = [(&a, &results[0]), (&b, &results[1])]
            .iter()
            .filter(|(_, (ok, _))| *ok)
            .map(|(commit, _)| *commit)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(&tip, winners[0], "round {round}");
        let loser = results.iter().find(|(ok, _)| !ok).unwrap();
        assert!(
            loser.1.contains("git pull --rebase") || loser.1.contains("fetch first"),
            "round {round}: {}",
            loser.1
        );
        accepted.push(tip);
    }

    // Every accepted commit is reachable, the repository is sound, and each
    // accepted push made one release.
    let repo = server_repo(&cast.server, &cast.app_id);
    let git_dir = repo.to_str().unwrap();
    for commit in &accepted {
        alice.ok(
            &repo,
            &[
                "--git-dir",
                git_dir,
                "merge-base",
                "--is-ancestor",
                commit,
                "main",
            ],
        );
    }
    alice.ok(&repo, &["--git-dir", git_dir, "fsck", "--strict"]);
    assert_eq!(release_count(&cast), 21);
    assert!(!cast.server.log().contains("http.status=500"));
}
