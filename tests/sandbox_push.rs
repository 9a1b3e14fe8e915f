//! A pushed app tries, from its build and from its web dyno, to reach what
//! belongs to the platform and to other apps: the database, the data dir,
//! other apps' files, the server's environment and process, and more memory
//! and processes than its limits. Each attempt is reported by the app and
//! must have failed; the platform answers throughout, and a dyno that takes
//! all its memory is restarted with an R15 in its log.
//!
//! Isolation needs root and bubblewrap, as CI has; elsewhere these tests
//! say so and stop.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::git::{url_with_key, GitUser};
use common::{can_isolate, run, stdout, Server};
use serde_json::json;

const PROBES: [&str; 9] = [
    "database",
    "data-dir",
    "other-apps",
    "server-environ",
    "write-outside",
    "signal-server",
    "loopback",
    "memory",
    "processes",
];

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sandbox")
}

/// A server with small limits, so that the probes reach them quickly.
fn limited_server() -> Server {
    Server::builder()
        .args(&["--dyno-memory", "128", "--dyno-processes", "64"])
        .args(&["--build-memory", "128", "--build-processes", "64"])
        .start()
}

/// Asserts that the report in `text` has every probe of `place`, each
/// refused.
fn assert_all_blocked(text: &str, place: &str) {
    for probe in PROBES {
        let blocked = format!("probe {place} {probe}: blocked");
        assert!(text.contains(&blocked), "{blocked}:\n{text}");
    }
    assert!(!text.contains("ALLOWED"), "{text}");
}

/// The platform still answers its API.
fn answers(server: &Server, key: &str) {
    let account = server.api(key).get("/account");
    assert_eq!(account.status, 200, "{}", account.text);
}

/// `GET /` of the app through the router.
fn through_router(web_url: &str) -> Option<(u16, String)> {
    let url = url::Url::parse(web_url).unwrap();
    let port = url.port().unwrap();
    let response = reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{port}/"))
        .header("Host", format!("{}:{port}", url.host_str().unwrap()))
        .timeout(Duration::from_secs(10))
        .send()
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().ok()?))
}

fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(found) = check() {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// Ports on loopback that answer: the platform's API and router, and the
/// PostgreSQL of the suite's second pass when it is up.
fn loopback_ports(server: &Server, web_url: &str) -> String {
    let api = url::Url::parse(&server.url).unwrap().port().unwrap();
    let router = url::Url::parse(web_url).unwrap().port().unwrap();
    let mut ports = vec![api.to_string(), router.to_string()];
    if std::net::TcpStream::connect(("127.0.0.1", 5432)).is_ok() {
        ports.push("5432".into());
    }
    ports.join(",")
}

/// A repository holding the probe app.
fn probe_repo(git: &GitUser, name: &str) -> PathBuf {
    let dir = git.new_repo(name);
    for file in ["probe.py", "hog.py", "Procfile"] {
        std::fs::copy(fixture().join(file), dir.join(file)).unwrap();
    }
    git.ok(&dir, &["add", "-A"]);
    git.ok(&dir, &["commit", "--quiet", "-m", "probe"]);
    dir
}

fn planted_nowhere(data_dir: &Path) {
    for path in [
        data_dir.join("planted"),
        PathBuf::from("/usr/planted"),
        PathBuf::from("/etc/planted"),
        PathBuf::from("/planted"),
    ] {
        assert!(!path.exists(), "{} was written", path.display());
    }
}

#[test]
fn build_and_web_dyno_are_refused_everything_outside_their_app() {
    if !can_isolate() {
        eprintln!("isolation needs root and bubblewrap, as CI has; not checked here");
        return;
    }
    let server = limited_server();
    assert_eq!(server.isolation(), "on", "{}", server.log());
    std::fs::write(server.data_dir.join("secret.txt"), "a platform secret").unwrap();
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    let git = GitUser::new("alice");

    // Another app, already deployed: its repository and slug are on disk.
    let victim = api.post("/apps", json!({ "name": "victim-app" }));
    assert_eq!(victim.status, 201, "{}", victim.text);
    let victim_repo = git.new_repo("victim");
    git.commit(&victim_repo, "Procfile", "worker: sleep 600\n", "worker");
    let (pushed, out) = git.push(
        &victim_repo,
        &url_with_key(&server.url, &alice, "victim-app"),
        &["main"],
    );
    assert!(pushed, "{out}");

    // The probe app, built by a buildpack that runs the probes.
    let created = api.post("/apps", json!({ "name": "probe-app" }));
    assert_eq!(created.status, 201, "{}", created.text);
    let app_id = created.body["id"].as_str().unwrap().to_string();
    let web_url = created.body["web_url"].as_str().unwrap().to_string();
    let data_dir = server.data_dir.display().to_string();
    let config = api.patch(
        "/apps/probe-app/config-vars",
        json!({
            "BUILDPACK_URL": fixture().join("buildpack").display().to_string(),
            "PROBE_APP_ID": app_id,
            "PROBE_DATA_DIR": data_dir,
            "PROBE_DATABASE": server.data_dir.join("slipway.db").display().to_string(),
            "PROBE_SERVER_PID": server.pid().to_string(),
            "PROBE_LOOPBACK_PORTS": loopback_ports(&server, &web_url),
            "PROBE_MEMORY_MB": "400",
        }),
    );
    assert_eq!(config.status, 200, "{}", config.text);

    // The build reports through the push's output.
    let repo = probe_repo(&git, "probe");
    let (pushed, out) = git.push(
        &repo,
        &url_with_key(&server.url, &alice, "probe-app"),
        &["main"],
    );
    assert!(pushed, "{out}");
    assert!(
        out.contains("remote: -----> Probing from the build"),
        "{out}"
    );
    assert_all_blocked(&out, "build");
    answers(&server, &alice);

    // The web dyno reports through its answer.
    let report = wait_for(Duration::from_secs(90), || {
        through_router(&web_url)
            .filter(|(status, body)| *status == 200 && body.contains("probe web"))
    });
    let (_, body) =
        report.unwrap_or_else(|| panic!("the web dyno never answered:\n{}", server.log()));
    assert_all_blocked(&body, "web");
    answers(&server, &alice);
    planted_nowhere(&server.data_dir);
    assert!(
        server.log().contains("created the app's user"),
        "{}",
        server.log()
    );

    // Deleting the app stops its dynos and removes its user.
    assert!(app_user_exists(&app_id), "the app has no user of its own");
    assert_eq!(api.delete("/apps/probe-app").status, 200);
    let removed = wait_for(Duration::from_secs(30), || {
        (!app_user_exists(&app_id)).then_some(())
    });
    assert!(
        removed.is_some(),
        "the app's user outlived it:\n{}",
        server.log()
    );
}

/// `BUILDPACK_URL` is the app's to choose, so a network buildpack is fetched
/// as the app, from inside the sandbox: one on the server's own loopback
/// (its API here) is refused by the fence, and the server never requests it.
#[test]
fn a_buildpack_url_on_the_servers_loopback_is_not_fetched() {
    if !can_isolate() {
        eprintln!("isolation needs root and bubblewrap, as CI has; not checked here");
        return;
    }
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    assert_eq!(api.post("/apps", json!({ "name": "ssrf-app" })).status, 201);
    let probe = format!("{}/ssrf-probe-{}.git", server.url, std::process::id());
    let config = api.patch(
        "/apps/ssrf-app/config-vars",
        json!({ "BUILDPACK_URL": probe }),
    );
    assert_eq!(config.status, 200, "{}", config.text);
    let git = GitUser::new("alice");
    let repo = git.new_repo("ssrf");
    git.commit(&repo, "README", "hello", "first");
    let (pushed, out) = git.push(
        &repo,
        &url_with_key(&server.url, &alice, "ssrf-app"),
        &["main"],
    );
    assert!(!pushed, "{out}");
    assert!(out.contains("Cannot fetch the buildpack"), "{out}");
    assert!(
        !server.log().contains("/ssrf-probe-"),
        "the server requested the app's buildpack URL itself:\n{}",
        server.log()
    );
    answers(&server, &alice);
}

/// Whether the Unix user of the app with this id exists
/// (`slipway-` and the first 16 hex digits of the id).
fn app_user_exists(app_id: &str) -> bool {
    let hex: String = app_id.chars().filter(|c| *c != '-').take(16).collect();
    let status = std::process::Command::new("getent")
        .args(["passwd", &format!("slipway-{hex}")])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    status.success()
}

#[test]
fn a_dyno_at_its_memory_limit_is_restarted_and_the_log_says_why() {
    if !can_isolate() {
        eprintln!("isolation needs root and bubblewrap, as CI has; not checked here");
        return;
    }
    let server = limited_server();
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    let git = GitUser::new("alice");
    let created = api.post("/apps", json!({ "name": "hog-app" }));
    assert_eq!(created.status, 201, "{}", created.text);

    let repo = git.new_repo("hog");
    std::fs::copy(fixture().join("hog.py"), repo.join("hog.py")).unwrap();
    git.commit(&repo, "Procfile", "hog: python3 hog.py\n", "hog");
    let (pushed, out) = git.push(
        &repo,
        &url_with_key(&server.url, &alice, "hog-app"),
        &["main"],
    );
    assert!(pushed, "{out}");
    let scaled = api.patch("/apps/hog-app/formation/hog", json!({ "quantity": 1 }));
    assert_eq!(scaled.status, 200, "{}", scaled.text);

    let logs = wait_for(Duration::from_secs(90), || {
        let out = run(server
            .cli(Some(&alice))
            .args(["logs", "-a", "hog-app", "-n", "500"]));
        let text = stdout(&out);
        let restarted = text.matches("heroku[hog.1]: Starting process").count() >= 2;
        (restarted && text.contains("Error R15")).then_some(text)
    });
    let text = logs.unwrap_or_else(|| panic!("no R15 and restart:\n{}", server.log()));
    assert!(
        text.contains(
            "heroku[hog.1]: Error R15 (Memory quota vastly exceeded) -> the dyno reached its \
             memory limit of 128 MB and its process was killed"
        ),
        "{text}"
    );
    assert!(
        text.contains("heroku[hog.1]: Process exited with status 137"),
        "{text}"
    );
    assert!(text.contains("State changed from up to crashed"), "{text}");
    answers(&server, &alice);
}

#[test]
fn a_buildpack_cannot_be_taken_from_the_data_dir() {
    let server = Server::start();
    let alice = server.create_user("alice@example.com");
    let api = server.api(&alice);
    let git = GitUser::new("alice");
    let victim = api.post("/apps", json!({ "name": "victim-app" }));
    let victim_id = victim.body["id"].as_str().unwrap().to_string();
    let victim_repo = git.new_repo("victim");
    let (pushed, out) = git.push(
        &victim_repo,
        &url_with_key(&server.url, &alice, "victim-app"),
        &["main"],
    );
    assert!(pushed, "{out}");

    // Another app's repository, by file URL and as a directory.
    let repo = server
        .data_dir
        .join("repos")
        .join(format!("{victim_id}.git"));
    assert_eq!(
        api.post("/apps", json!({ "name": "thief-app" })).status,
        201
    );
    let thief = git.new_repo("thief");
    let url = url_with_key(&server.url, &alice, "thief-app");
    for buildpack in [
        format!("file://{}", repo.display()),
        format!(
            "file://{}/../repos/{victim_id}.git",
            server.data_dir.join("slugs").display()
        ),
        repo.display().to_string(),
    ] {
        let config = api.patch(
            "/apps/thief-app/config-vars",
            json!({ "BUILDPACK_URL": buildpack }),
        );
        assert_eq!(config.status, 200, "{}", config.text);
        git.commit(&thief, "README", &buildpack, "another try");
        let (pushed, out) = git.push(&thief, &url, &["main"]);
        assert!(!pushed, "{buildpack}: {out}");
        assert!(
            out.contains("BUILDPACK_URL cannot name a place inside the server's data dir."),
            "{buildpack}: {out}"
        );
    }
    answers(&server, &alice);
}
