//! Running an app's code — its build steps and its dynos — where it can touch
//! neither the platform nor other apps.
//!
//! Each run is a chain of small, well-kept programs composed into one command
//! by [`wrapper::command`]: a shell that puts the run into its cgroups,
//! `prlimit` for the rlimits, bubblewrap for the namespaces and the filesystem
//! view, then `setpriv`, which drops to the app's own Unix user before the
//! app's program starts. Everything before `setpriv` runs as root with an
//! environment of ours; the app's config vars reach only the app's program,
//! through a file read after the drop, so nothing the app controls (such as
//! `LD_PRELOAD`) ever touches a root process.
//!
//! What a run sees: read-only system directories (`/usr`, `/bin`, `/lib*`, a
//! few files of `/etc`), its own directories, a private `/tmp`, a `/proc` of
//! its own pid namespace. Dynos keep the host's network, since the router
//! reaches them on `127.0.0.1:$PORT`, behind a fence that keeps them off the
//! host's loopback services (see [`fence`]). Builds get the same network
//! where the fence stands (buildpacks download runtimes and packages), and
//! none at all where it could not be installed.

pub mod cgroup;
mod fence;
mod users;
mod wrapper;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::process::Command;

pub use fence::Loopback;
pub use users::AppUser;
use users::Users;
use wrapper::{Plan, Rlimits, Tools};

/// Whether builds and dynos run isolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    On,
    /// The operator chose to run without isolation (`--no-sandbox`).
    Off,
    /// Isolation cannot be had on this machine; builds and dynos are refused.
    Unavailable(String),
}

impl Mode {
    /// As the start-up line and `info` show it.
    pub fn label(&self) -> &'static str {
        match self {
            Mode::On => "on",
            Mode::Off => "off",
            Mode::Unavailable(_) => "unavailable",
        }
    }
}

/// What is being run; see the module's notes on the network each gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Build,
    Dyno,
    /// Fetching what a build needs over the network (a buildpack's git
    /// repository): the host's network behind the loopback fence, with a
    /// build's limits.
    Fetch,
}

/// What one build or one dyno may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_mb: u64,
    pub processes: u64,
    pub open_files: u64,
}

/// The operator's choices, from `slipway serve`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Run builds and dynos without isolation, as the server's own user.
    /// Only for machines where isolation cannot be had (not root, no
    /// bubblewrap, no namespaces).
    #[arg(long, env = "SLIPWAY_NO_SANDBOX", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_sandbox: bool,
    /// Memory of one dyno, in MB.
    #[arg(long, env = "SLIPWAY_DYNO_MEMORY", default_value_t = 512)]
    pub dyno_memory: u64,
    /// Processes (and threads) of one dyno.
    #[arg(long, env = "SLIPWAY_DYNO_PROCESSES", default_value_t = 256)]
    pub dyno_processes: u64,
    /// Memory of one build step, in MB.
    #[arg(long, env = "SLIPWAY_BUILD_MEMORY", default_value_t = 1024)]
    pub build_memory: u64,
    /// Processes (and threads) of one build step.
    #[arg(long, env = "SLIPWAY_BUILD_PROCESSES", default_value_t = 512)]
    pub build_processes: u64,
    /// Open files of each process of a build or dyno.
    #[arg(long, env = "SLIPWAY_OPEN_FILES", default_value_t = 4096)]
    pub open_files: u64,
}

impl SandboxArgs {
    /// The defaults of `slipway serve` (and what the environment sets).
    pub fn defaults() -> SandboxArgs {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            sandbox: SandboxArgs,
        }
        <Defaults as clap::Parser>::parse_from(["slipway"]).sandbox
    }

    fn limits(&self, kind: Kind) -> Limits {
        match kind {
            Kind::Build | Kind::Fetch => Limits {
                memory_mb: self.build_memory,
                processes: self.build_processes,
                open_files: self.open_files,
            },
            Kind::Dyno => Limits {
                memory_mb: self.dyno_memory,
                processes: self.dyno_processes,
                open_files: self.open_files,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "builds and dynos are not run on this server: it cannot isolate them ({0}); \
         the operator can start it with --no-sandbox to run them anyway"
    )]
    Unavailable(String),
    #[error("not an app id")]
    BadAppId,
    #[error("cannot prepare the sandbox: {0}")]
    Setup(String),
}

fn setup(error: impl std::fmt::Display) -> SandboxError {
    SandboxError::Setup(error.to_string())
}

/// One program to run for an app.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub app_id: &'a str,
    pub kind: Kind,
    /// An absolute path, as seen inside the sandbox (system paths are the
    /// host's, the app's directories keep their host paths).
    pub program: &'a Path,
    pub args: Vec<OsString>,
    pub workdir: &'a Path,
    /// Directories the run may change; they are handed to the app's user.
    pub writable: Vec<&'a Path>,
    /// Directories the run may read.
    pub readable: Vec<&'a Path>,
    /// The program's whole environment.
    pub env: BTreeMap<String, String>,
}

/// A command ready to spawn, and what outlives its start.
pub struct Sandboxed {
    /// Stdout and stderr are the caller's to set; stdin is already set.
    pub command: Command,
    pub run: Run,
}

/// Watches one run: reports a memory kill, sends signals, and cleans up
/// (cgroups, the run's files) when dropped, which the caller does once the
/// process has ended.
pub struct Run {
    cgroup: Option<cgroup::Group>,
    files: Option<PathBuf>,
    user: Option<AppUser>,
    limits: Limits,
}

impl Run {
    fn bare(limits: Limits) -> Run {
        Run {
            cgroup: None,
            files: None,
            user: None,
            limits,
        }
    }

    /// True when the kernel killed a process of this run for reaching the
    /// memory limit (known only where a memory cgroup is used).
    pub fn memory_exceeded(&self) -> bool {
        self.cgroup.as_ref().is_some_and(|g| g.oom_kills() > 0)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Sends SIGTERM to every process of the app in this run, so that it can
    /// shut down cleanly; false when that cannot be done here (no cgroup),
    /// and the caller ends the run from outside instead.
    pub fn terminate_app(&self) -> bool {
        let (Some(group), Some(user)) = (&self.cgroup, &self.user) else {
            return false;
        };
        for pid in group.pids() {
            if process_uid(pid) == Some(user.uid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        true
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(group) = self.cgroup.take() {
            group.remove();
        }
        if let Some(files) = self.files.take() {
            let _ = std::fs::remove_dir_all(files);
        }
    }
}

/// The real user id of a process, from `/proc`.
fn process_uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs builds and dynos, isolated or (by the operator's choice) not.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    mode: Mode,
    config: SandboxArgs,
    parts: Option<Parts>,
}

/// What an isolating sandbox found on the machine.
struct Parts {
    tools: Tools,
    users: Users,
    cgroups: Option<cgroup::Hierarchy>,
    /// Root-only directory for each run's environment and passwd files.
    runs: PathBuf,
    /// Platform paths that must not show inside even where a system
    /// directory holds them (the data dir, the `slipway` binary).
    hidden: Vec<PathBuf>,
    loopback: Loopback,
}

impl Sandbox {
    /// Finds out whether isolation can be had, unless the operator turned it
    /// off; never fails (an unavailable sandbox refuses each run instead).
    pub async fn detect(config: SandboxArgs, data_dir: &Path) -> Sandbox {
        let (mode, parts) = if config.no_sandbox {
            (Mode::Off, None)
        } else {
            match Parts::probe(data_dir, &config).await {
                Ok(parts) => (Mode::On, Some(parts)),
                Err(reason) => (Mode::Unavailable(reason), None),
            }
        };
        Sandbox {
            inner: Arc::new(Inner {
                mode,
                config,
                parts,
            }),
        }
    }

    /// No isolation: for tests of other parts, and `--no-sandbox`.
    pub fn off(config: SandboxArgs) -> Sandbox {
        Sandbox {
            inner: Arc::new(Inner {
                mode: Mode::Off,
                config: SandboxArgs {
                    no_sandbox: true,
                    ..config
                },
                parts: None,
            }),
        }
    }

    pub fn mode(&self) -> &Mode {
        &self.inner.mode
    }

    pub fn limits(&self, kind: Kind) -> Limits {
        self.inner.config.limits(kind)
    }

    /// `cgroup v1`, `cgroup v2` or `rlimits`: how limits are enforced.
    pub fn enforcement(&self) -> &'static str {
        match self.inner.parts.as_ref().and_then(|p| p.cgroups.as_ref()) {
            Some(hierarchy) => hierarchy.label(),
            None => "rlimits",
        }
    }

    /// For tests of what happens where nftables is missing: treats the fence
    /// as not installed.
    #[cfg(test)]
    pub fn assume_loopback_open(&mut self, reason: &str) {
        let inner = Arc::get_mut(&mut self.inner).expect("an unshared sandbox");
        if let Some(parts) = inner.parts.as_mut() {
            parts.loopback = Loopback::Open(reason.to_string());
        }
    }

    /// Whether dynos are kept off the host's loopback services; None when
    /// nothing is isolated.
    pub fn loopback(&self) -> Option<&Loopback> {
        self.inner.parts.as_ref().map(|p| &p.loopback)
    }

    /// Forgets a deleted app: its Unix user goes. Call once its builds and
    /// dynos have ended.
    pub async fn forget_app(&self, app_id: &str) {
        if let Some(parts) = &self.inner.parts {
            parts.users.remove(app_id).await;
        }
    }

    /// The command that runs `job`, isolated when the sandbox is on.
    pub async fn command(&self, job: &Job<'_>) -> Result<Sandboxed, SandboxError> {
        let limits = self.limits(job.kind);
        match (&self.inner.mode, &self.inner.parts) {
            (Mode::On, Some(parts)) => parts.isolated(job, limits).await,
            (Mode::Unavailable(reason), _) => Err(SandboxError::Unavailable(reason.clone())),
            _ => Ok(plain(job, limits)),
        }
    }
}

/// The program as it is, with only the job's environment.
fn plain(job: &Job<'_>, limits: Limits) -> Sandboxed {
    let mut command = Command::new(job.program);
    command
        .args(&job.args)
        .env_clear()
        .envs(&job.env)
        .current_dir(job.workdir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    Sandboxed {
        command,
        run: Run::bare(limits),
    }
}

impl Parts {
    async fn probe(data_dir: &Path, config: &SandboxArgs) -> Result<Parts, String> {
        let owner = std::fs::metadata("/proc/self").map_err(|e| e.to_string())?;
        if owner.uid() != 0 {
            return Err("slipway serve is not running as root".into());
        }
        let tools = Tools::find()?;
        let runs = data_dir.join("sandbox");
        prepare_runs_dir(&runs).map_err(|e| format!("{}: {e}", runs.display()))?;
        let hidden = hidden_paths(data_dir);
        let cgroups = cgroup::Hierarchy::detect();
        let loopback = fence::install().await;
        let parts = Parts {
            tools,
            users: Users::default(),
            cgroups,
            runs,
            hidden,
            loopback,
        };
        parts.trial(config).await?;
        Ok(parts)
    }

    /// Runs `/bin/true` the way an app's program runs, as `nobody`: proves
    /// that this kernel lets bubblewrap make its namespaces.
    async fn trial(&self, config: &SandboxArgs) -> Result<(), String> {
        let job = Job {
            app_id: "",
            kind: Kind::Build,
            program: Path::new("/bin/true"),
            args: Vec::new(),
            workdir: Path::new("/"),
            writable: Vec::new(),
            readable: Vec::new(),
            env: BTreeMap::new(),
        };
        let limits = config.limits(Kind::Build);
        let (mut command, _run) = self
            .wrap(&job, AppUser::nobody(), limits)
            .map_err(|e| e.to_string())?;
        let out = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output()
            .await
            .map_err(|e| format!("cannot start bubblewrap: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "bubblewrap cannot make its namespaces here: {}",
            stderr.trim()
        ))
    }

    async fn isolated(&self, job: &Job<'_>, limits: Limits) -> Result<Sandboxed, SandboxError> {
        let user = self.users.ensure(job.app_id).await?;
        for dir in &job.writable {
            users::hand_over(dir, &user).await?;
        }
        let (command, run) = self.wrap(job, user, limits)?;
        Ok(Sandboxed { command, run })
    }

    /// Writes the run's files, makes its cgroup and composes the command.
    fn wrap(
        &self,
        job: &Job<'_>,
        user: AppUser,
        limits: Limits,
    ) -> Result<(Command, Run), SandboxError> {
        let id = uuid::Uuid::new_v4().to_string();
        let files = self.runs.join(&id);
        let mut run = Run {
            cgroup: None,
            files: Some(files.clone()),
            user: Some(user.clone()),
            limits,
        };
        wrapper::write_run_files(&files, &user, job).map_err(setup)?;

        // Without a cgroup, rlimits stand in: RLIMIT_AS for memory, and
        // RLIMIT_NPROC, which the kernel counts per user, so per app.
        if let Some(hierarchy) = &self.cgroups {
            match hierarchy.create(&id, &limits) {
                Ok(group) => run.cgroup = Some(group),
                Err(error) => tracing::warn!(%error, "cannot make a cgroup; using rlimits"),
            }
        }
        let cgroup = run.cgroup.as_ref();
        let rlimits = Rlimits {
            open_files: limits.open_files,
            processes: match cgroup {
                // A wide per-app backstop behind the per-run pids cgroup.
                Some(_) => limits.processes.saturating_mul(16),
                None => limits.processes,
            },
            memory_bytes: cgroup.is_none().then_some(limits.memory_mb << 20),
        };
        let plan = Plan {
            tools: &self.tools,
            user: &user,
            join: cgroup.map(|g| g.procs_files()).unwrap_or_default(),
            rlimits,
            network: job.kind != Kind::Build || self.loopback == Loopback::Fenced,
            tmp_bytes: limits.memory_mb << 20,
            files: &files,
            hidden: &self.hidden,
            job,
        };
        Ok((wrapper::command(&plan), run))
    }
}

/// A root-only directory. Each run removes its own files when it ends; a
/// server that crashed leaves them here, readable by root only. Several
/// servers may share the data dir, so none empties it.
fn prepare_runs_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// The data dir and the running binary: never inside the sandbox, even when
/// the operator keeps them under a system directory.
fn hidden_paths(data_dir: &Path) -> Vec<PathBuf> {
    let mut hidden = vec![data_dir.to_path_buf()];
    if let Ok(exe) = std::env::current_exe() {
        hidden.push(exe);
    }
    hidden
}
