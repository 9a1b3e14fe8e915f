//! Persistent state: one SQL schema, two engines.
//!
//! Queries are written once against sqlx's `Any` driver with `$N` placeholders,
//! which both SQLite and PostgreSQL accept. What must differ between the two
//! engines (migrations, locking) lives in this file and in `migrations/`;
//! the catalog queries that `copy` needs to list tables are its own.

pub mod accounts;
pub mod activity;
pub mod addons;
pub mod apps;
pub mod collaborators;
pub mod config_vars;
pub mod copy;
pub mod deployments;
pub mod formation;
pub mod invitations;
pub mod outbox;
pub mod releases;
pub mod transfers;
pub mod usage;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use crate::locks::AppLocks;

/// The SQL engine behind a store URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL scheme in {}: use sqlite:// or postgres://",
                redact_url(url)
            )))
        }
    }

    /// The engine behind an open connection.
    pub fn of(conn: &AnyConnection) -> Backend {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Ends the inner SELECT of a queue claim. PostgreSQL nodes skip rows that
    /// another node is claiming at the same moment; SQLite runs one writer at
    /// a time, so its conditional UPDATE is atomic without it.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migration {name} failed: {source}")]
    Migration { name: String, source: sqlx::Error },
}

impl StoreError {
    /// True when the error is a UNIQUE constraint violation (a lost insert race).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sql(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time; taking this lock before a write
    /// transaction turns would-be `SQLITE_BUSY` upgrades into an orderly queue
    /// inside this process (other processes are covered by the busy timeout).
    sqlite_writer: Option<Arc<Mutex<()>>>,
    locks: AppLocks,
}

/// A write transaction. Commit it explicitly; dropping it rolls back.
pub struct WriteTx<'a> {
    tx: Transaction<'static, Any>,
    _writer: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// Set on every SQLite connection: concurrent readers beside one writer,
/// waiting instead of failing when another process writes, and enforced keys.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
];

static SQLITE_MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_core",
        include_str!("../../migrations/sqlite/0001_core.sql"),
    ),
    (
        "0002_releases",
        include_str!("../../migrations/sqlite/0002_releases.sql"),
    ),
    (
        "0003_invitations",
        include_str!("../../migrations/sqlite/0003_invitations.sql"),
    ),
    (
        "0004_config_addons_billing",
        include_str!("../../migrations/sqlite/0004_config_addons_billing.sql"),
    ),
    (
        "0005_outbox_claims",
        include_str!("../../migrations/sqlite/0005_outbox_claims.sql"),
    ),
];
static POSTGRES_MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_core",
        include_str!("../../migrations/postgres/0001_core.sql"),
    ),
    (
        "0002_releases",
        include_str!("../../migrations/postgres/0002_releases.sql"),
    ),
    (
        "0003_invitations",
        include_str!("../../migrations/postgres/0003_invitations.sql"),
    ),
    (
        "0004_config_addons_billing",
        include_str!("../../migrations/postgres/0004_config_addons_billing.sql"),
    ),
    (
        "0005_outbox_claims",
        include_str!("../../migrations/postgres/0005_outbox_claims.sql"),
    ),
];

impl Store {
    /// Connects to `url`, creating an SQLite file when needed, and applies
    /// pending migrations.
    pub async fn open(url: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url_with_create(url),
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Config(format!("{}: {e}", redact_url(&url))))?
            .disable_statement_logging();

        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::Executor::execute(&mut *conn, *pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await?;

        let locks = match backend {
            Backend::Sqlite => AppLocks::files(&sqlite_lock_dir(&url)),
            Backend::Postgres => AppLocks::postgres(options.clone()),
        };
        let store = Store {
            pool,
            backend,
            sqlite_writer: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            locks,
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Per-app locks, shared by every node on this store.
    pub fn locks(&self) -> &AppLocks {
        &self.locks
    }

    /// A pooled connection for reads.
    pub async fn read(&self) -> StoreResult<PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// Begins a write transaction.
    pub async fn write(&self) -> StoreResult<WriteTx<'_>> {
        let writer = match &self.sqlite_writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }

    async fn migrate(&self) -> StoreResult<()> {
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            // Nodes starting together must not apply the same migration twice.
            sqlx::query("SELECT pg_advisory_lock(7460001)")
                .execute(&mut *conn)
                .await?;
        }
        let result = apply_migrations(&mut conn, migrations).await;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7460001)")
                .execute(&mut *conn)
                .await?;
        }
        result
    }
}

async fn apply_migrations(
    conn: &mut AnyConnection,
    migrations: &[(&str, &str)],
) -> StoreResult<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;

    for (name, sql) in migrations {
        let done: Option<(String,)> =
            sqlx::query_as("SELECT name FROM schema_migrations WHERE name = $1")
                .bind(*name)
                .fetch_optional(&mut *conn)
                .await?;
        if done.is_some() {
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|source| StoreError::Migration {
                name: name.to_string(),
                source,
            })?;
        sqlx::query("INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)")
            .bind(*name)
            .bind(crate::clock::now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}

/// The default store: an SQLite file inside the data dir.
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("slipway.db").display())
}

/// The file of an SQLite URL; None for in-memory databases and other engines.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
}

/// App lock files live in `locks/` beside the SQLite database file.
fn sqlite_lock_dir(url: &str) -> PathBuf {
    match sqlite_path(url).as_deref().and_then(Path::parent) {
        Some(dir) => dir.join("locks"),
        None => std::env::temp_dir().join("slipway-locks"),
    }
}

fn sqlite_url_with_create(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Hides the password part of a database URL so that it can be logged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("********"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
