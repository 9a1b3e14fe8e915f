//! Dynos of the local runtime inside the sandbox: the probe app's web dyno
//! tries what an app must not do and reports each attempt; a dyno that takes
//! all its memory is killed, logged as R15 and started again.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dyno::Timings;
use super::local::LocalRuntime;
use super::logs::LogBook;
use super::{Formation, ReleaseSpec, Runtime};
use crate::sandbox::{Loopback, Mode, Sandbox, SandboxArgs};

const APP: &str = "5f0b9a52-63a3-4d0e-8f55-2d1f0e6b7c31";
const OTHER: &str = "a3c1d2e4-1b2c-4d3e-9f40-5a6b7c8d9e0f";

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sandbox"
    ))
}

fn slug(dir: &Path) -> std::path::PathBuf {
    let slug = dir.join("probe.tgz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&slug)
        .arg("-C")
        .arg(fixture())
        .args(["probe.py", "hog.py", "Procfile"])
        .status()
        .unwrap();
    assert!(status.success());
    slug
}

fn spec(
    app_id: &str,
    slug: &Path,
    data: &Path,
    types: &[(&str, &str)],
    loopback_port: u16,
) -> Arc<ReleaseSpec> {
    let env = BTreeMap::from([
        ("PROBE_APP_ID".to_string(), app_id.to_string()),
        (
            "PROBE_LOOPBACK_PORTS".to_string(),
            loopback_port.to_string(),
        ),
        ("PROBE_DATA_DIR".to_string(), data.display().to_string()),
        (
            "PROBE_DATABASE".to_string(),
            data.join("slipway.db").display().to_string(),
        ),
        (
            "PROBE_SERVER_PID".to_string(),
            std::process::id().to_string(),
        ),
        ("PROBE_MEMORY_MB".to_string(), "400".to_string()),
    ]);
    Arc::new(ReleaseSpec {
        id: "release-1".into(),
        app_id: app_id.into(),
        app_name: "probe".into(),
        version: 1,
        slug_path: slug.to_path_buf(),
        process_types: types
            .iter()
            .map(|(t, c)| (t.to_string(), c.to_string()))
            .collect(),
        env,
    })
}

async fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(found) = check() {
            return Some(found);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn log_text(logs: &LogBook, app: &str) -> String {
    let (lines, _) = logs.recent(app, 1000, None, None);
    lines.iter().map(|l| l.render() + "\n").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxed_dynos_are_refused_what_they_try_and_restarted_at_their_memory_limit() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if !root || !Path::new("/usr/bin/bwrap").exists() {
        eprintln!("needs root and bubblewrap, as CI has");
        return;
    }
    let args = SandboxArgs {
        dyno_memory: 128,
        dyno_processes: 64,
        ..SandboxArgs::defaults()
    };
    let sandbox = Sandbox::detect(args, data).await;
    assert_eq!(sandbox.mode(), &Mode::On);
    assert_eq!(sandbox.loopback(), Some(&Loopback::Fenced));
    std::fs::write(data.join("slipway.db"), "the database").unwrap();
    std::fs::write(data.join("secret.txt"), "a platform secret").unwrap();

    let logs = LogBook::default();
    let timings = Timings {
        grace: Duration::from_secs(2),
        boot_timeout: Duration::from_secs(30),
        first_backoff: Duration::from_millis(200),
        ..Timings::default()
    };
    let runtime = LocalRuntime::new(data.join("runtime"), logs.clone(), timings, sandbox);
    let slug = slug(data);
    // A service of the host on loopback, which the dyno must not reach.
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let service_port = service.local_addr().unwrap().port();

    // Another app runs beside the probe.
    runtime.deploy(
        spec(OTHER, &slug, data, &[("worker", "sleep 600")], service_port),
        Formation::from([("worker".to_string(), 1)]),
    );
    let probe = spec(
        APP,
        &slug,
        data,
        &[("web", "python3 probe.py web"), ("hog", "python3 hog.py")],
        service_port,
    );
    runtime.deploy(
        probe,
        Formation::from([("web".to_string(), 1), ("hog".to_string(), 1)]),
    );

    // The web dyno's report: every attempt was refused.
    let report = wait_for(Duration::from_secs(60), || {
        let text = log_text(&logs, APP);
        (text.matches("probe web ").count() >= 9).then_some(text)
    })
    .await
    .unwrap_or_else(|| panic!("no report:\n{}", log_text(&logs, APP)));
    for probe in [
        "database",
        "data-dir",
        "other-apps",
        "server-environ",
        "write-outside",
        "signal-server",
        "loopback",
        "memory",
        "processes",
    ] {
        let line = format!("probe web {probe}: blocked");
        assert!(report.contains(&line), "{line}:\n{report}");
    }
    // The probes may have crashed the dyno on their way out; wait for it to be back.
    let guard = wait_for(Duration::from_secs(60), || runtime.pick_web(APP))
        .await
        .expect("web dyno routable");
    let body = reqwest::get(format!("http://{}/", guard.target().addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    drop(guard);
    assert!(body.contains("probe web database: blocked"), "{body}");
    assert!(!data.join("planted").exists());

    // The hog is killed at its limit, said so, and started again.
    let restarted = wait_for(Duration::from_secs(60), || {
        let text = log_text(&logs, APP);
        let starts = text.matches("heroku[hog.1]: Starting process").count();
        (text.contains("heroku[hog.1]: Error R15 (Memory quota vastly exceeded)") && starts >= 2)
            .then_some(())
    })
    .await;
    assert!(restarted.is_some(), "{}", log_text(&logs, APP));
    assert!(log_text(&logs, APP).contains("of 128 MB"));

    runtime.shutdown().await;
}
