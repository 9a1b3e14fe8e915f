//! `apps`, `apps:create`, `info`, `apps:rename`, `apps:destroy`, `activity`.

use anyhow::bail;
use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::output::{human_size, print_fields, print_json, str_field};
use super::AppArg;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print the apps as JSON.
    #[arg(long)]
    json: bool,
}

pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let apps = api.get_all("/apps")?;
    if args.json {
        return print_json(&apps);
    }
    let me = api.get("/account")?;
    let my_email = str_field(&me, &["email"]);
    let apps = apps.as_array().cloned().unwrap_or_default();
    if apps.is_empty() {
        println!("You have no apps.");
        return Ok(());
    }
    let (owned, shared): (Vec<&Value>, Vec<&Value>) = apps
        .iter()
        .partition(|app| str_field(app, &["owner", "email"]) == my_email);
    if !owned.is_empty() {
        println!("=== {my_email} Apps");
        for app in owned {
            println!("{}", str_field(app, &["name"]));
        }
    }
    if !shared.is_empty() {
        println!("\n=== Collaborated Apps");
        for app in shared {
            println!(
                "{:<30}  {}",
                str_field(app, &["name"]),
                str_field(app, &["owner", "email"])
            );
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Name of the new app (generated when absent).
    name: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn create(args: CreateArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let body = match &args.name {
        Some(name) => json!({ "name": name }),
        None => json!({}),
    };
    eprint!("Creating {}... ", args.name.as_deref().unwrap_or("app"));
    let app = api
        .send_json(Method::POST, "/apps", &body)
        .inspect_err(|_| eprintln!("failed"))?;
    if args.name.is_some() {
        eprintln!("done");
    } else {
        eprintln!("done, {}", str_field(&app, &["name"]));
    }
    if args.json {
        return print_json(&app);
    }
    println!(
        "{} | {}",
        str_field(&app, &["web_url"]),
        str_field(&app, &["git_url"])
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    app: AppArg,
    #[arg(long)]
    json: bool,
}

pub fn info(args: InfoArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let app = api.get(&format!("/apps/{}", segment(&name)))?;
    let collaborators = api.get_all(&format!("/apps/{}/collaborators", segment(&name)))?;
    if args.json {
        return print_json(&json!({ "app": app, "collaborators": collaborators }));
    }
    let others: Vec<String> = collaborators
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| str_field(c, &["role"]) != "owner")
        .map(|c| str_field(c, &["user", "email"]).to_string())
        .collect();
    println!("=== {}", str_field(&app, &["name"]));
    let mut fields = vec![
        ("Web URL", vec![str_field(&app, &["web_url"]).to_string()]),
        ("Git Repo", vec![str_field(&app, &["git_url"]).to_string()]),
        ("Repo Size", vec![human_size(app["repo_size"].as_i64())]),
        ("Slug Size", vec![human_size(app["slug_size"].as_i64())]),
        (
            "Owner Email",
            vec![str_field(&app, &["owner", "email"]).to_string()],
        ),
    ];
    if !others.is_empty() {
        fields.push(("Collaborators", others));
    }
    if let Some(isolation) = app["isolation"].as_str() {
        fields.push(("Isolation", vec![isolation.to_string()]));
    }
    print_fields(&fields);
    Ok(())
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    /// The app's new name.
    new_name: String,
    #[command(flatten)]
    app: AppArg,
}

pub fn rename(args: RenameArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    eprint!("Renaming {name} to {}... ", args.new_name);
    let app = api
        .send_json(
            Method::PATCH,
            &format!("/apps/{}", segment(&name)),
            &json!({ "name": args.new_name }),
        )
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    println!(
        "{} | {}",
        str_field(&app, &["web_url"]),
        str_field(&app, &["git_url"])
    );
    update_remotes(&name, str_field(&app, &["git_url"]));
    Ok(())
}

/// Points every git remote of the current checkout that named the old app
/// at the new URL, so a rename does not strand them.
fn update_remotes(old_name: &str, new_url: &str) {
    let Ok(output) = std::process::Command::new("git")
        .args(["remote", "-v"])
        .output()
    else {
        return;
    };
    let listing = String::from_utf8_lossy(&output.stdout);
    let mut updated = std::collections::BTreeSet::new();
    for line in listing.lines() {
        let mut words = line.split_whitespace();
        let (Some(remote), Some(url)) = (words.next(), words.next()) else {
            continue;
        };
        if super::app_from_git_url(url).as_deref() == Some(old_name) && updated.insert(remote) {
            let status = std::process::Command::new("git")
                .args(["remote", "set-url", remote, new_url])
                .status();
            if matches!(status, Ok(s) if s.success()) {
                println!("Git remote {remote} updated");
            }
        }
    }
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    /// App to delete (or -a).
    app_name: Option<String>,
    #[command(flatten)]
    app: AppArg,
    /// The app's name again, to confirm.
    #[arg(long)]
    confirm: Option<String>,
}

pub fn destroy(args: DestroyArgs) -> anyhow::Result<()> {
    let name = match args.app_name {
        Some(name) => name,
        None => args.app.resolve()?,
    };
    if args.confirm.as_deref() != Some(name.as_str()) {
        bail!(
            "This deletes {name} and everything in it. Run again with --confirm {name} to proceed."
        );
    }
    let api = Api::from_env()?;
    eprint!("Destroying {name}... ");
    api.send(api.request(Method::DELETE, &format!("/apps/{}", segment(&name)))?)
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}

#[derive(Args, Debug)]
pub struct ActivityArgs {
    #[command(flatten)]
    app: AppArg,
    #[arg(long)]
    json: bool,
}

pub fn activity(args: ActivityArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let entries = api.get_all(&format!("/apps/{}/activity", segment(&name)))?;
    if args.json {
        return print_json(&entries);
    }
    println!("=== {name} Activity");
    for entry in entries.as_array().into_iter().flatten() {
        println!(
            "{}  {:<28} {}",
            str_field(entry, &["created_at"]),
            str_field(entry, &["user", "email"]),
            str_field(entry, &["description"])
        );
    }
    Ok(())
}
