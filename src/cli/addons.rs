//! `addons`, `addons:create`, `addons:destroy`, `addons:upgrade`, `addons:plans`.

use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::output::{print_json, str_field};
use super::AppArg;

/// `500` -> `$5/month`, `0` -> `free`.
pub fn monthly(cents: i64) -> String {
    if cents == 0 {
        "free".to_string()
    } else if cents % 100 == 0 {
        format!("${}/month", cents / 100)
    } else {
        format!("${}.{:02}/month", cents / 100, cents % 100)
    }
}

fn price_of(addon: &Value) -> String {
    monthly(addon["plan"]["price"]["cents"].as_i64().unwrap_or(0))
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    app: AppArg,
    /// Every add-on on every app you can see.
    #[arg(long, short = 'A')]
    all: bool,
    #[arg(long)]
    json: bool,
}

pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let app = if args.all {
        None
    } else {
        args.app.resolve().ok()
    };
    let addons = match &app {
        Some(app) => api.get_all(&format!("/apps/{}/addons", segment(app)))?,
        None => api.get_all("/addons")?,
    };
    if args.json {
        return print_json(&addons);
    }
    let addons = addons.as_array().cloned().unwrap_or_default();
    if addons.is_empty() {
        match &app {
            Some(app) => println!("No add-ons for app {app}."),
            None => println!("No add-ons."),
        }
        return Ok(());
    }
    println!(
        "{:<40}  {:<24}  {:<14}  {:<20}  State",
        "Add-on", "Plan", "Price", "App"
    );
    for addon in &addons {
        println!(
            "{:<40}  {:<24}  {:<14}  {:<20}  created",
            str_field(addon, &["name"]),
            str_field(addon, &["plan", "name"]),
            price_of(addon),
            str_field(addon, &["app", "name"]),
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// `SERVICE:PLAN`, or a service for its default plan.
    plan: String,
    #[command(flatten)]
    app: AppArg,
    /// Name of the add-on (generated when absent).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn create(args: CreateArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let mut body = json!({ "plan": { "name": args.plan } });
    if let Some(addon_name) = &args.name {
        body["name"] = json!(addon_name);
    }
    eprint!("Creating {} on {name}... ", args.plan);
    let addon = api
        .send_json(
            Method::POST,
            &format!("/apps/{}/addons", segment(&name)),
            &body,
        )
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("{}", price_of(&addon));
    if args.json {
        return print_json(&addon);
    }
    println!("Created {}", str_field(&addon, &["name"]));
    Ok(())
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    /// Name or id of the add-on.
    addon: String,
    #[command(flatten)]
    app: AppArg,
}

pub fn destroy(args: DestroyArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    eprint!("Destroying {} on {name}... ", args.addon);
    let path = format!("/apps/{}/addons/{}", segment(&name), segment(&args.addon));
    api.send_json(Method::DELETE, &path, &json!({ "force": false }))
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}

#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// Name or id of the add-on.
    addon: String,
    /// The new plan, `SERVICE:PLAN` or just `PLAN`.
    plan: String,
    #[command(flatten)]
    app: AppArg,
}

pub fn upgrade(args: UpgradeArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let path = format!("/apps/{}/addons/{}", segment(&name), segment(&args.addon));
    let plan = if args.plan.contains(':') {
        args.plan.clone()
    } else {
        let current = api.get(&path)?;
        format!(
            "{}:{}",
            str_field(&current, &["addon_service", "name"]),
            args.plan
        )
    };
    eprint!("Changing {} on {name} to {plan}... ", args.addon);
    let addon = api
        .send_json(Method::PATCH, &path, &json!({ "plan": { "name": plan } }))
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done, {}", price_of(&addon));
    Ok(())
}

#[derive(Args, Debug)]
pub struct PlansArgs {
    /// The add-on service.
    service: String,
    #[arg(long)]
    json: bool,
}

pub fn plans(args: PlansArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let plans = api.get(&format!("/addon-services/{}/plans", segment(&args.service)))?;
    if args.json {
        return print_json(&plans);
    }
    for plan in plans.as_array().into_iter().flatten() {
        let marker = if plan["default"].as_bool() == Some(true) {
            "default"
        } else {
            ""
        };
        println!(
            "{:<8} {:<30} {:<20} {}",
            marker,
            str_field(plan, &["name"]),
            str_field(plan, &["human_name"]),
            monthly(plan["price"]["cents"].as_i64().unwrap_or(0))
        );
    }
    Ok(())
}
