//! The local runtime driven directly: real processes from a real slug.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
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
    Arc::new(ReleaseSpec {
        id: format!("release-{version}"),
        app_id: "0b8f8f8e-2d7c-4c63-9b55-4b7b8f7d7f10".into(),
        app_name: "demo".into(),
        version,
        slug_path: slug,
        process_types: BTreeMap::from([("web".into(), "python3 server.py".into())]),
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
