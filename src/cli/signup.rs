//! `signup`: creates the account an invitation promised, from the terminal.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use clap::Args;
use reqwest::Method;
use serde_json::json;

use super::client::{netrc_machine, segment, Api};
use super::netrc;
use super::output::str_field;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("how").required(true))]
pub struct SignupArgs {
    /// The invitation's token, or the whole link from the email.
    #[arg(long, value_name = "TOKEN", group = "how")]
    invitation: Option<String>,
    /// No invitation email at hand: have a fresh link sent to this invited address.
    #[arg(long, group = "how")]
    email: Option<String>,
}

pub fn signup(args: SignupArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?.with_key(None);
    match (args.invitation, args.email) {
        (Some(invitation), _) => accept(&api, &invitation),
        (None, Some(email)) => request_link(&api, &email),
        (None, None) => bail!("give --invitation TOKEN, or --email ADDRESS"),
    }
}

/// Reads the new password: prompted twice on a terminal, else the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let password = rpassword::prompt_password("Choose a password: ")?;
    let again = rpassword::prompt_password("Password again: ")?;
    if password != again {
        bail!("the two passwords differ");
    }
    Ok(password)
}

fn accept(api: &Api, invitation: &str) -> anyhow::Result<()> {
    let token = crate::invitations::token_from_input(invitation);
    if token.is_empty() {
        bail!("the invitation token is empty");
    }
    let password = read_password()?;
    let done = api.send_json(
        Method::POST,
        &format!("/invitations/{}", segment(token)),
        &json!({ "password": password }),
    )?;
    let email = str_field(&done, &["account", "email"]);
    let key = str_field(&done, &["api_key"]);
    if key.is_empty() {
        bail!("the server did not return an API key");
    }

    let machine = netrc_machine(&api.base);
    netrc::store(
        &machine,
        Some(&netrc::Entry {
            machine: machine.clone(),
            login: email.to_string(),
            password: key.to_string(),
        }),
    )
    .context("cannot write ~/.netrc")?;
    println!("Signed up as {email}");
    let apps: Vec<&str> = done["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|app| app.as_str())
        .collect();
    if !apps.is_empty() {
        println!("You collaborate on: {}", apps.join(", "));
    }
    Ok(())
}

fn request_link(api: &Api, email: &str) -> anyhow::Result<()> {
    let answer = api.send_json(Method::POST, "/signup", &json!({ "email": email.trim() }))?;
    println!("{}", str_field(&answer, &["message"]));
    Ok(())
}
