//! `login`, `logout`, `auth:whoami`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};
use clap::Args;
use reqwest::Method;
use serde_json::json;

use super::client::{netrc_machine, Api};
use super::netrc;
use super::output::str_field;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Email to log in with (prompted for when absent).
    #[arg(long)]
    email: Option<String>,
}

/// Reads email and password: prompts on a terminal, else two lines of stdin.
fn read_credentials(email: Option<String>) -> anyhow::Result<(String, String)> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let email = match email {
            Some(email) => email,
            None => {
                eprint!("Email: ");
                std::io::stderr().flush()?;
                let mut line = String::new();
                stdin.lock().read_line(&mut line)?;
                line.trim().to_string()
            }
        };
        let password = rpassword::prompt_password("Password: ")?;
        return Ok((email, password));
    }
    let mut lines = stdin.lock().lines();
    let email = match email {
        Some(email) => email,
        None => lines
            .next()
            .transpose()?
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    let password = lines.next().transpose()?.unwrap_or_default();
    Ok((email, password.trim_end_matches('\r').to_string()))
}

pub fn login(args: LoginArgs) -> anyhow::Result<()> {
    let (email, password) = read_credentials(args.email)?;
    if email.is_empty() || password.is_empty() {
        bail!("email and password are required");
    }
    let api = Api::from_env()?.with_key(None);
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "this machine".into());
    let request = api
        .request(Method::POST, "/oauth/authorizations")?
        .basic_auth(&email, Some(&password))
        .json(&json!({ "description": format!("Slipway CLI login from {hostname}") }));
    let authorization = api.send(request).context("login failed")?;
    let token = str_field(&authorization, &["access_token", "token"]);
    let account_email = str_field(&authorization, &["user", "email"]);
    if token.is_empty() {
        bail!("the server did not return an API key");
    }

    let machine = netrc_machine(&api.base);
    netrc::store(
        &machine,
        Some(&netrc::Entry {
            machine: machine.clone(),
            login: account_email.to_string(),
            password: token.to_string(),
        }),
    )
    .context("cannot write ~/.netrc")?;
    println!("Logged in as {account_email}");
    Ok(())
}

pub fn logout() -> anyhow::Result<()> {
    let base = super::client::api_url()?;
    let machine = netrc_machine(&base);
    if netrc::find(&machine).is_some() {
        netrc::store(&machine, None).context("cannot write ~/.netrc")?;
    }
    eprintln!("Logging out... done");
    Ok(())
}

pub fn whoami() -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let account = api.get("/account")?;
    println!("{}", str_field(&account, &["email"]));
    Ok(())
}
