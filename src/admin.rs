//! `slipway admin ...`: operator work on the local data, with or without a
//! running server.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::clock;
use crate::secrets;
use crate::server::database_url;
use crate::store::accounts::{self, AccountState};
use crate::store::Store;
use crate::store::{self, apps, copy, outbox};

#[derive(clap::Args, Debug)]
pub struct AdminArgs {
    #[arg(
        long,
        env = "SLIPWAY_DATA_DIR",
        default_value = "./slipway-data",
        global = true
    )]
    pub data_dir: PathBuf,
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum AdminCommand {
    /// Creates an account (or activates an invited one) and prints a new API key.
    CreateUser {
        email: String,
        /// Read the account's password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Moves an app's add-on usage periods HOURS earlier, as if its paid
    /// add-ons had been running that much longer (corrections, and tests of
    /// billing that cannot wait for hours to pass).
    ShiftUsage {
        app: String,
        #[arg(long)]
        hours: u32,
    },
    /// Lists the mail outbox (queued and failed messages unless told
    /// otherwise), or queues a failed message again with `--retry ID`.
    Mail {
        /// Only messages in this state.
        #[arg(
            long,
            conflicts_with = "all",
            value_parser = ["queued", "sending", "sent", "failed", "cancelled"]
        )]
        state: Option<String>,
        /// Every message, sent and cancelled ones included.
        #[arg(long)]
        all: bool,
        /// Queue this failed or cancelled message (id or Message-ID) again, due now.
        #[arg(long, value_name = "ID")]
        retry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Copies a whole installation into an empty store, for example from the
    /// embedded SQLite to PostgreSQL, and checks the row count of every table.
    /// Stop the servers first: rows written during the copy are not copied.
    MigrateStore {
        /// The store to copy, e.g. `sqlite:///var/lib/slipway/slipway.db`.
        #[arg(long)]
        from: String,
        /// The empty store to fill, e.g. `postgres://slipway@db/slipway`.
        #[arg(long)]
        to: String,
    },
    /// Runs a command while holding an app's lock, so that no push, release,
    /// formation change or transfer of the app runs meanwhile, on any node.
    WithAppLock {
        app: String,
        /// The command and its arguments, after `--`.
        #[arg(required = true, last = true)]
        command: Vec<String>,
    },
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    // migrate-store names both of its stores; the others use the configured one.
    let store = match &args.command {
        AdminCommand::MigrateStore { from, to } => return migrate_store(from, to).await,
        _ => {
            if args.database_url.is_none() {
                require_installation(&args.data_dir)?;
            }
            let url = database_url(&args.data_dir, args.database_url.as_deref())?;
            Store::open(&url).await?
        }
    };
    match args.command {
        AdminCommand::MigrateStore { .. } => Ok(()),
        AdminCommand::WithAppLock { app, command } => with_app_lock(&store, &app, &command).await,
        AdminCommand::CreateUser {
            email,
            password_stdin,
        } => create_user(&store, &email, password_stdin).await,
        AdminCommand::ShiftUsage { app, hours } => shift_usage(&store, &app, hours).await,
        AdminCommand::Mail {
            retry: Some(id), ..
        } => retry_mail(&store, &id).await,
        AdminCommand::Mail {
            state, all, json, ..
        } => {
            let states: Vec<&str> = match (&state, all) {
                (Some(state), _) => vec![state.as_str()],
                (None, true) => vec![],
                (None, false) => vec!["queued", "sending", "failed"],
            };
            list_mail(&store, &states, json).await
        }
    }
}

/// The embedded store must exist already: opening a missing SQLite file
/// would quietly make a new, empty installation (say, when run from another
/// directory than the server's) and act on that one.
fn require_installation(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let url = store::default_sqlite_url(data_dir);
    match store::sqlite_path(&url) {
        Some(path) if !path.exists() => bail!(
            "no Slipway installation in {}: {} does not exist. Pass the server's \
             --data-dir (or SLIPWAY_DATA_DIR, or --database-url), or start \
             `slipway serve` with this data dir once",
            data_dir.display(),
            path.display()
        ),
        _ => Ok(()),
    }
}

async fn migrate_store(from: &str, to: &str) -> anyhow::Result<()> {
    // Opening an SQLite URL creates a missing file: a mistyped source would
    // look like an empty installation.
    if let Some(path) = store::sqlite_path(from) {
        if !path.exists() {
            bail!("the source database {} does not exist", path.display());
        }
    }
    let source = Store::open(from)
        .await
        .with_context(|| format!("cannot open the source {}", store::redact_url(from)))?;
    let target = Store::open(to)
        .await
        .with_context(|| format!("cannot open the target {}", store::redact_url(to)))?;

    let counts = copy::copy_store(&source, &target).await?;
    for table in &counts {
        println!("{:<20} {:>10} rows", table.table, table.rows);
    }
    let total: i64 = counts.iter().map(|t| t.rows).sum();
    println!(
        "Copied {total} rows in {} tables to {}; every count matches.",
        counts.len(),
        store::redact_url(to)
    );
    Ok(())
}

async fn with_app_lock(store: &Store, name: &str, command: &[String]) -> anyhow::Result<()> {
    let found = {
        let mut conn = store.read().await?;
        apps::find(&mut conn, name).await?
    };
    let Some(app) = found else {
        bail!("there is no app named {name}");
    };

    eprintln!("Waiting for the lock on {}...", app.name);
    let guard = store.locks().lock(&app.id).await?;
    eprintln!("Holding the lock on {}.", app.name);
    let status = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .status()
        .await
        .with_context(|| format!("cannot run {}", command[0]));
    drop(guard);

    let status = status?;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}

async fn create_user(store: &Store, raw_email: &str, password_stdin: bool) -> anyhow::Result<()> {
    let email = crate::email::normalize(raw_email).map_err(anyhow::Error::msg)?;
    let password_hash = if password_stdin {
        if std::io::stdin().is_terminal() {
            eprint!("Password: ");
        }
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']);
        secrets::check_new_password(password).map_err(anyhow::Error::msg)?;
        Some(secrets::hash_password(password).map_err(|e| anyhow::anyhow!("{e}"))?)
    } else {
        None
    };

    let now = clock::now_ms();
    let token = secrets::new_token(crate::TOKEN_PREFIX);
    let mut tx = store.write().await?;
    let (account, created) = accounts::insert_if_absent(
        tx.conn(),
        &email,
        password_hash.as_deref(),
        AccountState::Active,
        now,
    )
    .await?;
    if !created {
        if account.state == AccountState::Active {
            bail!("an account for {email} already exists");
        }
        // An invited address signs up: it keeps the access it was promised
        // by invitations that have not expired.
        crate::invitations::activate(&mut tx, &account, password_hash.as_deref(), now).await?;
    }
    accounts::insert_api_key(
        tx.conn(),
        &account.id,
        &secrets::token_digest(&token),
        "created by slipway admin create-user",
        now,
        None,
    )
    .await
    .context("cannot store the API key")?;
    tx.commit().await?;

    println!("{token}");
    Ok(())
}

async fn shift_usage(store: &Store, app: &str, hours: u32) -> anyhow::Result<()> {
    let mut tx = store.write().await?;
    let Some(found) = crate::store::apps::find(tx.conn(), app).await? else {
        bail!("no app named {app}");
    };
    let ms = i64::from(hours) * 3_600_000;
    let moved = crate::store::usage::shift_earlier(tx.conn(), &found.id, ms).await?;
    tx.commit().await?;
    println!(
        "moved {moved} usage periods of {} {hours} hours earlier",
        found.name
    );
    Ok(())
}

async fn retry_mail(store: &Store, id: &str) -> anyhow::Result<()> {
    let mut tx = store.write().await?;
    let Some(message) = outbox::find(tx.conn(), id.trim()).await? else {
        bail!("no message {id} in the outbox");
    };
    if !outbox::retry(tx.conn(), &message.id, clock::now_ms()).await? {
        bail!(
            "message {} is {}; only failed or cancelled messages can be retried",
            message.id,
            message.state
        );
    }
    tx.commit().await?;
    println!("Queued {} to {} again.", message.id, message.recipient);
    Ok(())
}

async fn list_mail(store: &Store, states: &[&str], json: bool) -> anyhow::Result<()> {
    let mut conn = store.read().await?;
    let messages = outbox::list(&mut conn, states).await?;
    if json {
        let values: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id,
                    "message_id": m.message_id,
                    "template": m.template,
                    "recipient": m.recipient,
                    "subject": m.subject,
                    "state": m.state,
                    "attempts": m.attempts,
                    "last_error": m.last_error,
                    "next_attempt_at": clock::rfc3339(m.next_attempt_at),
                    "created_at": clock::rfc3339(m.created_at),
                    "sent_at": m.sent_at.map(clock::rfc3339),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(());
    }
    if messages.is_empty() {
        println!("No messages.");
    }
    for m in messages {
        let error = m.last_error.as_deref().unwrap_or("");
        println!(
            "{}  {:<7} {:<28} {}  {}",
            m.id, m.state, m.recipient, m.subject, error
        );
    }
    Ok(())
}
