//! The local runtime driven directly: real processes from a real slug.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dyno::Timings;
use super::local::LocalRuntime;
use super::logs::LogBook;
use super::{DynoState, Formation, ReleaseSpec, Runtime};
use crate::sandbox::{Sandbox, SandboxArgs};

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/webapp"
    ))
}

/// Packs the test app, with `version` written into it, as a slug.
fn make_slug(dir: &Path, version: &str) -> std::path::PathBuf {
    let src = dir.join(format!("src-{version}"));
    std::fs::create_dir_all(&src).unwrap();
    for file in ["server.py", "Procfile"] {
        std::fs::copy(fixture().join(file), src.join(file)).unwrap();
    }
    std::fs::write(src.join("VERSION"), version).unwrap();
    let slug = dir.join(format!("{version}.tgz"));
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&slug)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    slug
}

fn spec(slug: std::path::PathBuf, version: i64) -> Arc<ReleaseSpec> {
    spec_running(slug, version, "python3 server.py")
}

/// A release of the test app whose web dynos run `command`.
fn spec_running(slug: std::path::PathBuf, version: i64, command: &str) -> Arc<ReleaseSpec> {
    Arc::new(ReleaseSpec {
        id: format!("release-{version}"),
        app_id: "0b8f8f8e-2d7c-4c63-9b55-4b7b8f7d7f10".into(),
        app_name: "demo".into(),
        version,
        slug_path: slug,
        process_types: BTreeMap::from([("web".into(), command.into())]),
        env: BTreeMap::from([("GREETING".into(), format!("hi{version}"))]),
    })
}

fn web(n: u32) -> Formation {
    Formation::from([("web".to_string(), n)])
}

const APP: &str = "0b8f8f8e-2d7c-4c63-9b55-4b7b8f7d7f10";

async fn get(runtime: &LocalRuntime, path: &str) -> Option<String> {
    let guard = runtime.pick_web(APP)?;
    let url = format!("http://{}{path}", guard.target().addr);
    let response = reqwest::get(url).await.ok()?;
    response.text().await.ok()
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    timeout: Duration,
    mut check: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_scales_replaces_restarts_and_stops_dynos() {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogBook::default();
    let timings = Timings {
        grace: Duration::from_secs(2),
        boot_timeout: Duration::from_secs(20),
        ..Timings::default()
    };
    // Unsandboxed: the test signals the dyno by the pid it reports, which
    // inside a sandbox is that of its own pid namespace.
    let sandbox = Sandbox::off(SandboxArgs::defaults());
    let runtime = LocalRuntime::new(dir.path().join("runtime"), logs.clone(), timings, sandbox);

    // One web dyno by default, with its own environment.
    runtime.deploy(spec(make_slug(dir.path(), "v1"), 1), web(1));
    let up = wait_until(Duration::from_secs(20), || async {
        get(&runtime, "/").await.is_some()
    })
    .await;
    assert!(
        up,
        "web.1 never answered: {:?}",
        logs.recent(APP, 50, None, None).0
    );
    assert_eq!(
        get(&runtime, "/").await.unwrap(),
        "hello from web.1 version v1\n"
    );
    let env: BTreeMap<String, String> =
        serde_json::from_str(&get(&runtime, "/env").await.unwrap()).unwrap();
    let keys: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    assert!(
        keys.is_subset(&BTreeSet::from([
            "DYNO", "GREETING", "HOME", "LANG", "PATH", "PORT", "PWD", "SHLVL", "_", "LC_CTYPE"
        ])),
        "{keys:?}"
    );
    assert_eq!(env["GREETING"], "hi1");

    // Scaled to three, three dynos answer.
    runtime.scale(APP, web(3));
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 && Instant::now() < deadline {
        if let Some(body) = get(&runtime, "/").await {
            seen.insert(body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let three = seen.len() == 3;
    assert!(three, "{seen:?}");

    // A new release under steady requests: none fails.
    runtime.deploy(spec(make_slug(dir.path(), "v2"), 2), web(3));
    let mut failures = 0;
    let mut v2 = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && v2 < 20 {
        match get(&runtime, "/").await {
            Some(body) if body.contains("v2") => v2 += 1,
            Some(_) => {}
            None => failures += 1,
        }
    }
    assert_eq!(failures, 0);
    assert!(v2 >= 20);
    let settled = wait_until(Duration::from_secs(10), || async {
        let dynos = runtime.dynos(APP);
        dynos.len() == 3
            && dynos
                .iter()
                .all(|d| d.release_version == 2 && d.state == DynoState::Up)
    })
    .await;
    assert!(settled, "{:?}", runtime.dynos(APP));

    // A killed dyno crashes and comes back.
    let pid = get(&runtime, "/pid").await.unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    let crashed = wait_until(Duration::from_secs(5), || async {
        runtime
            .dynos(APP)
            .iter()
            .any(|d| d.state == DynoState::Crashed)
    })
    .await;
    assert!(crashed);
    let back = wait_until(Duration::from_secs(10), || async {
        runtime.dynos(APP).iter().all(|d| d.state == DynoState::Up)
    })
    .await;
    assert!(back, "{:?}", runtime.dynos(APP));
    let (lines, _) = logs.recent(APP, 500, None, None);
    assert!(lines
        .iter()
        .any(|l| l.text.contains("State changed from up to crashed")));

    // Stopping the app ends its processes.
    runtime.stop_app(APP);
    let gone = wait_until(Duration::from_secs(10), || async {
        std::net::TcpStream::connect(("127.0.0.1", pid_port(&env))).is_err()
    })
    .await;
    assert!(gone);
    assert!(runtime.dynos(APP).is_empty());
}

fn pid_port(env: &BTreeMap<String, String>) -> u16 {
    env["PORT"].parse().unwrap()
}

/// A web command that exits at once, as a release whose start command is
/// broken does.
const CRASHES: &str = "echo 'cannot start' >&2; exit 3";

/// An unsandboxed runtime over `dir` with short waits; the release kept
/// serving is what is being tested, not the sandbox.
fn runtime_in(dir: &Path, boot_timeout: Duration) -> (LocalRuntime, LogBook) {
    let logs = LogBook::default();
    let timings = Timings {
        grace: Duration::from_secs(2),
        boot_timeout,
        ..Timings::default()
    };
    let sandbox = Sandbox::off(SandboxArgs::defaults());
    let runtime = LocalRuntime::new(dir.join("runtime"), logs.clone(), timings, sandbox);
    (runtime, logs)
}

fn logged(logs: &LogBook, text: &str) -> bool {
    logs.recent(APP, 1500, None, None)
        .0
        .iter()
        .any(|l| l.text.contains(text))
}

/// The app's recent log lines but the test app's request lines, to show
/// when an assertion fails.
fn log_text(logs: &LogBook) -> Vec<String> {
    let (lines, _) = logs.recent(APP, 1500, None, None);
    let mut kept: Vec<String> = lines
        .iter()
        .rev()
        .filter(|l| !l.text.starts_with("handled "))
        .take(40)
        .map(|l| l.render())
        .collect();
    kept.reverse();
    kept
}

/// Waits until the app's web dynos answer with `version`.
async fn serves(runtime: &LocalRuntime, version: &str, timeout: Duration) -> bool {
    wait_until(timeout, || async {
        get(runtime, "/")
            .await
            .is_some_and(|body| body.contains(&format!("version {version}\n")))
    })
    .await
}

/// Waits until the app's dynos are exactly `names` (`web.1@3`: web.1 of v3).
async fn dynos_become(runtime: &LocalRuntime, names: &[&str], timeout: Duration) -> bool {
    let mut wanted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    wanted.sort();
    wait_until(timeout, || async {
        let mut listed: Vec<String> = runtime
            .dynos(APP)
            .iter()
            .map(|d| format!("{}@{}", d.name, d.release_version))
            .collect();
        listed.sort();
        listed == wanted
    })
    .await
}

/// Requests to the app's web dynos, one after another, until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(usize, Vec<String>)>,
}

impl Traffic {
    fn start(runtime: &LocalRuntime) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let runtime = runtime.clone();
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            let (mut answered, mut failed) = (0, Vec::new());
            while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                match get(&runtime, "/").await {
                    Some(_) => answered += 1,
                    None => failed.push(format!("{:?}", runtime.dynos(APP))),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (answered, failed)
        });
        Traffic { stop, task }
    }

    /// How many requests were answered, and the dynos listed at each failure.
    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_that_never_boots_leaves_the_last_one_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, logs) = runtime_in(dir.path(), Duration::from_secs(4));
    runtime.deploy(spec(make_slug(dir.path(), "v1"), 1), web(1));
    assert!(
        serves(&runtime, "v1", Duration::from_secs(20)).await,
        "{:?}",
        log_text(&logs)
    );
    let traffic = Traffic::start(&runtime);

    // v2's web process never binds $PORT: it is killed at the boot timeout
    // and started again, while v1 goes on answering.
    runtime.deploy(
        spec_running(make_slug(dir.path(), "v2"), 2, "sleep 600"),
        web(1),
    );
    let kept = wait_until(Duration::from_secs(20), || async {
        logged(
            &logs,
            "Release v2: no web dyno has started; v1 keeps serving until one does",
        )
    })
    .await;
    assert!(kept, "{:?}", log_text(&logs));
    assert!(logged(&logs, "Error R10 (Boot timeout)"));
    assert!(dynos_become(&runtime, &["web.1@1", "web.1@2"], Duration::from_secs(1)).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(serves(&runtime, "v1", Duration::from_secs(1)).await);

    // A good release takes over within seconds, and every older dyno goes.
    runtime.deploy(spec(make_slug(dir.path(), "v3"), 3), web(1));
    let fixed = Instant::now();
    assert!(
        serves(&runtime, "v3", Duration::from_secs(10)).await,
        "{:?}",
        log_text(&logs)
    );
    assert!(
        fixed.elapsed() < Duration::from_secs(5),
        "{:?}",
        fixed.elapsed()
    );
    assert!(
        dynos_become(&runtime, &["web.1@3"], Duration::from_secs(10)).await,
        "{:?}",
        runtime.dynos(APP)
    );

    let (answered, failed) = traffic.finish().await;
    assert!(failed.is_empty(), "{failed:?}");
    assert!(answered > 20, "{answered}");
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_right_after_a_crashing_release_serves_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let boot_timeout = Duration::from_secs(20);
    let (runtime, logs) = runtime_in(dir.path(), boot_timeout);
    runtime.deploy(spec(make_slug(dir.path(), "v1"), 1), web(1));
    assert!(serves(&runtime, "v1", boot_timeout).await);

    // The deploy of v2 ends once its web dyno has crashed, not after the
    // boot timeout, so v3 follows at once.
    runtime.deploy(
        spec_running(make_slug(dir.path(), "v2"), 2, CRASHES),
        web(1),
    );
    runtime.deploy(spec(make_slug(dir.path(), "v3"), 3), web(1));
    let pushed = Instant::now();
    assert!(
        serves(&runtime, "v3", boot_timeout).await,
        "{:?}",
        log_text(&logs)
    );
    assert!(
        pushed.elapsed() < Duration::from_secs(10),
        "{:?}",
        pushed.elapsed()
    );
    assert!(logged(
        &logs,
        "Release v2: no web dyno has started; v1 keeps serving"
    ));
    assert!(
        dynos_become(&runtime, &["web.1@3"], Duration::from_secs(10)).await,
        "{:?}",
        runtime.dynos(APP)
    );
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_web_dynos_give_way_to_a_late_boot_and_to_a_scale_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, logs) = runtime_in(dir.path(), Duration::from_secs(20));
    runtime.deploy(spec(make_slug(dir.path(), "v1"), 1), web(1));
    assert!(serves(&runtime, "v1", Duration::from_secs(20)).await);

    // Only v2's web.2 boots; with one web dyno, v1 is kept.
    let only_web_2 = "[ \"$DYNO\" = web.2 ] && exec python3 server.py; exit 3";
    runtime.deploy(
        spec_running(make_slug(dir.path(), "v2"), 2, only_web_2),
        web(1),
    );
    let kept = wait_until(Duration::from_secs(10), || async {
        logged(
            &logs,
            "Release v2: no web dyno has started; v1 keeps serving",
        )
    })
    .await;
    assert!(kept, "{:?}", log_text(&logs));
    assert!(serves(&runtime, "v1", Duration::from_secs(1)).await);

    // Scaled to two, web.2 of v2 boots, and v1 is stopped then.
    runtime.scale(APP, web(2));
    assert!(
        dynos_become(&runtime, &["web.1@2", "web.2@2"], Duration::from_secs(10)).await,
        "{:?}",
        runtime.dynos(APP)
    );
    assert!(logged(
        &logs,
        "Release v2: web.2 has started; stopping the web dynos of v1"
    ));
    assert!(serves(&runtime, "v2", Duration::from_secs(1)).await);

    // v3 boots nowhere: v2's web.2 is kept, its crashing web.1 is not.
    runtime.deploy(
        spec_running(make_slug(dir.path(), "v3"), 3, CRASHES),
        web(1),
    );
    assert!(
        dynos_become(&runtime, &["web.2@2", "web.1@3"], Duration::from_secs(10)).await,
        "{:?}",
        runtime.dynos(APP)
    );
    assert!(logged(
        &logs,
        "Release v3: no web dyno has started; v2 keeps serving"
    ));

    // Scaled to no web dynos, none serves, kept or not.
    runtime.scale(APP, web(0));
    assert!(
        dynos_become(&runtime, &[], Duration::from_secs(10)).await,
        "{:?}",
        runtime.dynos(APP)
    );
    assert!(runtime.pick_web(APP).is_none());
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_app_stops_the_web_dynos_kept_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, logs) = runtime_in(dir.path(), Duration::from_secs(20));
    runtime.deploy(spec(make_slug(dir.path(), "v1"), 1), web(1));
    assert!(serves(&runtime, "v1", Duration::from_secs(20)).await);
    let env: BTreeMap<String, String> =
        serde_json::from_str(&get(&runtime, "/env").await.unwrap()).unwrap();

    runtime.deploy(
        spec_running(make_slug(dir.path(), "v2"), 2, CRASHES),
        web(1),
    );
    let kept = wait_until(Duration::from_secs(10), || async {
        logged(&logs, "v1 keeps serving")
    })
    .await;
    assert!(kept, "{:?}", log_text(&logs));
    assert!(serves(&runtime, "v1", Duration::from_secs(1)).await);

    runtime.stop_app(APP);
    let gone = wait_until(Duration::from_secs(10), || async {
        std::net::TcpStream::connect(("127.0.0.1", pid_port(&env))).is_err()
    })
    .await;
    assert!(gone);
    assert!(runtime.dynos(APP).is_empty());
}
