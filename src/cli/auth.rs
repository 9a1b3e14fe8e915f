//! `login`, `logout`, `auth:whoami`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{netrc_machine, segment, Api, ApiFailure};
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

/// Revokes the stored API key on the server, then forgets it locally. The
/// local logout happens even when the key could not be revoked, and then
/// says so.
pub fn logout() -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let machine = netrc_machine(&api.base);
    let Some(entry) = netrc::find(&machine) else {
        eprintln!("Not logged in to {machine}: nothing to do.");
        return Ok(());
    };
    let revoked = revoke_key(api.with_key(Some(entry.password.clone())), &entry.password);
    netrc::store(&machine, None).context("cannot write ~/.netrc")?;
    match revoked {
        Ok(()) => eprintln!("Logging out... done"),
        Err(NotRevoked::AlreadyInvalid) => eprintln!(
            "Logging out... done. The API key could not be revoked: the server no longer \
             accepts it (already revoked or expired)."
        ),
        Err(NotRevoked::Failed(reason)) => eprintln!(
            "Logging out... done, but the API key could NOT be revoked: {reason:#}.\n\
             It was removed from ~/.netrc, yet it keeps working until it expires; revoke it \
             (DELETE /oauth/authorizations/ID) once the server can be reached."
        ),
    }
    if std::env::var_os("SLIPWAY_API_KEY").is_some_and(|key| !key.is_empty()) {
        eprintln!("SLIPWAY_API_KEY is still set: unset it too.");
    }
    Ok(())
}

/// Why a key was not revoked.
enum NotRevoked {
    /// The server refuses the key (401): nothing is left to revoke.
    AlreadyInvalid,
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for NotRevoked {
    fn from(error: anyhow::Error) -> Self {
        match error.downcast_ref::<ApiFailure>() {
            Some(failure) if failure.status == StatusCode::UNAUTHORIZED => {
                NotRevoked::AlreadyInvalid
            }
            _ => NotRevoked::Failed(error),
        }
    }
}

/// Deletes the authorization behind `key`. The server lists each key's
/// token only to the caller using it, which is how this one is found.
fn revoke_key(api: Api, key: &str) -> Result<(), NotRevoked> {
    if key.is_empty() {
        return Err(NotRevoked::Failed(anyhow!("~/.netrc holds no key")));
    }
    let listed = api.get_all("/oauth/authorizations")?;
    let id = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|authorization| str_field(authorization, &["access_token", "token"]) == key)
        .map(|authorization| str_field(authorization, &["id"]).to_string())
        .filter(|id| !id.is_empty())
        .context("the server does not list it among the account's keys")?;
    let path = format!("/oauth/authorizations/{}", segment(&id));
    api.send(api.request(Method::DELETE, &path)?)?;
    Ok(())
}

pub fn whoami() -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let account = api.get("/account")?;
    println!("{}", str_field(&account, &["email"]));
    Ok(())
}
