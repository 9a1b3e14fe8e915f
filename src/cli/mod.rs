//! The `slipway` client: Heroku's command names against a Slipway server.

mod addons;
mod apps;
mod auth;
mod billing;
mod client;
mod config;
mod dynos;
mod git;
mod logs;
mod netrc;
mod output;
mod ps;
mod sharing;
mod signup;
mod transfers;

use anyhow::{bail, Context};
use clap::Args;

/// Which app a command is about: `-a APP`, else the git remote (`-r`).
#[derive(Args, Debug, Clone, Default)]
pub struct AppArg {
    /// App to run the command against.
    #[arg(short = 'a', long = "app", env = "SLIPWAY_APP")]
    pub app: Option<String>,
    /// Git remote that names the app (default `slipway`).
    #[arg(short = 'r', long = "remote")]
    pub remote: Option<String>,
}

impl AppArg {
    pub fn resolve(&self) -> anyhow::Result<String> {
        if let Some(app) = &self.app {
            return Ok(app.trim().to_string());
        }
        let remote = self.remote.as_deref().unwrap_or("slipway");
        let output = std::process::Command::new("git")
            .args(["remote", "get-url", remote])
            .stderr(std::process::Stdio::null())
            .output()
            .context("cannot run git to find the app's remote")?;
        let url = String::from_utf8_lossy(&output.stdout).trim().to_string();
        match app_from_git_url(&url) {
            Some(app) if output.status.success() => Ok(app),
            _ => bail!(
                "No app specified. Use -a APP, or run inside a checkout with a git remote \
                 named {remote} (see `slipway git:remote`)."
            ),
        }
    }
}

/// `http://host:port/demo-app.git` -> `demo-app`.
pub fn app_from_git_url(url: &str) -> Option<String> {
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    let name = last.strip_suffix(".git")?;
    (!name.is_empty()).then(|| name.to_string())
}

#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Creates the account an invitation promised and stores its API key in ~/.netrc.
    Signup(signup::SignupArgs),
    /// Logs in with email and password and stores the API key in ~/.netrc.
    Login(auth::LoginArgs),
    /// Revokes the stored API key on the server and removes it from ~/.netrc.
    Logout,
    /// Shows the account the CLI is logged in as.
    #[command(name = "auth:whoami", visible_alias = "whoami")]
    Whoami,
    /// Lists the apps you own and the apps shared with you.
    #[command(name = "apps", visible_alias = "apps:list")]
    Apps(apps::ListArgs),
    /// Creates an app.
    #[command(name = "apps:create", visible_alias = "create")]
    AppsCreate(apps::CreateArgs),
    /// Shows an app: URLs, sizes, owner and collaborators.
    #[command(name = "info", visible_alias = "apps:info")]
    Info(apps::InfoArgs),
    /// Renames an app (owner only).
    #[command(name = "apps:rename", visible_alias = "rename")]
    AppsRename(apps::RenameArgs),
    /// Deletes an app and everything it holds (owner only).
    #[command(name = "apps:destroy", visible_alias = "destroy")]
    AppsDestroy(apps::DestroyArgs),
    /// Lists the people an app is shared with.
    #[command(name = "sharing", visible_alias = "access")]
    Sharing(sharing::ListArgs),
    /// Shares an app with someone by email.
    #[command(name = "sharing:add", visible_alias = "access:add")]
    SharingAdd(sharing::AddArgs),
    /// Stops sharing an app with someone.
    #[command(name = "sharing:remove", visible_alias = "access:remove")]
    SharingRemove(sharing::RemoveArgs),
    /// Sends someone's invitation (with a new link) or access email again.
    #[command(name = "sharing:resend", visible_alias = "access:resend")]
    SharingResend(sharing::ResendArgs),
    /// Removes yourself from an app shared with you.
    #[command(name = "apps:leave", visible_alias = "leave")]
    AppsLeave(sharing::LeaveArgs),
    /// Shows an app's config vars.
    #[command(name = "config", visible_alias = "config:list")]
    Config(config::ShowArgs),
    /// Prints the value of one config var.
    #[command(name = "config:get")]
    ConfigGet(config::GetArgs),
    /// Sets config vars and restarts the app.
    #[command(name = "config:set", visible_alias = "config:add")]
    ConfigSet(config::SetArgs),
    /// Removes config vars and restarts the app.
    #[command(name = "config:unset", visible_alias = "config:remove")]
    ConfigUnset(config::UnsetArgs),
    /// Scales process types (`web=2 worker+1:Standard-1X`), or shows the formation.
    #[command(name = "ps:scale", visible_aliases = ["scale", "dyno:scale"])]
    PsScale(ps::ScaleArgs),
    /// Lists the add-ons of an app, or of every app you can see.
    #[command(name = "addons", visible_alias = "addons:list")]
    Addons(addons::ListArgs),
    /// Adds an add-on (paid plans: owner only).
    #[command(name = "addons:create", visible_alias = "addons:add")]
    AddonsCreate(addons::CreateArgs),
    /// Removes an add-on (paid plans: owner only).
    #[command(name = "addons:destroy", visible_alias = "addons:remove")]
    AddonsDestroy(addons::DestroyArgs),
    /// Moves an add-on to another plan (to or from a paid plan: owner only).
    #[command(name = "addons:upgrade", visible_alias = "addons:downgrade")]
    AddonsUpgrade(addons::UpgradeArgs),
    /// Lists the plans of an add-on service and their monthly price.
    #[command(name = "addons:plans")]
    AddonsPlans(addons::PlansArgs),
    /// Lists your invoices: the charges of paid add-ons on apps you own.
    #[command(name = "invoices")]
    Invoices(billing::ListArgs),
    /// Shows one invoice with its lines per app.
    #[command(name = "invoices:info")]
    InvoicesInfo(billing::InfoArgs),
    /// Offers the app to a collaborator, who becomes its owner on accepting (owner only).
    #[command(name = "apps:transfer")]
    AppsTransfer(transfers::TransferArgs),
    /// Lists the app transfers you made or received.
    #[command(name = "apps:transfers")]
    AppsTransfers(transfers::ListArgs),
    /// Accepts an app transfer offered to you.
    #[command(name = "apps:transfer:accept")]
    AppsTransferAccept(transfers::AnswerArgs),
    /// Declines an app transfer offered to you.
    #[command(name = "apps:transfer:decline")]
    AppsTransferDecline(transfers::AnswerArgs),
    /// Withdraws an app transfer you offered.
    #[command(name = "apps:transfer:cancel")]
    AppsTransferCancel(transfers::AnswerArgs),
    /// Lists the app's dynos and their state.
    #[command(name = "ps", visible_alias = "ps:list")]
    Ps(dynos::ListArgs),
    /// Restarts all dynos, one dyno (`web.1`) or one process type (`web`).
    #[command(name = "ps:restart", visible_aliases = ["restart", "dyno:restart"])]
    PsRestart(dynos::RestartArgs),
    /// Stops a dyno; the formation starts a fresh one in its place.
    #[command(name = "ps:stop", visible_aliases = ["stop", "dyno:stop"])]
    PsStop(dynos::StopArgs),
    /// Shows the app's recent log lines, or follows them with --tail.
    #[command(name = "logs")]
    Logs(logs::LogsArgs),
    /// Shows who changed what on an app.
    #[command(name = "activity")]
    Activity(apps::ActivityArgs),
    /// Adds or updates a git remote that pushes to an app.
    #[command(name = "git:remote")]
    GitRemote(git::RemoteArgs),
    /// Clones an app's repository and sets its remote.
    #[command(name = "git:clone")]
    GitClone(git::CloneArgs),
    /// Lists an app's releases, newest first.
    #[command(name = "releases")]
    Releases(git::ReleasesArgs),
}

pub fn run(command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Signup(args) => signup::signup(args),
        ClientCommand::Login(args) => auth::login(args),
        ClientCommand::Logout => auth::logout(),
        ClientCommand::Whoami => auth::whoami(),
        ClientCommand::Apps(args) => apps::list(args),
        ClientCommand::AppsCreate(args) => apps::create(args),
        ClientCommand::Info(args) => apps::info(args),
        ClientCommand::AppsRename(args) => apps::rename(args),
        ClientCommand::AppsDestroy(args) => apps::destroy(args),
        ClientCommand::Activity(args) => apps::activity(args),
        ClientCommand::Sharing(args) => sharing::list(args),
        ClientCommand::SharingAdd(args) => sharing::add(args),
        ClientCommand::SharingRemove(args) => sharing::remove(args),
        ClientCommand::SharingResend(args) => sharing::resend(args),
        ClientCommand::AppsLeave(args) => sharing::leave(args),
        ClientCommand::Config(args) => config::show(args),
        ClientCommand::AppsTransfer(args) => transfers::transfer(args),
        ClientCommand::AppsTransfers(args) => transfers::list(args),
        ClientCommand::AppsTransferAccept(args) => transfers::accept(args),
        ClientCommand::AppsTransferDecline(args) => transfers::decline(args),
        ClientCommand::AppsTransferCancel(args) => transfers::cancel(args),
        ClientCommand::Invoices(args) => billing::list(args),
        ClientCommand::InvoicesInfo(args) => billing::info(args),
        ClientCommand::Addons(args) => addons::list(args),
        ClientCommand::AddonsCreate(args) => addons::create(args),
        ClientCommand::AddonsDestroy(args) => addons::destroy(args),
        ClientCommand::AddonsUpgrade(args) => addons::upgrade(args),
        ClientCommand::AddonsPlans(args) => addons::plans(args),
        ClientCommand::PsScale(args) => ps::scale(args),
        ClientCommand::Ps(args) => dynos::list(args),
        ClientCommand::PsRestart(args) => dynos::restart(args),
        ClientCommand::PsStop(args) => dynos::stop(args),
        ClientCommand::Logs(args) => logs::logs(args),
        ClientCommand::ConfigGet(args) => config::get(args),
        ClientCommand::ConfigSet(args) => config::set(args),
        ClientCommand::ConfigUnset(args) => config::unset(args),
        ClientCommand::GitRemote(args) => git::remote(args),
        ClientCommand::GitClone(args) => git::clone(args),
        ClientCommand::Releases(args) => git::releases(args),
    }
}

#[cfg(test)]
mod tests {
    use super::app_from_git_url;

    #[test]
    fn app_names_come_from_git_urls() {
        assert_eq!(
            app_from_git_url("http://127.0.0.1:5000/demo-app.git").as_deref(),
            Some("demo-app")
        );
        assert_eq!(app_from_git_url("https://h/x.git/").as_deref(), Some("x"));
        assert_eq!(app_from_git_url("https://h/x"), None);
    }
}
