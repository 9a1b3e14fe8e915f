//! Per-app locks for work that must not overlap: pushes, releases, formation
//! changes, transfers.
//!
//! On PostgreSQL a lock is a session advisory lock held on a connection of its
//! own for as long as the guard lives, so that every node sharing the database
//! sees it, and a node that dies releases its locks when its connection drops.
//! On SQLite, which serves one machine, a lock is an exclusive `flock` on a
//! file beside the database: it holds between processes on that machine (the
//! server and `slipway admin`), and the kernel releases it when its holder
//! dies.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection};

use crate::store::{StoreError, StoreResult};

/// First key of every app lock; the second is a hash of the app id. Two-key
/// advisory locks never collide with the one-key lock that guards migrations.
const APP_LOCK_CLASS: i32 = 74_600;

/// Hands out per-app locks; cheap to clone.
#[derive(Clone)]
pub struct AppLocks {
    inner: Arc<Inner>,
}

enum Inner {
    Files(PathBuf),
    Postgres(AnyConnectOptions),
}

/// Holds an app's lock until dropped.
pub struct AppLockGuard {
    held: Held,
}

enum Held {
    File(#[expect(dead_code, reason = "held only for its lock")] File),
    Postgres(Option<AnyConnection>),
}

impl AppLocks {
    /// Locks as lock files in `dir` (SQLite).
    pub fn files(dir: &Path) -> AppLocks {
        AppLocks {
            inner: Arc::new(Inner::Files(dir.to_path_buf())),
        }
    }

    /// Locks as advisory locks on the database at `options` (PostgreSQL).
    pub fn postgres(options: AnyConnectOptions) -> AppLocks {
        AppLocks {
            inner: Arc::new(Inner::Postgres(options)),
        }
    }

    /// Waits until the app's lock is free and takes it. `app_id` must come
    /// from the store (it names a file on SQLite).
    pub async fn lock(&self, app_id: &str) -> StoreResult<AppLockGuard> {
        let held = match &*self.inner {
            Inner::Files(dir) => Held::File(lock_file(dir, app_id).await?),
            Inner::Postgres(options) => Held::Postgres(Some(advisory_lock(options, app_id).await?)),
        };
        Ok(AppLockGuard { held })
    }
}

async fn lock_file(dir: &Path, app_id: &str) -> StoreResult<File> {
    if app_id.is_empty()
        || !app_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(StoreError::Config(format!("not an app id: {app_id:?}")));
    }
    let path = dir.join(format!("{app_id}.lock"));
    let dir = dir.to_path_buf();
    // flock blocks the thread; a dropped waiter's thread still ends, and the
    // lock it then takes is released with the file it returns to nobody.
    tokio::task::spawn_blocking(move || -> std::io::Result<File> {
        std::fs::create_dir_all(&dir)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|e| StoreError::Config(format!("lock task failed: {e}")))?
    .map_err(|e| StoreError::Config(format!("cannot take the app lock file: {e}")))
}

async fn advisory_lock(options: &AnyConnectOptions, app_id: &str) -> StoreResult<AnyConnection> {
    let mut conn = options.connect().await?;
    // Lets the server notice a waiter that went away (PostgreSQL 14 and
    // later); elsewhere the setting is unknown and the wait simply runs on.
    // (A plain `execute`, not `raw_sql`, keeps this future `Send` for the
    // spawned tasks that take locks.)
    let _ = sqlx::Executor::execute(&mut conn, "SET client_connection_check_interval = '1s'").await;
    sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
        .bind(APP_LOCK_CLASS)
        .bind(app_id)
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

impl Drop for AppLockGuard {
    fn drop(&mut self) {
        // The lock ends with its session: close it politely when a runtime is
        // at hand, else the dropped socket ends the session all the same.
        if let Held::Postgres(conn) = &mut self.held {
            if let (Some(conn), Ok(runtime)) = (conn.take(), tokio::runtime::Handle::try_current())
            {
                runtime.spawn(async move {
                    let _ = conn.close().await;
                });
            }
        }
    }
}
