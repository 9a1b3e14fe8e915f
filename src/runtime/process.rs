//! The one place where a dyno's process is spawned and signalled, so that a
//! sandbox can wrap it here and nowhere else.
//!
//! Each dyno runs `/bin/sh -c COMMAND` in a process group of its own, with a
//! cleared environment: only the app's config vars, `PORT`, `DYNO` and a
//! minimal `PATH`/`HOME`. Nothing of the server's environment (database URL,
//! SMTP credentials) reaches it.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// `PATH` a dyno starts with, unless its config vars set one.
const DYNO_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What a dyno process is started with.
pub struct Launch<'a> {
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

/// Starts the dyno's command with its stdout and stderr piped.
pub fn spawn(launch: &Launch<'_>) -> io::Result<Child> {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(launch.command)
        .env_clear()
        .envs(environment(launch))
        .current_dir(launch.workdir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
}

/// Sends `signal` to the whole process group the dyno leads.
fn signal_group(child: &Child, signal: Signal) {
    let Some(pid) = child.id() else { return };
    let Ok(pid) = i32::try_from(pid) else { return };
    // ESRCH (already gone) is the expected end, not a failure.
    let _ = killpg(Pid::from_raw(pid), signal);
}

/// SIGTERM to the group, SIGKILL after `grace`; returns the exit code
/// (or 128 + signal, as a shell reports it).
pub async fn terminate(child: &mut Child, grace: Duration) -> i32 {
    signal_group(child, Signal::SIGTERM);
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
