//! `config`, `config:get`, `config:set`, `config:unset`.

use anyhow::bail;
use clap::Args;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::client::{segment, Api};
use super::output::print_json;
use super::AppArg;

#[derive(Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    app: AppArg,
    /// Print the config vars as JSON.
    #[arg(long, conflicts_with = "shell")]
    json: bool,
    /// Print them as `KEY='value'` lines for a shell.
    #[arg(long, short = 's')]
    shell: bool,
}

fn config_path(app: &str) -> String {
    format!("/apps/{}/config-vars", segment(app))
}

/// `'it'\''s'`: a value quoted for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

pub fn show(args: ShowArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let vars = api.get(&config_path(&name))?;
    if args.json {
        return print_json(&vars);
    }
    let vars = vars.as_object().cloned().unwrap_or_default();
    if args.shell {
        for (key, value) in &vars {
            println!("{key}={}", shell_quote(value.as_str().unwrap_or_default()));
        }
        return Ok(());
    }
    println!("=== {name} Config Vars");
    print_aligned(vars.iter());
    Ok(())
}

fn print_aligned<'a>(vars: impl Iterator<Item = (&'a String, &'a Value)> + Clone) {
    let width = vars.clone().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
    for (key, value) in vars {
        println!(
            "{:<width$}{}",
            format!("{key}:"),
            value.as_str().unwrap_or_default()
        );
    }
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Name of the config var.
    key: String,
    #[command(flatten)]
    app: AppArg,
    #[arg(long, conflicts_with = "shell")]
    json: bool,
    #[arg(long, short = 's')]
    shell: bool,
}

pub fn get(args: GetArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let vars = api.get(&config_path(&name))?;
    let value = vars.get(&args.key).and_then(Value::as_str);
    if args.json {
        return print_json(&json!({ "key": args.key, "value": value }));
    }
    match (args.shell, value) {
        (true, Some(value)) => println!("{}={}", args.key, shell_quote(value)),
        (true, None) => println!("{}=", args.key),
        (false, value) => println!("{}", value.unwrap_or_default()),
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// `KEY=value` pairs.
    #[arg(required = true, value_name = "KEY=VALUE")]
    pairs: Vec<String>,
    #[command(flatten)]
    app: AppArg,
}

pub fn set(args: SetArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let mut changes = Map::new();
    for pair in &args.pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("{pair} is invalid. Must be in the format KEY=VALUE.");
        };
        changes.insert(key.to_string(), Value::String(value.to_string()));
    }
    let keys: Vec<&str> = changes.keys().map(String::as_str).collect();
    let api = Api::from_env()?;
    eprint!("Setting {} and restarting {name}... ", keys.join(", "));
    let vars = api
        .send_json(
            Method::PATCH,
            &config_path(&name),
            &Value::Object(changes.clone()),
        )
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done{}", release_suffix(&api, &name));
    let vars = vars.as_object().cloned().unwrap_or_default();
    let shown = changes
        .keys()
        .filter_map(|k| vars.get_key_value(k))
        .filter(|(_, v)| v.as_str().is_some_and(|v| !v.is_empty()));
    print_aligned(shown);
    Ok(())
}

#[derive(Args, Debug)]
pub struct UnsetArgs {
    /// Names of the config vars to remove.
    #[arg(required = true, value_name = "KEY")]
    keys: Vec<String>,
    #[command(flatten)]
    app: AppArg,
}

pub fn unset(args: UnsetArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let changes: Map<String, Value> = args.keys.iter().map(|k| (k.clone(), Value::Null)).collect();
    let api = Api::from_env()?;
    // Removing only names that are not set changes nothing: no release, no
    // restart, and the output says so instead of claiming one.
    let before = api.get(&config_path(&name))?;
    if !args.keys.iter().any(|k| before.get(k).is_some()) {
        eprintln!(
            "{} {} not set on {name}; nothing changed.",
            args.keys.join(", "),
            if args.keys.len() == 1 { "is" } else { "are" }
        );
        return Ok(());
    }
    eprint!(
        "Unsetting {} and restarting {name}... ",
        args.keys.join(", ")
    );
    api.send_json(Method::PATCH, &config_path(&name), &Value::Object(changes))
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done{}", release_suffix(&api, &name));
    Ok(())
}

/// `, v7` for the app's newest release, or nothing before the first one.
fn release_suffix(api: &Api, app: &str) -> String {
    let newest = api
        .request(Method::GET, &format!("/apps/{}/releases", segment(app)))
        .map(|r| r.header("Range", "version ..; order=desc,max=1"))
        .and_then(|r| api.send(r));
    match newest {
        Ok(releases) => releases[0]["version"]
            .as_i64()
            .map(|v| format!(", v{v}"))
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}
