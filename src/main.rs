//! Slipway: a self-hosted application platform built around working on one
//! app together. One binary: `serve` runs the platform, `admin` does operator
//! work on local data, every other subcommand is the client.

// Row types mirror their tables and the access model names every action before
// each has an endpoint, so not every field and variant is read yet.
#![allow(
    dead_code,
    reason = "store rows and access actions are complete by design"
)]

mod access;
mod addons;
mod admin;
mod api;
mod app_config;
mod billing;
mod build;
mod cli;
mod clock;
mod deploy;
mod email;
mod git;
mod invitations;
mod locks;
mod mail;
mod names;
mod releases;
mod router;
mod runtime;
mod sandbox;
mod scaling;
mod secrets;
mod server;
mod settings;
mod sharing;
mod store;
mod tls;
mod transfers;

use clap::Parser;

/// Prefix of every API key Slipway issues.
pub const TOKEN_PREFIX: &str = "slw_";

#[derive(Parser, Debug)]
#[command(
    name = "slipway",
    version,
    about = "Slipway: deploy and share apps with git push"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Runs the platform: API, git and router.
    Serve(Box<server::ServeArgs>),
    /// Operator commands on the local data dir or database.
    Admin(admin::AdminArgs),
    /// Run by git during a push; hands the push to the server.
    #[command(name = "git-hook", hide = true)]
    GitHook(git::hook::HookArgs),
    #[command(flatten)]
    Client(cli::ClientCommand),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging();
            runtime().and_then(|rt| rt.block_on(server::run(*args)))
        }
        Command::Admin(args) => runtime().and_then(|rt| rt.block_on(admin::run(args))),
        Command::GitHook(args) => git::hook::run(args),
        Command::Client(command) => cli::run(command),
    };
    if let Err(error) = result {
        eprintln!(" !    {error:#}");
        std::process::exit(1);
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
