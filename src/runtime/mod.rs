//! Running what was released: dynos per the formation, the router's targets,
//! and the logs they write.
//!
//! [`Runtime`] is what the rest of Slipway sees. The local implementation
//! ([`local::LocalRuntime`]) runs each dyno as a supervised process on this
//! machine; a cluster scheduler can implement the same trait later. Callers
//! state what they want (a release and a formation) and the runtime converges
//! towards it in the background, so every method returns at once.

pub mod dyno;
pub mod local;
pub mod logs;
pub mod process;
pub mod slug;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;

/// Everything needed to run one release of an app, independent of how it
/// was built or stored.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    /// The release's id, as the API shows it.
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub version: i64,
    /// The slug: a tar.gz of the built app.
    pub slug_path: PathBuf,
    /// Process type -> command, from the Procfile.
    pub process_types: BTreeMap<String, String>,
    /// Config vars, given to every dyno.
    pub env: BTreeMap<String, String>,
}

/// How many dynos of each process type should run.
pub type Formation = BTreeMap<String, u32>;

/// The formation a release gets when nobody has scaled it: one `web` dyno
/// when the Procfile has `web`, nothing else.
pub fn default_quantity(process_type: &str) -> u32 {
    u32::from(process_type == "web")
}

/// A dyno's state, as `GET /apps/{app}/dynos` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynoState {
    Starting,
    Up,
    Crashed,
    Down,
}

impl DynoState {
    pub fn as_str(self) -> &'static str {
        match self {
            DynoState::Starting => "starting",
            DynoState::Up => "up",
            DynoState::Crashed => "crashed",
            DynoState::Down => "down",
        }
    }
}

/// One dyno as listed.
#[derive(Debug, Clone)]
pub struct DynoInfo {
    pub id: String,
    pub name: String,
    pub process_type: String,
    pub command: String,
    pub state: DynoState,
    pub release_id: String,
    pub release_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where the router may send a request, and how many it has in flight there,
/// so that a dyno being replaced is stopped only once it has answered them.
#[derive(Debug)]
pub struct WebTarget {
    pub dyno: String,
    pub addr: SocketAddr,
    routable: AtomicBool,
    inflight: AtomicUsize,
}

impl WebTarget {
    pub fn new(dyno: String, addr: SocketAddr) -> Self {
        WebTarget {
            dyno,
            addr,
            routable: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
        }
    }

    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::SeqCst)
    }

    pub fn is_routable(&self) -> bool {
        self.routable.load(Ordering::SeqCst)
    }

    pub fn set_routable(&self, routable: bool) {
        self.routable.store(routable, Ordering::SeqCst);
    }

    /// Claims the target for one request, unless it stopped taking requests.
    /// The flag is read again after counting the request, so a dyno being
    /// drained either sees the request or the router sees the drain.
    pub fn claim(self: &Arc<Self>) -> Option<InflightGuard> {
        if !self.is_routable() {
            return None;
        }
        let guard = InflightGuard::new(self.clone());
        self.is_routable().then_some(guard)
    }
}

/// Held by the router while a request is with a dyno.
pub struct InflightGuard(Arc<WebTarget>);

impl InflightGuard {
    pub fn new(target: Arc<WebTarget>) -> Self {
        target.inflight.fetch_add(1, Ordering::SeqCst);
        InflightGuard(target)
    }

    pub fn target(&self) -> &WebTarget {
        &self.0
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What could not be done.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuntimeError {
    #[error("No such dyno: {0}")]
    NoSuchDyno(String),
}

/// The interface a scheduler implements. Calls state intent and return at
/// once; the runtime converges in the background.
pub trait Runtime: Send + Sync {
    /// Runs `spec` with `formation`, replacing the app's running release
    /// without dropping web requests.
    fn deploy(&self, spec: Arc<ReleaseSpec>, formation: Formation);

    /// Changes how many dynos of each type run the current release.
    fn scale(&self, app_id: &str, formation: Formation);

    /// Restarts every dyno of the app, or the dynos named (`web.1`) or of
    /// the type named (`web`).
    fn restart(&self, app_id: &str, name: Option<&str>) -> Result<(), RuntimeError>;

    /// Stops a dyno; the formation brings a fresh one up in its place.
    fn stop_dyno(&self, app_id: &str, name: &str) -> Result<(), RuntimeError>;

    /// Stops every dyno of the app and forgets it (the app was deleted).
    fn stop_app(&self, app_id: &str);

    fn dynos(&self, app_id: &str) -> Vec<DynoInfo>;

    /// One of the app's web dynos that accepts requests, spread over them.
    fn pick_web(&self, app_id: &str) -> Option<InflightGuard>;

    /// Stops every dyno this runtime started.
    fn shutdown(&self) -> BoxFuture<'static, ()>;
}

pub type SharedRuntime = Arc<dyn Runtime>;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sandbox_tests;
