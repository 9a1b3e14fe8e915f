//! One dyno: its process, supervised. A process that exits is started again
//! after a back-off that grows with each crash; a stop or restart drains the
//! router's requests first, then ends the process with SIGTERM and, after a
//! grace period, SIGKILL.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::watch;

use super::logs::{LogBook, MAX_LINE};
use super::process::{self, Launch, SpawnError};
use super::slug::Dirs;
use super::{DynoInfo, DynoState, ReleaseSpec, WebTarget};
use crate::clock;
use crate::sandbox::{Run, Sandbox, SandboxError};

/// How long the platform waits on a dyno.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// A web dyno must accept connections on `$PORT` within this.
    pub boot_timeout: Duration,
    /// Between SIGTERM and SIGKILL, and the longest wait for requests to finish.
    pub grace: Duration,
    /// The first restart after a crash waits this long, doubling each time.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            boot_timeout: Duration::from_secs(60),
            grace: Duration::from_secs(8),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// A process that stays up this long is forgiven its earlier crashes.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// What a dyno has got through so far; each flag, once set, stays set.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// A web dyno accepted connections (any other dyno started).
    booted: bool,
    /// A run of its process ended on its own: it crashed or timed out booting.
    exited: bool,
    /// The supervisor ended the dyno for good.
    done: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Control {
    restarts: u64,
    stop: bool,
}

/// A dyno, shared by its supervisor, the app's runner and the router.
pub struct Dyno {
    pub id: String,
    pub name: String,
    pub process_type: String,
    pub index: u32,
    pub command: String,
    pub release: Arc<ReleaseSpec>,
    pub created_at: i64,
    /// Set for web dynos: where the router sends requests.
    pub target: Option<Arc<WebTarget>>,
    port: u16,
    status: Mutex<(DynoState, i64)>,
    control: watch::Sender<Control>,
    progress: watch::Sender<Progress>,
}

impl Dyno {
    pub fn new(release: Arc<ReleaseSpec>, process_type: &str, index: u32, port: u16) -> Self {
        let now = clock::now_ms();
        let name = format!("{process_type}.{index}");
        let target = (process_type == "web")
            .then(|| Arc::new(WebTarget::new(name.clone(), ([127, 0, 0, 1], port).into())));
        Dyno {
            id: uuid::Uuid::new_v4().to_string(),
            command: release.process_types[process_type].clone(),
            name,
            process_type: process_type.to_string(),
            index,
            release,
            created_at: now,
            target,
            port,
            status: Mutex::new((DynoState::Starting, now)),
            control: watch::channel(Control::default()).0,
            progress: watch::channel(Progress::default()).0,
        }
    }

    pub fn info(&self) -> DynoInfo {
        let (state, updated_at) = *self.status.lock().expect("dyno status lock");
        DynoInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            process_type: self.process_type.clone(),
            command: self.command.clone(),
            state,
            release_id: self.release.id.clone(),
            release_version: self.release.version,
            created_at: self.created_at,
            updated_at,
        }
    }

    pub fn state(&self) -> DynoState {
        self.status.lock().expect("dyno status lock").0
    }

    fn set_state(&self, state: DynoState) -> DynoState {
        let mut status = self.status.lock().expect("dyno status lock");
        let before = status.0;
        *status = (state, clock::now_ms());
        before
    }

    pub fn restart(&self) {
        self.control.send_modify(|c| c.restarts += 1);
    }

    pub fn stop(&self) {
        self.control.send_modify(|c| c.stop = true);
    }

    /// Whether the dyno has accepted requests at some point.
    pub fn has_booted(&self) -> bool {
        self.progress.borrow().booted
    }

    pub fn is_done(&self) -> bool {
        self.progress.borrow().done
    }

    /// Waits until the dyno accepts requests or its process has exited at
    /// least once, or `timeout` passes: by then a deploy knows whether the
    /// release boots, while a crashing dyno goes on restarting.
    pub async fn wait_settled(&self, timeout: Duration) {
        self.wait_progress(Some(timeout), |p| p.booted || p.exited || p.done)
            .await;
    }

    /// Waits until the dyno accepts requests or is ended; true if it booted.
    pub async fn wait_booted_or_done(&self) -> bool {
        self.wait_progress(None, |p| p.booted || p.done).await;
        self.has_booted()
    }

    /// Waits until the supervisor has ended the dyno for good.
    pub async fn wait_done(&self) {
        self.wait_progress(None, |p| p.done).await;
    }

    async fn wait_progress(
        &self,
        timeout: Option<Duration>,
        reached: impl FnMut(&Progress) -> bool,
    ) {
        let mut progress = self.progress.subscribe();
        let wait = progress.wait_for(reached);
        match timeout {
            Some(timeout) => drop(tokio::time::timeout(timeout, wait).await),
            // The sender lives as long as `self`, so this cannot fail.
            None => drop(wait.await),
        }
    }

    fn mark(&self, step: impl FnOnce(&mut Progress)) {
        self.progress.send_modify(step);
    }

    fn set_routable(&self, routable: bool) {
        if let Some(target) = &self.target {
            target.set_routable(routable);
        }
    }
}

/// What a dyno's supervisor needs besides the dyno.
#[derive(Clone)]
pub struct Context {
    pub logs: LogBook,
    pub dirs: Dirs,
    pub sandbox: Sandbox,
    pub timings: Timings,
    /// The unpacked release.
    pub app_dir: PathBuf,
}

impl Context {
    fn platform(&self, dyno: &Dyno, text: &str) {
        self.logs
            .push(&dyno.release.app_id, "heroku", &dyno.name, text);
    }
}

/// Why a run of the process ended.
enum Ended {
    Exited(i32),
    Stop,
    Restart,
}

/// Runs the dyno until it is stopped.
pub async fn supervise(dyno: Arc<Dyno>, ctx: Context) {
    let mut control = dyno.control.subscribe();
    let mut crashes: u32 = 0;
    while !control.borrow_and_update().stop {
        let started = Instant::now();
        let ended = run_once(&dyno, &ctx, &mut control).await;
        let Ended::Exited(code) = ended else {
            if matches!(ended, Ended::Stop) {
                break;
            }
            crashes = 0;
            continue;
        };

        ctx.platform(&dyno, &format!("Process exited with status {code}"));
        dyno.mark(|p| p.exited = true);
        let before = dyno.set_state(DynoState::Crashed);
        ctx.platform(
            &dyno,
            &format!("State changed from {} to crashed", before.as_str()),
        );
        if started.elapsed() >= STABLE_AFTER {
            crashes = 0;
        }
        crashes += 1;
        let wait = backoff(&ctx.timings, crashes);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = control.changed() => {}
        }
    }
    let before = dyno.set_state(DynoState::Down);
    if before != DynoState::Down {
        ctx.platform(
            &dyno,
            &format!("State changed from {} to down", before.as_str()),
        );
    }
    dyno.mark(|p| p.done = true);
}

fn backoff(timings: &Timings, crashes: u32) -> Duration {
    let factor = 2u32.saturating_pow(crashes.saturating_sub(1).min(16));
    timings
        .first_backoff
        .saturating_mul(factor)
        .min(timings.max_backoff)
}

/// Starts the process once and waits for it to exit or to be told to stop.
async fn run_once(dyno: &Dyno, ctx: &Context, control: &mut watch::Receiver<Control>) -> Ended {
    let before = dyno.set_state(DynoState::Starting);
    if before != DynoState::Starting {
        ctx.platform(
            dyno,
            &format!("State changed from {} to starting", before.as_str()),
        );
    }
    ctx.platform(
        dyno,
        &format!("Starting process with command `{}`", dyno.command),
    );
    let app_id = &dyno.release.app_id;
    let workdir = match ctx.dirs.dyno_workdir(app_id, &dyno.id, &ctx.app_dir).await {
        Ok(dir) => dir,
        Err(error) => {
            tracing::error!(app.id = %app_id, dyno = %dyno.name, %error, "cannot prepare a dyno");
            return Ended::Exited(-1);
        }
    };
    let launch = Launch {
        app_id,
        command: &dyno.command,
        workdir: &workdir,
        config_vars: &dyno.release.env,
        port: dyno.port,
        dyno: &dyno.name,
    };
    let (mut child, run) = match process::spawn(&launch, &ctx.sandbox).await {
        Ok(started) => started,
        Err(SpawnError::Sandbox(error @ SandboxError::Unavailable(_))) => {
            ctx.platform(dyno, &format!("Error: {error}"));
            ctx.dirs.remove_workdir(&workdir).await;
            return Ended::Exited(-1);
        }
        Err(error) => {
            tracing::error!(app.id = %app_id, dyno = %dyno.name, %error, "cannot start a dyno");
            ctx.dirs.remove_workdir(&workdir).await;
            return Ended::Exited(-1);
        }
    };
    let pid = child.id();
    pump_output(&mut child, dyno, &ctx.logs);

    let ended = watch_process(&mut child, &run, dyno, ctx, control).await;
    if matches!(ended, Ended::Exited(code) if code != 0) && run.memory_exceeded() {
        ctx.platform(
            dyno,
            &format!(
                "Error R15 (Memory quota vastly exceeded) -> the dyno reached its memory limit \
                 of {} MB and its process was killed",
                run.limits().memory_mb
            ),
        );
    }
    process::kill_leftovers(pid);
    drop(run);
    ctx.dirs.remove_workdir(&workdir).await;
    ended
}

async fn watch_process(
    child: &mut Child,
    run: &Run,
    dyno: &Dyno,
    ctx: &Context,
    control: &mut watch::Receiver<Control>,
) -> Ended {
    let seen = *control.borrow_and_update();
    let boot = wait_for_port(dyno, ctx.timings.boot_timeout);
    tokio::pin!(boot);
    let mut booting = true;
    loop {
        tokio::select! {
            status = child.wait() => {
                dyno.set_routable(false);
                return Ended::Exited(status.map(process::exit_code).unwrap_or(-1));
            }
            bound = &mut boot, if booting => {
                booting = false;
                if bound {
                    let before = dyno.set_state(DynoState::Up);
                    ctx.platform(dyno, &format!("State changed from {} to up", before.as_str()));
                    dyno.set_routable(true);
                    dyno.mark(|p| p.booted = true);
                } else {
                    ctx.platform(dyno, &format!(
                        "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within {} seconds of launch",
                        ctx.timings.boot_timeout.as_secs()
                    ));
                    ctx.platform(dyno, "Stopping process with SIGKILL");
                    let _ = child.start_kill();
                }
            }
            changed = control.changed() => {
                let now = *control.borrow_and_update();
                let ended = if changed.is_err() || now.stop {
                    Ended::Stop
                } else if now.restarts != seen.restarts {
                    Ended::Restart
                } else {
                    continue;
                };
                shut_down(child, run, dyno, ctx).await;
                return ended;
            }
        }
    }
}

/// Takes the dyno out of the router, lets its requests finish, then stops it.
async fn shut_down(child: &mut Child, run: &Run, dyno: &Dyno, ctx: &Context) {
    dyno.set_routable(false);
    if let Some(target) = &dyno.target {
        let deadline = Instant::now() + ctx.timings.grace;
        while target.inflight() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    ctx.platform(dyno, "Stopping all processes with SIGTERM");
    let code = process::terminate(child, run, ctx.timings.grace).await;
    ctx.platform(dyno, &format!("Process exited with status {code}"));
}

/// For web dynos: true once `$PORT` accepts connections, false on timeout.
/// Other dynos count as up once started.
async fn wait_for_port(dyno: &Dyno, timeout: Duration) -> bool {
    if dyno.target.is_none() {
        return true;
    }
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", dyno.port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Copies the process's stdout and stderr into the app's log, line by line.
fn pump_output(child: &mut Child, dyno: &Dyno, logs: &LogBook) {
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pump(
            out,
            logs.clone(),
            dyno.release.app_id.clone(),
            dyno.name.clone(),
        ));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pump(
            err,
            logs.clone(),
            dyno.release.app_id.clone(),
            dyno.name.clone(),
        ));
    }
}

async fn pump(stream: impl AsyncRead + Unpin, logs: LogBook, app_id: String, dyno: String) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Reads at most a little more than one kept line; the rest of an
        // overlong line follows as further lines.
        let mut limited = (&mut reader).take(MAX_LINE as u64 + 1);
        match limited.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => logs.push(&app_id, "app", &dyno, &String::from_utf8_lossy(&line)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_grows_and_is_capped() {
        let timings = Timings::default();
        let waits: Vec<u64> = (1..=9).map(|n| backoff(&timings, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
