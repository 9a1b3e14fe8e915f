//! The embedded runtime: dynos as supervised processes on this machine.
//!
//! Each app has a runner task that applies deploys and scale changes one
//! after the other; each dyno has a supervisor task (see [`super::dyno`]).
//! A deploy whose web dynos all fail to boot leaves the previous release's
//! web dynos serving, and a task of its own stops them once one does boot.
//! Listing, picking a web dyno, restarting and stopping read the shared dyno
//! list directly, so they never wait behind a deploy.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::{join_all, select_all, BoxFuture, FutureExt};
use tokio::sync::{mpsc, watch};

use super::dyno::{self, Context, Dyno, Timings};
use super::logs::LogBook;
use super::process;
use super::slug::Dirs;
use super::{DynoInfo, Formation, InflightGuard, ReleaseSpec, Runtime, RuntimeError};
use crate::sandbox::Sandbox;

enum Command {
    Deploy(Arc<ReleaseSpec>, Formation),
    Scale(Formation),
}

/// What the runtime and an app's runner share about one app.
struct AppSlot {
    /// Every live dyno, including those of a release being replaced.
    dynos: Mutex<Vec<Arc<Dyno>>>,
    /// Set when the app is stopped for good: no dyno may start after it.
    closed: AtomicBool,
    next_web: AtomicUsize,
    /// Signalled whenever a dyno joins the list.
    added: watch::Sender<()>,
}

impl AppSlot {
    fn snapshot(&self) -> Vec<Arc<Dyno>> {
        self.dynos.lock().expect("dyno list lock").clone()
    }

    /// Adds a dyno unless the app or the whole runtime is closed.
    fn add(&self, dyno: Arc<Dyno>, runtime_closed: &AtomicBool) -> bool {
        {
            let mut dynos = self.dynos.lock().expect("dyno list lock");
            if self.closed.load(Ordering::SeqCst) || runtime_closed.load(Ordering::SeqCst) {
                return false;
            }
            dynos.push(dyno);
        }
        self.added.send_replace(());
        true
    }

    fn remove(&self, dyno: &Dyno) {
        self.dynos
            .lock()
            .expect("dyno list lock")
            .retain(|d| d.id != dyno.id);
    }
}

struct AppHandle {
    slot: Arc<AppSlot>,
    commands: mpsc::UnboundedSender<Command>,
}

struct Shared {
    apps: Mutex<HashMap<String, AppHandle>>,
    logs: LogBook,
    dirs: Dirs,
    timings: Timings,
    sandbox: Sandbox,
    closed: AtomicBool,
}

#[derive(Clone)]
pub struct LocalRuntime {
    shared: Arc<Shared>,
}

impl LocalRuntime {
    /// A runtime keeping releases and dyno directories under `root`, running
    /// each dyno through `sandbox`.
    pub fn new(root: PathBuf, logs: LogBook, timings: Timings, sandbox: Sandbox) -> Self {
        let dirs = Dirs::new(root);
        dirs.clear_dynos();
        LocalRuntime {
            shared: Arc::new(Shared {
                apps: Mutex::new(HashMap::new()),
                logs,
                dirs,
                timings,
                sandbox,
                closed: AtomicBool::new(false),
            }),
        }
    }

    fn slot(&self, app_id: &str) -> Option<Arc<AppSlot>> {
        let apps = self.shared.apps.lock().expect("apps lock");
        apps.get(app_id).map(|h| h.slot.clone())
    }

    /// Sends a command to the app's runner, starting the runner if needed.
    fn send(&self, app_id: &str, command: Command) {
        if self.shared.closed.load(Ordering::SeqCst) {
            return;
        }
        let mut apps = self.shared.apps.lock().expect("apps lock");
        let handle = apps.entry(app_id.to_string()).or_insert_with(|| {
            let slot = Arc::new(AppSlot {
                dynos: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                next_web: AtomicUsize::new(0),
                added: watch::channel(()).0,
            });
            let (tx, rx) = mpsc::unbounded_channel();
            let runner = Runner {
                shared: self.shared.clone(),
                slot: slot.clone(),
                release: None,
                formation: Formation::new(),
            };
            tokio::spawn(runner.run(rx));
            AppHandle { slot, commands: tx }
        });
        let _ = handle.commands.send(command);
    }

    /// The dynos of the app whose name is `name`, or whose type is `name`.
    fn matching(&self, app_id: &str, name: &str) -> Result<Vec<Arc<Dyno>>, RuntimeError> {
        let dynos: Vec<Arc<Dyno>> = self
            .slot(app_id)
            .map(|slot| slot.snapshot())
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d.name == name || d.process_type == name)
            .collect();
        if dynos.is_empty() {
            return Err(RuntimeError::NoSuchDyno(name.to_string()));
        }
        Ok(dynos)
    }
}

/// Stops every dyno of a closed slot and waits for them.
async fn stop_all(slot: &AppSlot) {
    slot.closed.store(true, Ordering::SeqCst);
    let dynos = slot.snapshot();
    for dyno in &dynos {
        dyno.stop();
    }
    join_all(dynos.iter().map(|d| d.wait_done())).await;
}

impl Runtime for LocalRuntime {
    fn deploy(&self, spec: Arc<ReleaseSpec>, formation: Formation) {
        let app_id = spec.app_id.clone();
        self.send(&app_id, Command::Deploy(spec, formation));
    }

    fn scale(&self, app_id: &str, formation: Formation) {
        self.send(app_id, Command::Scale(formation));
    }

    fn restart(&self, app_id: &str, name: Option<&str>) -> Result<(), RuntimeError> {
        let dynos = match name {
            Some(name) => self.matching(app_id, name)?,
            None => self.slot(app_id).map(|s| s.snapshot()).unwrap_or_default(),
        };
        for dyno in dynos {
            dyno.restart();
        }
        Ok(())
    }

    fn stop_dyno(&self, app_id: &str, name: &str) -> Result<(), RuntimeError> {
        // A stopped dyno of the formation is started afresh, as on Heroku.
        for dyno in self.matching(app_id, name)? {
            dyno.restart();
        }
        Ok(())
    }

    fn stop_app(&self, app_id: &str) {
        let handle = self.shared.apps.lock().expect("apps lock").remove(app_id);
        let shared = self.shared.clone();
        let app_id = app_id.to_string();
        tokio::spawn(async move {
            if let Some(handle) = handle {
                stop_all(&handle.slot).await;
                shared.dirs.remove_app(&app_id).await;
            }
            // Builds make the app's user too, whether or not dynos ran.
            shared.sandbox.forget_app(&app_id).await;
        });
    }

    fn dynos(&self, app_id: &str) -> Vec<DynoInfo> {
        let mut list: Vec<DynoInfo> = self
            .slot(app_id)
            .map(|slot| slot.snapshot())
            .unwrap_or_default()
            .iter()
            .map(|d| d.info())
            .collect();
        list.sort_by(|a, b| {
            (&a.process_type, dyno_index(&a.name), a.release_version).cmp(&(
                &b.process_type,
                dyno_index(&b.name),
                b.release_version,
            ))
        });
        list
    }

    fn pick_web(&self, app_id: &str) -> Option<InflightGuard> {
        let slot = self.slot(app_id)?;
        let targets: Vec<_> = slot
            .snapshot()
            .iter()
            .filter_map(|d| d.target.clone())
            .filter(|t| t.is_routable())
            .collect();
        if targets.is_empty() {
            return None;
        }
        let start = slot.next_web.fetch_add(1, Ordering::Relaxed);
        (0..targets.len()).find_map(|i| targets[(start + i) % targets.len()].claim())
    }

    fn shutdown(&self) -> BoxFuture<'static, ()> {
        self.shared.closed.store(true, Ordering::SeqCst);
        let slots: Vec<Arc<AppSlot>> = self
            .shared
            .apps
            .lock()
            .expect("apps lock")
            .drain()
            .map(|(_, h)| h.slot)
            .collect();
        Box::pin(async move {
            join_all(slots.iter().map(|slot| stop_all(slot))).await;
        })
    }
}

fn dyno_index(name: &str) -> u32 {
    name.rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Applies one app's deploys and scale changes in order.
struct Runner {
    shared: Arc<Shared>,
    slot: Arc<AppSlot>,
    release: Option<(Arc<ReleaseSpec>, Context)>,
    formation: Formation,
}

impl Runner {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = commands.recv().await {
            if self.slot.closed.load(Ordering::SeqCst) {
                return;
            }
            match command {
                Command::Deploy(spec, formation) => self.deploy(spec, formation).await,
                Command::Scale(formation) => {
                    self.formation = formation;
                    self.converge().await;
                }
            }
        }
    }

    fn logs(&self) -> &LogBook {
        &self.shared.logs
    }

    /// Starts the new release's dynos, waits for its web dynos to accept
    /// connections or to crash, and only then stops the dynos of the releases
    /// before. When none of the new web dynos boots, the earlier web dynos
    /// that had booted keep serving until one does.
    async fn deploy(&mut self, spec: Arc<ReleaseSpec>, formation: Formation) {
        if let Some((current, _)) = &self.release {
            if current.version == spec.version {
                self.formation = formation;
                return self.converge().await;
            }
        }
        let app_id = spec.app_id.clone();
        let app_dir = match self
            .shared
            .dirs
            .unpack(&app_id, spec.version, &spec.slug_path)
            .await
        {
            Ok(dir) => dir,
            Err(error) => {
                tracing::error!(app.id = %app_id, version = spec.version, %error, "cannot unpack a slug");
                self.logs().event(
                    &app_id,
                    &format!(
                        "Release v{} could not be started: its slug is unreadable",
                        spec.version
                    ),
                );
                return;
            }
        };
        let old = self.slot.snapshot();
        let ctx = Context {
            logs: self.shared.logs.clone(),
            dirs: self.shared.dirs.clone(),
            sandbox: self.shared.sandbox.clone(),
            timings: self.shared.timings,
            app_dir,
        };
        self.release = Some((spec.clone(), ctx));
        self.formation = formation;

        let started = self.start_missing(&[]);
        let web: Vec<Arc<Dyno>> = started.into_iter().filter(|d| d.target.is_some()).collect();
        let boot_wait = self.shared.timings.boot_timeout + std::time::Duration::from_secs(1);
        join_all(web.iter().map(|d| d.wait_settled(boot_wait))).await;

        let (kept, leaving) = split_kept(old, &web);
        if !kept.is_empty() {
            self.keep_serving(&spec, kept);
        }
        retire(&self.slot, leaving).await;
        self.prune_releases(&spec).await;
    }

    /// Leaves `kept` serving in place of `spec`'s web dynos until one boots.
    fn keep_serving(&self, spec: &Arc<ReleaseSpec>, kept: Vec<Arc<Dyno>>) {
        self.logs().event(
            &spec.app_id,
            &format!(
                "Release v{}: no web dyno has started; {} keeps serving until one does",
                spec.version,
                versions(&kept)
            ),
        );
        tokio::spawn(retire_when_booted(
            self.slot.clone(),
            self.shared.logs.clone(),
            spec.clone(),
            kept,
        ));
    }

    /// Removes the unpacked releases no dyno runs any more.
    async fn prune_releases(&self, current: &ReleaseSpec) {
        let mut running: Vec<i64> = self
            .slot
            .snapshot()
            .iter()
            .map(|d| d.release.version)
            .collect();
        running.push(current.version);
        self.shared
            .dirs
            .prune_releases(&current.app_id, &running)
            .await;
    }

    /// Brings the current release's dynos to the formation.
    async fn converge(&mut self) {
        let extra = self.surplus();
        self.start_missing(&extra);
        retire(&self.slot, extra).await;
    }

    /// Dynos of the current release beyond the formation, highest numbers
    /// first, and dynos of earlier releases (web dynos kept serving) of a
    /// type scaled to zero.
    fn surplus(&self) -> Vec<Arc<Dyno>> {
        let Some((spec, _)) = &self.release else {
            return Vec::new();
        };
        let current = self.slot.snapshot();
        let mut extra: Vec<Arc<Dyno>> = current
            .iter()
            .filter(|d| {
                d.release.version != spec.version
                    && self.formation.get(&d.process_type).copied().unwrap_or(0) == 0
            })
            .cloned()
            .collect();
        for process_type in spec.process_types.keys() {
            let wanted = self.formation.get(process_type).copied().unwrap_or(0);
            let mut of_type: Vec<&Arc<Dyno>> = current
                .iter()
                .filter(|d| &d.process_type == process_type && d.release.version == spec.version)
                .collect();
            of_type.sort_by_key(|d| std::cmp::Reverse(d.index));
            let surplus = of_type.len().saturating_sub(wanted as usize);
            extra.extend(of_type.into_iter().take(surplus).cloned());
        }
        extra
    }

    /// Starts the dynos the formation wants and the current release lacks,
    /// not counting `leaving`; returns the new ones.
    fn start_missing(&self, leaving: &[Arc<Dyno>]) -> Vec<Arc<Dyno>> {
        let Some((spec, ctx)) = &self.release else {
            return Vec::new();
        };
        let mut started = Vec::new();
        for (process_type, wanted) in &self.formation {
            if !spec.process_types.contains_key(process_type) {
                continue;
            }
            let taken: Vec<u32> = self
                .slot
                .snapshot()
                .iter()
                .filter(|d| {
                    &d.process_type == process_type
                        && d.release.version == spec.version
                        && !leaving.iter().any(|l| l.id == d.id)
                })
                .map(|d| d.index)
                .collect();
            let free = (1..).filter(|i| !taken.contains(i));
            let missing = (*wanted as usize).saturating_sub(taken.len());
            for index in free.take(missing) {
                if let Some(dyno) = self.start(spec, ctx, process_type, index) {
                    started.push(dyno);
                }
            }
        }
        started
    }

    fn start(
        &self,
        spec: &Arc<ReleaseSpec>,
        ctx: &Context,
        process_type: &str,
        index: u32,
    ) -> Option<Arc<Dyno>> {
        let port = match process::free_port() {
            Ok(port) => port,
            Err(error) => {
                tracing::error!(%error, "no free loopback port for a dyno");
                return None;
            }
        };
        let dyno = Arc::new(Dyno::new(spec.clone(), process_type, index, port));
        if !self.slot.add(dyno.clone(), &self.shared.closed) {
            return None;
        }
        tokio::spawn(dyno::supervise(dyno.clone(), ctx.clone()));
        Some(dyno)
    }
}

/// Splits the dynos a deploy replaces into those kept serving and those to
/// stop now: when the release has web dynos and none of them booted, the
/// earlier web dynos that did boot stay.
fn split_kept(old: Vec<Arc<Dyno>>, web: &[Arc<Dyno>]) -> (Vec<Arc<Dyno>>, Vec<Arc<Dyno>>) {
    if web.is_empty() || web.iter().any(|d| d.has_booted()) {
        return (Vec::new(), old);
    }
    old.into_iter()
        .partition(|d| d.target.is_some() && d.has_booted() && !d.is_done())
}

/// Stops the given dynos, waits for them and drops them from the list.
async fn retire(slot: &AppSlot, dynos: Vec<Arc<Dyno>>) {
    for dyno in &dynos {
        dyno.stop();
    }
    join_all(dynos.iter().map(|d| d.wait_done())).await;
    for dyno in &dynos {
        slot.remove(dyno);
    }
}

/// Stops `kept`, web dynos of earlier releases, once a web dyno of
/// `release` boots. Does nothing if the release's web dynos are all stopped
/// first: a later deploy, a scale to zero or the app's end saw to `kept`.
async fn retire_when_booted(
    slot: Arc<AppSlot>,
    logs: LogBook,
    release: Arc<ReleaseSpec>,
    kept: Vec<Arc<Dyno>>,
) {
    let Some(booted) = first_booted_web(&slot, release.version).await else {
        return;
    };
    logs.event(
        &release.app_id,
        &format!(
            "Release v{}: {} has started; stopping the web dynos of {}",
            release.version,
            booted.name,
            versions(&kept)
        ),
    );
    retire(&slot, kept).await;
}

/// The first web dyno of release `version` to boot, including dynos a scale
/// change adds meanwhile; None once the release has no web dyno left.
async fn first_booted_web(slot: &AppSlot, version: i64) -> Option<Arc<Dyno>> {
    loop {
        // Subscribed before the snapshot, so no dyno added after it is missed.
        let mut added = slot.added.subscribe();
        let web: Vec<Arc<Dyno>> = slot
            .snapshot()
            .into_iter()
            .filter(|d| d.target.is_some() && d.release.version == version && !d.is_done())
            .collect();
        if let Some(booted) = web.iter().find(|d| d.has_booted()) {
            return Some(booted.clone());
        }
        if web.is_empty() {
            return None;
        }
        // Each wake-up is a boot, an end or a new dyno, so the loop advances.
        tokio::select! {
            _ = select_all(web.iter().map(|d| d.wait_booted_or_done().boxed())) => {}
            _ = added.changed() => {}
        }
    }
}

/// The releases of `dynos`, as an event names them: `v3` or `v2, v3`.
fn versions(dynos: &[Arc<Dyno>]) -> String {
    let mut versions: Vec<i64> = dynos.iter().map(|d| d.release.version).collect();
    versions.sort_unstable();
    versions.dedup();
    versions
        .iter()
        .map(|v| format!("v{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
