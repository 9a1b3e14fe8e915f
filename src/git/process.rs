//! Running the system `git` (and the few other programs a build needs) with a
//! cleared environment: only what they need is passed on, so nothing of the
//! server's own environment (database URL, SMTP credentials) reaches them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;

/// What every child process gets.
#[derive(Debug, Clone)]
pub struct ProcessEnv {
    /// The server's `PATH`, so that `git`, `tar` and buildpack tools are found.
    pub path: OsString,
    /// A home directory of our own, so no user git config applies.
    pub home: PathBuf,
}

impl ProcessEnv {
    pub fn from_server(home: PathBuf) -> ProcessEnv {
        ProcessEnv {
            path: std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
            home,
        }
    }

    /// `program` with a cleared environment, piped output and no stdin.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", &self.path)
            .env("HOME", &self.home)
            .env("LC_ALL", "C")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// `git --git-dir=REPO ...` with `env` added (the push's quarantine).
    pub fn git(&self, repo: &Path, env: &[(String, String)]) -> Command {
        let mut cmd = self.command("git");
        cmd.arg("--git-dir").arg(repo);
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} took longer than {timeout:?}")]
    TimedOut { program: String, timeout: Duration },
    #[error("{program} failed: {stderr}")]
    Failed { program: String, stderr: String },
}

/// Runs a short command to completion within `timeout` (killed after it).
pub async fn output(mut cmd: Command, timeout: Duration) -> Result<Output, RunError> {
    let program = format!("{:?}", cmd.as_std().get_program());
    let child = cmd.spawn().map_err(|source| RunError::Spawn {
        program: program.clone(),
        source,
    })?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(source)) => Err(RunError::Spawn { program, source }),
        Err(_) => Err(RunError::TimedOut { program, timeout }),
    }
}

/// Runs a command that must succeed, and returns its stdout.
pub async fn checked(cmd: Command, timeout: Duration) -> Result<Vec<u8>, RunError> {
    let program = format!("{:?}", cmd.as_std().get_args().collect::<Vec<_>>());
    let out = output(cmd, timeout).await?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(RunError::Failed {
            program,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
