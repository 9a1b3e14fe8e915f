//! Real sandboxed runs. They need what isolation needs (root, bubblewrap,
//! namespaces), as CI has; elsewhere they say so and check the refusal.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use super::*;

const APP: &str = "7d1c7e52-4a49-4d5e-9a51-0c4f1f3b7a21";

fn args(memory_mb: u64, processes: u64) -> SandboxArgs {
    SandboxArgs {
        no_sandbox: false,
        dyno_memory: memory_mb,
        dyno_processes: processes,
        build_memory: memory_mb,
        build_processes: processes,
        open_files: 64,
    }
}

/// The sandbox of a data dir, or None (after checking that runs are
/// refused) where this machine cannot isolate.
async fn sandbox(data_dir: &Path, memory_mb: u64, processes: u64) -> Option<Sandbox> {
    let sandbox = Sandbox::detect(args(memory_mb, processes), data_dir).await;
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if root && Path::new("/usr/bin/bwrap").exists() {
        assert_eq!(sandbox.mode(), &Mode::On, "root with bubblewrap isolates");
        return Some(sandbox);
    }
    let Mode::Unavailable(reason) = sandbox.mode() else {
        panic!("without root or bubblewrap the sandbox cannot be on");
    };
    eprintln!("isolation cannot be had here ({reason}); only the refusal is checked");
    let job = shell(data_dir, Kind::Dyno, "true");
    assert!(matches!(
        sandbox.command(&job).await,
        Err(SandboxError::Unavailable(_))
    ));
    None
}

fn shell<'a>(dir: &'a Path, kind: Kind, script: &str) -> Job<'a> {
    Job {
        app_id: APP,
        kind,
        program: Path::new("/bin/sh"),
        args: vec!["-c".into(), script.into()],
        workdir: dir,
        writable: vec![dir],
        readable: Vec::new(),
        env: BTreeMap::from([
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("HOME".into(), dir.display().to_string()),
            ("GREETING".into(), "it's \"quoted\"".into()),
        ]),
    }
}

/// Runs `job` and returns its exit code, output, and whether it hit the
/// memory limit.
async fn run(sandbox: &Sandbox, job: &Job<'_>) -> (i32, String, bool) {
    let Sandboxed { mut command, run } = sandbox.command(job).await.unwrap();
    let out = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text, run.memory_exceeded())
}

#[tokio::test]
async fn a_run_sees_only_its_own_directory_and_environment() {
    let data = tempfile::tempdir().unwrap();
    let Some(sandbox) = sandbox(data.path(), 256, 64).await else {
        return;
    };
    std::fs::write(data.path().join("slipway.db"), "secret").unwrap();
    let own = data.path().join("apps").join("mine");
    let other = data.path().join("apps").join("theirs");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("file"), "theirs").unwrap();

    let script = format!(
        r#"
        echo "uid=$(id -u)"
        echo "greeting=$GREETING"
        echo "vars=$(env | cut -d= -f1 | sort | tr '\n' ' ')"
        cat {data}/slipway.db 2>/dev/null && echo "read the database"
        ls {data}/apps 2>&1 | tr '\n' ' '; echo
        cat {other}/file 2>/dev/null && echo "read another app"
        echo x > {data}/planted 2>/dev/null && echo "wrote the data dir"
        echo x > /usr/planted 2>/dev/null && echo "wrote /usr"
        echo x > /etc/planted 2>/dev/null && echo "wrote /etc"
        echo x > own-file && echo "wrote own dir"
        echo x > /tmp/t && echo "wrote private tmp"
        echo "processes=$(ls /proc | grep -c '^[0-9]')"
        cat /proc/1/environ 2>/dev/null && echo "read pid 1's environment"
        kill -TERM 1 2>/dev/null && echo "signalled pid 1"
        grep -q '^NoNewPrivs:.1' /proc/self/status && echo "no new privileges"
        grep '^CapEff' /proc/self/status
        "#,
        data = data.path().display(),
        other = other.display(),
    );
    let job = shell(&own, Kind::Build, &script);
    let (code, out, _) = run(&sandbox, &job).await;
    assert_eq!(code, 0, "{out}");
    let user = users::name_for(APP).unwrap();
    let uid = std::process::Command::new("id")
        .args(["-u", &user])
        .output()
        .unwrap();
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    assert!(out.contains(&format!("uid={uid}\n")), "{out}");
    assert_ne!(uid, "0");
    assert!(out.contains("greeting=it's \"quoted\"\n"), "{out}");
    assert!(out.contains("vars=GREETING HOME PATH PWD \n"), "{out}");
    assert!(out.contains("\nmine \n"), "only its own dir shows: {out}");
    for refused in [
        "read the database",
        "read another app",
        "wrote the data dir",
        "wrote /usr",
        "wrote /etc",
        "read pid 1's environment",
        "signalled pid 1",
    ] {
        assert!(!out.contains(refused), "{refused}: {out}");
    }
    assert!(out.contains("wrote own dir"), "{out}");
    assert!(out.contains("wrote private tmp"), "{out}");
    assert!(out.contains("no new privileges"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    // A handful of processes: bubblewrap's init, the shell and its pipeline.
    let processes: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("processes="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(processes < 8, "{out}");
    assert!(!data.path().join("planted").exists());
    assert!(own.join("own-file").exists());
}

#[tokio::test]
async fn builds_and_dynos_keep_the_hosts_network_behind_the_loopback_fence() {
    let data = tempfile::tempdir().unwrap();
    let Some(sandbox) = sandbox(data.path(), 256, 64).await else {
        return;
    };
    assert_eq!(sandbox.loopback(), Some(&super::Loopback::Fenced));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let own = data.path().join("net");
    std::fs::create_dir_all(&own).unwrap();
    let script = format!(
        "readlink /proc/self/ns/net; \
         python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)' \
         2>/dev/null && echo reached || echo unreachable"
    );
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let host_net = host_net.to_string_lossy();

    // Both are in the host's network (the router reaches dynos there,
    // buildpacks download what they need), and the fence refuses their
    // connections to the host's loopback services.
    for kind in [Kind::Build, Kind::Dyno] {
        let (_, out, _) = run(&sandbox, &shell(&own, kind, &script)).await;
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], host_net, "{kind:?}");
        assert_eq!(lines[1], "unreachable", "{kind:?}");
    }
}

/// Where the fence cannot be installed, a build gets a network of its own
/// with nothing in it, and dynos keep the host's (the router needs it).
#[tokio::test]
async fn without_the_fence_builds_get_no_network() {
    let data = tempfile::tempdir().unwrap();
    let Some(mut sandbox) = sandbox(data.path(), 256, 64).await else {
        return;
    };
    sandbox.assume_loopback_open("test");
    let own = data.path().join("net");
    std::fs::create_dir_all(&own).unwrap();
    let script = "readlink /proc/self/ns/net";
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let (_, build, _) = run(&sandbox, &shell(&own, Kind::Build, script)).await;
    assert_ne!(build.trim(), host_net.to_string_lossy());
    let (_, dyno, _) = run(&sandbox, &shell(&own, Kind::Dyno, script)).await;
    assert_eq!(dyno.trim(), host_net.to_string_lossy());
}

#[tokio::test]
async fn memory_and_processes_stop_at_their_limits() {
    let data = tempfile::tempdir().unwrap();
    let Some(sandbox) = sandbox(data.path(), 64, 32).await else {
        return;
    };
    let own = data.path().join("limits");
    std::fs::create_dir_all(&own).unwrap();

    // A bounded fork bomb: stops at the first refused fork, or at 200.
    let bomb = r#"
import os, time
children = []
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            time.sleep(3)
            os._exit(0)
        children.append(pid)
    print("forked 200")
except OSError as e:
    print("fork refused after", len(children))
for pid in children:
    os.waitpid(pid, 0)
"#;
    let job = Job {
        program: Path::new("/usr/bin/python3"),
        args: vec!["-c".into(), bomb.into()],
        ..shell(&own, Kind::Dyno, "")
    };
    let (code, out, _) = run(&sandbox, &job).await;
    assert_eq!(code, 0, "{out}");
    let forked: u32 = out
        .trim()
        .strip_prefix("fork refused after ")
        .unwrap_or_else(|| panic!("{out}"))
        .parse()
        .unwrap();
    assert!(forked < 32, "{out}");

    let hog = "import sys\nb = []\nwhile True: b.append(bytearray(1 << 20))";
    let job = Job {
        program: Path::new("/usr/bin/python3"),
        args: vec!["-c".into(), hog.into()],
        ..shell(&own, Kind::Dyno, "")
    };
    let (code, out, memory_exceeded) = run(&sandbox, &job).await;
    assert_ne!(code, 0, "{out}");
    if sandbox.enforcement() == "rlimits" {
        assert!(out.contains("MemoryError"), "{out}");
    } else {
        assert!(memory_exceeded, "{code} {out}");
    }
}

#[tokio::test]
async fn terminate_reaches_the_apps_processes() {
    let data = tempfile::tempdir().unwrap();
    let Some(sandbox) = sandbox(data.path(), 64, 32).await else {
        return;
    };
    let own = data.path().join("term");
    std::fs::create_dir_all(&own).unwrap();
    let script = "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done";
    let Sandboxed { mut command, run } = sandbox
        .command(&shell(&own, Kind::Dyno, script))
        .await
        .unwrap();
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line)
        .await
        .unwrap();
    assert_eq!(line, "ready\n");
    if !run.terminate_app() {
        assert_eq!(sandbox.enforcement(), "rlimits");
        return;
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("the app ends on SIGTERM")
        .unwrap();
    let mut rest = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut out, &mut rest)
        .await
        .unwrap();
    assert_eq!(rest, "got TERM\n");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn no_sandbox_runs_the_program_as_it_is() {
    let sandbox = Sandbox::off(args(64, 32));
    assert_eq!(sandbox.mode().label(), "off");
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(&sandbox, &shell(dir.path(), Kind::Dyno, "echo $GREETING")).await;
    assert_eq!((code, out.as_str()), (0, "it's \"quoted\"\n"));
}
