//! `git:remote`, `git:clone` and `releases`.

use anyhow::{bail, Context};
use clap::Args;
use reqwest::Method;

use super::client::{segment, Api};
use super::output::{print_json, str_field};
use super::AppArg;

#[derive(Args, Debug)]
pub struct RemoteArgs {
    /// App whose repository the remote points at.
    #[arg(short = 'a', long = "app", env = "SLIPWAY_APP")]
    app: String,
    /// Name of the git remote to add or update.
    #[arg(short = 'r', long = "remote", default_value = "slipway")]
    remote: String,
}

/// The app's git URL, as the server gives it.
fn git_url(api: &Api, app: &str) -> anyhow::Result<String> {
    let app = api.get(&format!("/apps/{}", segment(app.trim())))?;
    let url = str_field(&app, &["git_url"]);
    if url.is_empty() {
        bail!("the server did not say where the app's repository is");
    }
    Ok(url.to_string())
}

fn git(args: &[&str]) -> anyhow::Result<std::process::ExitStatus> {
    std::process::Command::new("git")
        .args(args)
        .status()
        .context("cannot run git; is it installed?")
}

pub fn remote(args: RemoteArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let url = git_url(&api, &args.app)?;
    let exists = std::process::Command::new("git")
        .args(["remote", "get-url", &args.remote])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .context("cannot run git; is it installed?")?
        .success();
    let verb = if exists { "set-url" } else { "add" };
    if !git(&["remote", verb, &args.remote, &url])?.success() {
        bail!(
            "git could not set the remote {} (is this a git repository?)",
            args.remote
        );
    }
    println!("set git remote {} to {url}", args.remote);
    Ok(())
}

#[derive(Args, Debug)]
pub struct CloneArgs {
    /// App to clone.
    #[arg(short = 'a', long = "app", env = "SLIPWAY_APP")]
    app: String,
    /// Name of the git remote in the new checkout.
    #[arg(short = 'r', long = "remote", default_value = "slipway")]
    remote: String,
    /// Directory to clone into (default: the app's name).
    directory: Option<String>,
}

pub fn clone(args: CloneArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let url = git_url(&api, &args.app)?;
    let directory = args
        .directory
        .unwrap_or_else(|| args.app.trim().to_string());
    eprintln!("Cloning into '{directory}'...");
    if !git(&[
        "clone",
        "--quiet",
        "--origin",
        &args.remote,
        &url,
        &directory,
    ])?
    .success()
    {
        bail!("git clone of {} failed", args.app);
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct ReleasesArgs {
    #[command(flatten)]
    app: AppArg,
    /// How many releases to show, newest first.
    #[arg(short = 'n', long = "num", default_value_t = 15)]
    num: u32,
    #[arg(long)]
    json: bool,
}

pub fn releases(args: ReleasesArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let request = api
        .request(Method::GET, &format!("/apps/{}/releases", segment(&name)))?
        .header(
            "Range",
            format!("version ..; max={}, order=desc", args.num.max(1)),
        );
    let releases = api.send(request)?;
    if args.json {
        return print_json(&releases);
    }
    let list = releases.as_array().cloned().unwrap_or_default();
    let Some(current) = list.first() else {
        println!("=== {name} Releases");
        println!("{name} has no releases.");
        return Ok(());
    };
    println!("=== {name} Releases - Current: v{}", current["version"]);
    for release in &list {
        println!(
            "v{:<4} {:<40} {:<28} {}",
            release["version"],
            str_field(release, &["description"]),
            str_field(release, &["user", "email"]),
            str_field(release, &["created_at"])
        );
    }
    Ok(())
}
