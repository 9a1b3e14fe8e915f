//! `slipway serve`: opens the store, starts the workers and serves the API.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::addons::catalog::Catalog;
use crate::api::logs::LogSessions;
use crate::api::{self, AppState};
use crate::clock;
use crate::deploy::{self, Deployer};
use crate::git::{Git, GitConfig};
use crate::mail::{self, MailQueue, Transport};
use crate::router::{self, RouterState};
use crate::runtime::dyno::Timings;
use crate::runtime::local::LocalRuntime;
use crate::runtime::logs::LogBook;
use crate::runtime::SharedRuntime;
use crate::sandbox::{Loopback, Mode, Sandbox, SandboxArgs};
use crate::settings::Settings;
use crate::store::{self, Store};
use crate::tls::{self, TlsListener};

/// How long open router connections may finish after a shutdown signal.
const ROUTER_DRAIN: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address for the API and git.
    #[arg(long, env = "SLIPWAY_LISTEN", default_value = "127.0.0.1:5000")]
    pub listen: String,
    /// Where repositories, slugs, mail and the default database live.
    #[arg(long, env = "SLIPWAY_DATA_DIR", default_value = "./slipway-data")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; default: SQLite inside the data dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// `smtp://HOST:PORT` (or `smtps://`, with `user:pass@`); unset: `.eml`
    /// files in `<data-dir>/mail/`.
    #[arg(long, env = "SLIPWAY_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender of Slipway's mail.
    #[arg(
        long,
        env = "SLIPWAY_MAIL_FROM",
        default_value = "Slipway <slipway@localhost>"
    )]
    pub mail_from: String,
    /// How long an invitation link stays valid (`7d`, `36h`, ...).
    #[arg(long, env = "SLIPWAY_INVITATION_TTL", default_value = "7d")]
    pub invitation_ttl: String,
    /// A certificate authority (PEM) to trust for the SMTP server's TLS
    /// certificate, besides the public web roots.
    #[arg(long, env = "SLIPWAY_SMTP_CA_CERT")]
    pub smtp_ca_cert: Option<PathBuf>,
    /// How long one SMTP exchange may take before it counts as failed (and is retried).
    #[arg(long, env = "SLIPWAY_SMTP_TIMEOUT", default_value = "20s")]
    pub smtp_timeout: String,
    /// Address of the router that serves the apps.
    #[arg(long, env = "SLIPWAY_ROUTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub router_listen: String,
    /// Apps are reached at `APP.<apps-domain>`.
    #[arg(long, env = "SLIPWAY_APPS_DOMAIN", default_value = "localhost")]
    pub apps_domain: String,
    /// Base URL that clients use for the API and git, when it differs from
    /// the listen address (behind a proxy).
    #[arg(long, env = "SLIPWAY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// API requests each account may make per hour (a token bucket that
    /// refills evenly; `RateLimit-Remaining` tells clients what is left).
    #[arg(long, env = "SLIPWAY_RATE_LIMIT", default_value_t = api::rate_limit::DEFAULT_PER_HOUR)]
    pub rate_limit: u32,
    /// TLS certificate chain (PEM) for the API and git.
    #[arg(long, env = "SLIPWAY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Largest push (request body) accepted, in bytes.
    #[arg(long, env = "SLIPWAY_MAX_PUSH_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub max_push_bytes: u64,
    /// Longest a git request, including the build of a push, may take, in seconds.
    #[arg(long, env = "SLIPWAY_GIT_TIMEOUT", default_value_t = 900)]
    pub git_timeout: u64,
    /// TLS private key (PEM).
    #[arg(long, env = "SLIPWAY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A JSON file of add-on services and plans replacing the built-in catalog.
    #[arg(long, env = "SLIPWAY_ADDONS_CATALOG")]
    pub addons_catalog: Option<PathBuf>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// Resolves the database URL: the flag, else SQLite inside the data dir.
pub fn database_url(data_dir: &std::path::Path, url: Option<&str>) -> anyhow::Result<String> {
    match url {
        Some(url) => Ok(url.to_string()),
        None => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
            Ok(store::default_sqlite_url(data_dir))
        }
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data dir {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    make_private(&data_dir);
    let db_url = database_url(&data_dir, args.database_url.as_deref())?;
    let store = Store::open(&db_url)
        .await
        .with_context(|| format!("cannot open the store at {}", store::redact_url(&db_url)))?;

    let catalog = Catalog::load(args.addons_catalog.as_deref())
        .map_err(|e| anyhow::anyhow!("add-on catalog (SLIPWAY_ADDONS_CATALOG): {e}"))?;

    let sandbox = Sandbox::detect(args.sandbox.clone(), &data_dir).await;
    log_isolation(&sandbox);

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        _ => None,
    };
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (SLIPWAY_LISTEN)", args.listen))?;
    let api_addr = listener.local_addr()?;
    let router_listener = TcpListener::bind(&args.router_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (SLIPWAY_ROUTER_LISTEN)",
                args.router_listen
            )
        })?;
    let router_addr = router_listener.local_addr()?;

    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{api_addr}"));
    let mail_from: lettre::message::Mailbox = args
        .mail_from
        .parse()
        .with_context(|| format!("SLIPWAY_MAIL_FROM {:?} is not an address", args.mail_from))?;
    let invitation_ttl_ms = clock::parse_duration_ms(&args.invitation_ttl)
        .ok()
        .filter(|ms| *ms > 0)
        .with_context(|| {
            format!(
                "SLIPWAY_INVITATION_TTL {:?} is not a positive duration",
                args.invitation_ttl
            )
        })?;
    let smtp_timeout_ms = clock::parse_duration_ms(&args.smtp_timeout)
        .ok()
        .filter(|ms| *ms > 0)
        .with_context(|| {
            format!(
                "SLIPWAY_SMTP_TIMEOUT {:?} is not a positive duration",
                args.smtp_timeout
            )
        })?;
    let clock_offset_ms = clock::check_offset().map_err(anyhow::Error::msg)?;
    if clock_offset_ms != 0 {
        tracing::warn!(
            offset_ms = clock_offset_ms,
            "SLIPWAY_CLOCK_OFFSET is set: Slipway's clock is shifted"
        );
    }
    let settings = Arc::new(Settings {
        public_url: public_url.trim_end_matches('/').to_string(),
        apps_domain: args.apps_domain.clone(),
        router_port: router_addr.port(),
        data_dir: data_dir.clone(),
        mail_domain: mail_from.email.domain().to_string(),
        invitation_ttl_ms,
        isolation: sandbox.mode().label(),
    });

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let queue = MailQueue::default();
    let transport = Transport::from_settings(
        args.smtp_url.as_deref(),
        data_dir.join("mail"),
        std::time::Duration::from_millis(smtp_timeout_ms as u64),
        args.smtp_ca_cert.as_deref(),
    )?;
    let mail_worker = tokio::spawn(mail::run_worker(
        store.clone(),
        transport,
        mail_from,
        queue.clone(),
        shutdown_rx.clone(),
    ));

    let logs = LogBook::default();
    let runtime: SharedRuntime = Arc::new(LocalRuntime::new(
        data_dir.join("runtime"),
        logs.clone(),
        Timings::default(),
        sandbox.clone(),
    ));
    let deployer = Deployer::default();
    let deploy_task = tokio::spawn(deploy::run(
        deployer.clone(),
        store.clone(),
        runtime.clone(),
        logs.clone(),
        data_dir.clone(),
        shutdown_rx.clone(),
    ));
    let router_state = RouterState::new(
        store.clone(),
        runtime.clone(),
        logs.clone(),
        &args.apps_domain,
        router_addr.port(),
    );
    let router_task = tokio::spawn(router::serve(
        router_listener,
        router_state,
        closed(shutdown_rx.clone()),
    ));
    // The push hooks reach the server on a loopback port of their own, in
    // plain HTTP whatever the public listener speaks.
    let hook_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("cannot listen on loopback for the push hooks")?;
    let hook_addr = hook_listener.local_addr()?;
    let git = Git::new(
        &data_dir,
        GitConfig {
            max_push_bytes: args.max_push_bytes,
            timeout: Duration::from_secs(args.git_timeout.max(1)),
            hook_base_url: format!("http://{hook_addr}"),
            hook_bin: std::env::current_exe().context("cannot find the slipway binary")?,
        },
        sandbox.clone(),
    )
    .with_context(|| format!("cannot set up git under {}", data_dir.display()))?;

    let state = AppState {
        store: store.clone(),
        settings: settings.clone(),
        mail: queue,
        catalog: Arc::new(catalog),
        rate_limits: api::rate_limit::RateLimits::new(args.rate_limit),
        login_throttle: api::login_throttle::LoginThrottle::new(),
        runtime: runtime.clone(),
        logs,
        log_sessions: LogSessions::new(shutdown_rx.clone()),
        deployer,
        git,
    };
    // Handlers see the client's address (the login throttle counts by it).
    let app = api::router(state.clone()).into_make_service_with_connect_info::<api::ClientAddr>();
    let hooks = api::hook_router(state);
    let mut hooks_stop = shutdown_rx.clone();
    let hook_server = tokio::spawn(async move {
        let stop = async move {
            let _ = hooks_stop.changed().await;
        };
        axum::serve(hook_listener, hooks)
            .with_graceful_shutdown(stop)
            .await
    });

    tracing::info!(
        api = %public_url,
        git = %format!("{public_url}/APP.git"),
        router = %router_addr,
        data_dir = %data_dir.display(),
        database = %store::redact_url(&db_url),
        mail = if args.smtp_url.is_some() { "smtp" } else { "files" },
        sandbox = %sandbox.mode().label(),
        loopback = %sandbox.loopback().map_or("n/a", Loopback::label),
        "slipway listening"
    );

    let signalled = {
        let shutdown_tx = shutdown_tx.clone();
        async move {
            shutdown_signal().await;
            let _ = shutdown_tx.send(true);
        }
    };
    match tls {
        Some(config) => {
            axum::serve(TlsListener::new(listener, config)?, app)
                .with_graceful_shutdown(signalled)
                .await?
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(signalled)
                .await?
        }
    }
    let _ = shutdown_tx.send(true);
    // Requests still with the router get a few seconds while the dynos stop.
    let router_drained = async {
        if tokio::time::timeout(ROUTER_DRAIN, router_task)
            .await
            .is_err()
        {
            tracing::warn!("router connections still open at shutdown were cut");
        }
    };
    tokio::join!(router_drained, runtime.shutdown());
    let _ = deploy_task.await;
    let _ = mail_worker.await;
    let _ = hook_server.await;
    tracing::info!("slipway stopped");
    Ok(())
}

/// The data dir holds config values, invitation links in queued mail and
/// every app's repository: only the server's own user may enter it. What
/// builds and dynos need from it reaches them through the sandbox's mounts.
fn make_private(data_dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let private = std::fs::Permissions::from_mode(0o700);
    if let Err(error) = std::fs::set_permissions(data_dir, private) {
        tracing::warn!(
            data_dir = %data_dir.display(),
            %error,
            "cannot make the data dir private to the server's user"
        );
    }
}

/// Resolves once the shutdown flag is raised.
async fn closed(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|closed| *closed).await;
}

/// Says once, at start-up, how builds and dynos will run.
fn log_isolation(sandbox: &Sandbox) {
    match sandbox.mode() {
        Mode::On => {
            tracing::info!(
                limits = sandbox.enforcement(),
                "builds and dynos run isolated (bubblewrap, one user per app)"
            );
            if let Some(Loopback::Open(reason)) = sandbox.loopback() {
                tracing::warn!(
                    "dynos can reach services on this host's loopback ({reason}): \
                     install nftables to fence them off"
                );
            }
        }
        Mode::Off => tracing::warn!(
            "isolation is off (--no-sandbox): builds and dynos run as the server's own user"
        ),
        Mode::Unavailable(reason) => tracing::warn!(
            "builds and dynos are refused: this server cannot isolate them ({reason}); \
             start it with --no-sandbox (SLIPWAY_NO_SANDBOX=1) to run them anyway"
        ),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
