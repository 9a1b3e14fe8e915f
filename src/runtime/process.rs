//! The one place where a dyno's process is spawned and signalled.
//!
//! Each dyno runs `/bin/sh -c COMMAND` through the sandbox (as the app's own
//! user, in a view of its own directory only, see [`crate::sandbox`]), in a
//! process group of its own, with a cleared environment: only the app's
//! config vars, `PORT`, `DYNO` and a minimal `PATH`/`HOME`. Nothing of the
//! server's environment (database URL, SMTP credentials) reaches it.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Child;

use crate::sandbox::{Job, Kind, Run, Sandbox, SandboxError, Sandboxed};

/// `PATH` a dyno starts with, unless its config vars set one.
const DYNO_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What a dyno process is started with.
pub struct Launch<'a> {
    pub app_id: &'a str,
    pub command: &'a str,
    pub workdir: &'a Path,
    pub config_vars: &'a BTreeMap<String, String>,
    pub port: u16,
    pub dyno: &'a str,
}

/// The whole environment of a dyno: defaults, then config vars, then the
/// variables the platform owns.
pub fn environment(launch: &Launch<'_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), DYNO_PATH.to_string());
    env.insert("HOME".to_string(), launch.workdir.display().to_string());
    env.insert("LANG".to_string(), "C.UTF-8".to_string());
    for (key, value) in launch.config_vars {
        env.insert(key.clone(), value.clone());
    }
    env.insert("PORT".to_string(), launch.port.to_string());
    env.insert("DYNO".to_string(), launch.dyno.to_string());
    env
}

/// Why a dyno's process could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Starts the dyno's command with its stdout and stderr piped; the [`Run`]
/// must live until the process has ended.
pub async fn spawn(launch: &Launch<'_>, sandbox: &Sandbox) -> Result<(Child, Run), SpawnError> {
    let job = Job {
        app_id: launch.app_id,
        kind: Kind::Dyno,
        program: Path::new("/bin/sh"),
        args: vec!["-c".into(), launch.command.into()],
        workdir: launch.workdir,
        writable: vec![launch.workdir],
        readable: Vec::new(),
        env: environment(launch),
    };
    let Sandboxed { mut command, run } = sandbox.command(&job).await?;
    let child = command
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    Ok((child, run))
}

/// Sends `signal` to the whole process group the dyno leads.
fn signal_group(child: &Child, signal: Signal) {
    let Some(pid) = child.id() else { return };
    let Ok(pid) = i32::try_from(pid) else { return };
    // ESRCH (already gone) is the expected end, not a failure.
    let _ = killpg(Pid::from_raw(pid), signal);
}

/// SIGTERM to the app's processes, SIGKILL to the group after `grace`;
/// returns the exit code (or 128 + signal, as a shell reports it).
pub async fn terminate(child: &mut Child, run: &Run, grace: Duration) -> i32 {
    // Inside a sandbox the group leader is bubblewrap, which would pass a
    // SIGTERM on as a SIGKILL; the sandbox reaches the app's processes.
    if !run.terminate_app() {
        signal_group(child, Signal::SIGTERM);
    }
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            signal_group(child, Signal::SIGKILL);
            child.wait().await.ok()
        }
    };
    status.map(exit_code).unwrap_or(-1)
}

/// Kills what is left of the group once its leader has exited (children the
/// app started in the background).
pub fn kill_leftovers(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// A loopback port nobody listens on right now, for a dyno's `PORT`.
pub fn free_port() -> io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_holds_only_what_the_dyno_owns() {
        let vars = BTreeMap::from([
            ("GREETING".to_string(), "hi".to_string()),
            ("PORT".to_string(), "1".to_string()),
        ]);
        let launch = Launch {
            app_id: "0b8f8f8e-2d7c-4c63-9b55-4b7b8f7d7f10",
            command: "true",
            workdir: Path::new("/tmp/d"),
            config_vars: &vars,
            port: 5123,
            dyno: "web.2",
        };
        let env = environment(&launch);
        assert_eq!(env["PORT"], "5123", "the platform's PORT wins");
        assert_eq!(env["DYNO"], "web.2");
        assert_eq!(env["GREETING"], "hi");
        assert_eq!(env["HOME"], "/tmp/d");
        let keys: Vec<&str> = env.keys().map(String::as_str).collect();
        assert_eq!(keys, ["DYNO", "GREETING", "HOME", "LANG", "PATH", "PORT"]);
    }
}
