//! `ps`, `ps:restart`, `ps:stop`: the app's dynos.

use std::collections::BTreeMap;

use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::output::{print_json, str_field};
use super::AppArg;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Prints the dynos as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    app: AppArg,
}

#[derive(Args, Debug)]
pub struct RestartArgs {
    /// A dyno (`web.1`) or a process type (`web`); all dynos when left out.
    #[arg(value_name = "DYNO")]
    dyno: Option<String>,
    #[command(flatten)]
    app: AppArg,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// A dyno (`web.1`) or a process type (`web`).
    #[arg(value_name = "DYNO")]
    dyno: String,
    #[command(flatten)]
    app: AppArg,
}

/// `=== web (Basic): python3 app.py (2)` then one line per dyno, as Heroku prints.
fn print_dynos(app: &str, dynos: &[Value]) {
    if dynos.is_empty() {
        println!("No dynos on {app}");
        return;
    }
    let mut groups: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for dyno in dynos {
        let key = (
            str_field(dyno, &["type"]).to_string(),
            str_field(dyno, &["command"]).to_string(),
        );
        groups.entry(key).or_default().push(dyno);
    }
    for ((process_type, command), members) in groups {
        let size = str_field(members[0], &["size"]);
        println!("=== {process_type} ({size}): {command} ({})", members.len());
        println!();
        for dyno in members {
            println!(
                "{}: {} {}",
                str_field(dyno, &["name"]),
                str_field(dyno, &["state"]),
                str_field(dyno, &["updated_at"])
            );
        }
        println!();
    }
}

pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let dynos = api.get_all(&format!("/apps/{}/dynos", segment(&name)))?;
    if args.json {
        return print_json(&dynos);
    }
    print_dynos(
        &name,
        dynos.as_array().map(Vec::as_slice).unwrap_or_default(),
    );
    Ok(())
}

pub fn restart(args: RestartArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let (path, what) = match &args.dyno {
        Some(dyno) => (
            format!("/apps/{}/dynos/{}", segment(&name), segment(dyno)),
            dyno.clone(),
        ),
        None => (
            format!("/apps/{}/dynos", segment(&name)),
            "all dynos".into(),
        ),
    };
    eprint!("Restarting {what} on {name}... ");
    api.send(api.request(Method::DELETE, &path)?)
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}

pub fn stop(args: StopArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let path = format!(
        "/apps/{}/dynos/{}/actions/stop",
        segment(&name),
        segment(&args.dyno)
    );
    eprint!("Stopping {} on {name}... ", args.dyno);
    api.send_json(Method::POST, &path, &json!({}))
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
