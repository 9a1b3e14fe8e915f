//! `apps:transfer`, `apps:transfers`, `apps:transfer:accept`,
//! `apps:transfer:decline`, `apps:transfer:cancel`.

use clap::Args;
use reqwest::Method;
use serde_json::json;

use super::client::{segment, Api};
use super::output::{print_json, str_field};
use super::AppArg;

#[derive(Args, Debug)]
pub struct TransferArgs {
    /// Email of the new owner; they must already collaborate on the app.
    recipient: String,
    #[command(flatten)]
    app: AppArg,
}

pub fn transfer(args: TransferArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let recipient = args.recipient.trim();
    eprint!("Initiating transfer of {name} to {recipient}... ");
    let transfer = api
        .send_json(
            Method::POST,
            "/account/app-transfers",
            &json!({ "app": name, "recipient": recipient }),
        )
        .inspect_err(|_| eprintln!("failed"))?;
    if str_field(&transfer, &["state"]) == "pending" {
        eprintln!("email sent");
    } else {
        eprintln!("done");
    }
    println!("{}", str_field(&transfer, &["id"]));
    Ok(())
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(long)]
    json: bool,
}

pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let transfers = api.get_all("/account/app-transfers")?;
    if args.json {
        return print_json(&transfers);
    }
    let transfers = transfers.as_array().cloned().unwrap_or_default();
    if transfers.is_empty() {
        println!("No app transfers.");
        return Ok(());
    }
    for t in &transfers {
        println!(
            "{}  {:<30}  {} -> {}  {}",
            str_field(t, &["id"]),
            str_field(t, &["app", "name"]),
            str_field(t, &["owner", "email"]),
            str_field(t, &["recipient", "email"]),
            str_field(t, &["state"]),
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct AnswerArgs {
    /// The transfer id (see `slipway apps:transfers`).
    id: String,
}

fn answer(id: &str, state: &str, doing: &str) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let path = format!("/account/app-transfers/{}", segment(id.trim()));
    eprint!("{doing} transfer {}... ", id.trim());
    let transfer = api
        .send_json(Method::PATCH, &path, &json!({ "state": state }))
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    if state == "accepted" {
        eprintln!("You now own {}.", str_field(&transfer, &["app", "name"]));
    }
    Ok(())
}

pub fn accept(args: AnswerArgs) -> anyhow::Result<()> {
    answer(&args.id, "accepted", "Accepting")
}

pub fn decline(args: AnswerArgs) -> anyhow::Result<()> {
    answer(&args.id, "declined", "Declining")
}

pub fn cancel(args: AnswerArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let path = format!("/account/app-transfers/{}", segment(args.id.trim()));
    eprint!("Cancelling transfer {}... ", args.id.trim());
    api.send(api.request(Method::DELETE, &path)?)
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
