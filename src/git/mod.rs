//! The git side of Slipway: one bare repository per app, served over smart
//! HTTP by the system `git`, with hooks that hand every push to the server
//! for its checks and its build.

pub mod hook;
pub mod process;
pub mod push;
pub mod repo;

use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::sandbox::Sandbox;
use crate::store::Store;
use process::ProcessEnv;
use repo::Layout;

/// Limits and addresses the git service runs with.
#[derive(Debug, Clone)]
pub struct GitConfig {
    /// Largest request body a push (or fetch) may send.
    pub max_push_bytes: u64,
    /// Longest a git process, and a build, may run.
    pub timeout: Duration,
    /// Where the hooks reach the server (`http://127.0.0.1:PORT`).
    pub hook_base_url: String,
    /// The `slipway` binary the hooks run.
    pub hook_bin: PathBuf,
}

/// The git service, cheap to clone.
#[derive(Clone)]
pub struct Git {
    inner: Arc<GitInner>,
}

pub struct GitInner {
    pub config: GitConfig,
    pub layout: Layout,
    pub env: ProcessEnv,
    pub sessions: push::Sessions,
    /// Where builds run the app's code.
    pub sandbox: Sandbox,
}

impl Git {
    /// Sets up the git data under `data_dir` (hooks, a home for git).
    pub fn new(data_dir: &Path, config: GitConfig, sandbox: Sandbox) -> io::Result<Git> {
        let layout = Layout::new(data_dir);
        repo::install_hooks(&layout)?;
        std::fs::create_dir_all(layout.builds())?;
        let env = ProcessEnv::from_server(layout.home());
        Ok(Git {
            inner: Arc::new(GitInner {
                config,
                layout,
                env,
                sessions: push::Sessions::default(),
                sandbox,
            }),
        })
    }

    /// The app's repository, created when missing.
    pub async fn repository(&self, app_id: &str) -> io::Result<PathBuf> {
        repo::ensure(&self.env, &self.layout, app_id).await
    }

    /// Removes everything an app kept on disk, after any push under way.
    pub async fn remove_app(&self, store: &Store, app_id: &str) {
        let lock = store.locks().lock(app_id).await;
        if let Err(error) = &lock {
            tracing::warn!(app.id = app_id, %error, "removing the app's data without its lock");
        }
        repo::remove_app_data(&self.layout, app_id).await;
        drop(lock);
    }
}

impl Deref for Git {
    type Target = GitInner;

    fn deref(&self) -> &GitInner {
        &self.inner
    }
}
