//! Builds through a buildpack in Heroku's format named by `BUILDPACK_URL`,
//! as a local directory and as a git URL; `.slugignore` keeping files out of
//! the slug; and a push that waits for another push's build to finish.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::git::{combined, server_main, spawn_push, url_with_key, GitUser};
use common::Server;
use serde_json::json;

const DETECT: &str = "#!/bin/sh\necho Testpack\n";

/// Says what it does, fails when the app asks it to, sleeps when the app
/// asks it to, and leaves a file behind in the build.
const COMPILE: &str = r#"#!/bin/sh
echo "-----> testpack compiling $(basename "$1")"
echo "       testpack saw GREETING=$(cat "$3/GREETING" 2>/dev/null)"
if [ -f "$1/fail-compile" ]; then
    echo "       testpack refuses this app"
    exit 1
fi
if [ -f "$1/sleep-seconds" ]; then
    sleep "$(cat "$1/sleep-seconds")"
fi
echo compiled > "$1/compiled.txt"
"#;

const RELEASE: &str =
    "#!/bin/sh\ncat <<YAML\n---\ndefault_process_types:\n  worker: ./run-worker\nYAML\n";

/// A buildpack in `dir/testpack`, readable by the app's build user as a
/// buildpack installed on the server would be.
fn write_buildpack(dir: &Path) -> PathBuf {
    let root = dir.join("testpack");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    for (name, text) in [
        ("detect", DETECT),
        ("compile", COMPILE),
        ("release", RELEASE),
    ] {
        let path = root.join("bin").join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for open in [dir, root.as_path(), root.join("bin").as_path()] {
        std::fs::set_permissions(open, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    root
}

struct App {
    server: Server,
    alice: String,
    app_id: String,
}

fn app() -> App {
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let created = server
        .api(&alice)
        .post("/apps", json!({ "name": "demo-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    App {
        app_id: created.body["id"].as_str().unwrap().to_string(),
        server,
        alice,
    }
}

impl App {
    fn url(&self) -> String {
        url_with_key(&self.server.url, &self.alice, "demo-app")
    }

    fn set_config(&self, vars: serde_json::Value) {
        let set = self
            .server
            .api(&self.alice)
            .patch("/apps/demo-app/config-vars", vars);
        assert_eq!(set.status, 200, "{}", set.text);
    }

    /// Scaling a type to zero succeeds only when the latest build declares it.
    fn scale_to_zero(&self, process_type: &str) -> u16 {
        self.server
            .api(&self.alice)
            .patch(
                &format!("/apps/demo-app/formation/{process_type}"),
                json!({ "quantity": 0 }),
            )
            .status
    }

    /// The newest slug's file names, as `tar` lists them.
    fn newest_slug(&self) -> Vec<String> {
        let dir = self.server.data_dir.join("slugs").join(&self.app_id);
        let newest = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "tgz"))
            .max_by_key(|p| p.metadata().unwrap().modified().unwrap())
            .expect("a slug");
        let out = Command::new("tar")
            .arg("-tzf")
            .arg(&newest)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_start_matches("./").to_string())
            .collect()
    }
}

fn assert_compiled_with_buildpack(app: &App, out: &str) {
    assert!(
        out.contains("remote: -----> Testpack app detected"),
        "{out}"
    );
    assert!(
        out.contains("remote: -----> testpack compiling app"),
        "{out}"
    );
    assert!(
        out.contains("remote:        testpack saw GREETING=hello"),
        "{out}"
    );
    // The Procfile's web and bin/release's worker are both process types.
    assert!(out.contains("web, worker"), "{out}");
    assert_eq!(app.scale_to_zero("worker"), 200);
    assert_eq!(app.scale_to_zero("web"), 200);
    assert_eq!(app.scale_to_zero("clock"), 422);
    assert!(app.newest_slug().iter().any(|f| f == "compiled.txt"));
}

#[test]
fn a_local_buildpack_compiles_and_a_failing_compile_moves_no_ref() {
    let app = app();
    let packs = tempfile::tempdir().unwrap();
    let pack = write_buildpack(packs.path());
    app.set_config(json!({
        "BUILDPACK_URL": pack.display().to_string(),
        "GREETING": "hello",
    }));

    let alice = GitUser::new("alice");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &app.url(), &["main"]);
    assert!(ok, "{out}");
    assert_compiled_with_buildpack(&app, &out);
    let good = server_main(&app.server, &app.app_id).unwrap();

    // bin/compile fails: the push is refused with its output and main stays.
    alice.commit(&work, "fail-compile", "yes\n", "ask the buildpack to fail");
    let (ok, out) = alice.push(&work, &app.url(), &["main"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("remote:        testpack refuses this app"),
        "{out}"
    );
    assert!(out.contains("Failed to compile Testpack app."), "{out}");
    assert_eq!(
        server_main(&app.server, &app.app_id).as_deref(),
        Some(good.as_str())
    );
}

#[test]
fn a_buildpack_from_a_git_url_is_fetched_and_compiles() {
    let app = app();
    let packs = tempfile::tempdir().unwrap();
    let pack = write_buildpack(packs.path());
    let packer = GitUser::new("packer");
    packer.ok(&pack, &["init", "--quiet", "--initial-branch=main"]);
    packer.ok(&pack, &["add", "-A"]);
    packer.ok(&pack, &["commit", "--quiet", "-m", "testpack"]);
    let bare = packs.path().join("testpack.git");
    packer.ok(
        packs.path(),
        &["clone", "--quiet", "--bare", "testpack", "testpack.git"],
    );
    let url = format!("file://{}", bare.display());
    app.set_config(json!({ "BUILDPACK_URL": url, "GREETING": "hello" }));

    let alice = GitUser::new("alice");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &app.url(), &["main"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("remote: -----> Fetching buildpack {url}")),
        "{out}"
    );
    assert_compiled_with_buildpack(&app, &out);
}

#[test]
fn slugignore_keeps_the_files_it_names_out_of_the_slug() {
    let app = app();
    let alice = GitUser::new("alice");
    let work = alice.new_repo("work");
    std::fs::create_dir_all(work.join("docs/raw")).unwrap();
    std::fs::create_dir_all(work.join("art")).unwrap();
    std::fs::write(work.join("docs/raw/notes.txt"), "n\n").unwrap();
    std::fs::write(work.join("docs/keep.md"), "k\n").unwrap();
    std::fs::write(work.join("art/cover.psd"), "p\n").unwrap();
    std::fs::write(work.join("art/cover.png"), "g\n").unwrap();
    alice.commit(&work, ".slugignore", "*.psd\ndocs/raw/\n", "slugignore");
    let (ok, out) = alice.push(&work, &app.url(), &["main"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("Removed 2 files named in .slugignore"),
        "{out}"
    );

    let files = app.newest_slug();
    for absent in ["art/cover.psd", "docs/raw/notes.txt"] {
        assert!(!files.iter().any(|f| f == absent), "{absent} in {files:?}");
    }
    for present in ["art/cover.png", "docs/keep.md", "Procfile", "README"] {
        assert!(
            files.iter().any(|f| f == present),
            "{present} not in {files:?}"
        );
    }
}

#[test]
fn a_push_waits_for_the_build_before_it_and_is_then_refused_as_stale() {
    let app = app();
    let packs = tempfile::tempdir().unwrap();
    let pack = write_buildpack(packs.path());
    app.set_config(json!({ "BUILDPACK_URL": pack.display().to_string() }));
    let alice = GitUser::new("alice");
    let bob = GitUser::new("bob");
    let work = alice.new_repo("work");
    let (ok, out) = alice.push(&work, &app.url(), &["main"]);
    assert!(ok, "{out}");
    let bob_work = bob.clone(&app.url(), "demo-app");

    // alice's build sleeps in bin/compile while holding the app's lock.
    let slow = alice.commit(&work, "sleep-seconds", "4\n", "slow build");
    let first = spawn_push(&alice, &work, &app.url(), "main");
    let builds = app.server.data_dir.join("builds");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&builds).map_or(true, |mut d| d.next().is_none()) {
        assert!(Instant::now() < deadline, "the first build never started");
        std::thread::sleep(Duration::from_millis(50));
    }

    bob.commit(&bob_work, "b.txt", "b\n", "bob");
    let (ok, second) = bob.push(&bob_work, &app.url(), &["main"]);
    let first = combined(&first.wait_with_output().unwrap());
    assert!(first.contains("testpack compiling"), "{first}");
    assert!(
        second.contains("Another push to demo-app is in progress; waiting for it to finish..."),
        "{second}"
    );
    // bob's push was based on the old tip: once alice's landed, it is stale.
    assert!(!ok, "{second}");
    assert!(
        second.contains("someone else pushed to main first"),
        "{second}"
    );
    assert_eq!(
        server_main(&app.server, &app.app_id).as_deref(),
        Some(slow.as_str())
    );
}
