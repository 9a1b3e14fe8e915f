//! `sharing`, `sharing:add`, `sharing:remove`, `apps:leave`.

use clap::Args;
use reqwest::Method;
use serde_json::json;

use super::client::{segment, Api};
use super::output::{print_json, str_field};
use super::AppArg;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    app: AppArg,
    #[arg(long)]
    json: bool,
}

pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let collaborators = api.get_all(&format!("/apps/{}/collaborators", segment(&name)))?;
    if args.json {
        return print_json(&collaborators);
    }
    println!("=== {name} Collaborators");
    for c in collaborators.as_array().into_iter().flatten() {
        let email = str_field(c, &["user", "email"]);
        let role = str_field(c, &["role"]);
        let pending = c["pending"].as_bool() == Some(true);
        let expires = str_field(c, &["invitation", "expires_at"]);
        let expired = c["invitation"]["expired"].as_bool() == Some(true);
        match (role, pending) {
            ("owner", _) => println!("{email}  (owner)"),
            (_, true) if expired => println!("{email}  (invitation expired {expires})"),
            (_, true) if !expires.is_empty() => {
                println!("{email}  (pending invitation, expires {expires})")
            }
            (_, true) => println!("{email}  (pending invitation)"),
            _ => println!("{email}"),
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Email of the person to share the app with.
    email: String,
    #[command(flatten)]
    app: AppArg,
    /// Do not email them about it.
    #[arg(long)]
    silent: bool,
}

pub fn add(args: AddArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let email = args.email.trim();
    eprint!("Adding {email} to {name} collaborators... ");
    let added = api
        .send_json(
            Method::POST,
            &format!("/apps/{}/collaborators", segment(&name)),
            &json!({ "user": email, "silent": args.silent }),
        )
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    let queued = str_field(&added, &["notification"]) == "queued";
    let who = str_field(&added, &["user", "email"]);
    // Mail is queued, not yet sent: say so, never more.
    match (added["pending"].as_bool() == Some(true), queued) {
        (true, true) => eprintln!(
            "{who} has no account yet; an invitation email was queued for them (it expires {}).",
            str_field(&added, &["invitation", "expires_at"])
        ),
        (true, false) => eprintln!(
            "{who} has no account yet; no email was sent (use sharing:resend to send the invitation)."
        ),
        (false, true) => eprintln!("A notification email to {who} was queued."),
        (false, false) => {}
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct ResendArgs {
    /// Email of the collaborator or invitee.
    email: String,
    #[command(flatten)]
    app: AppArg,
}

pub fn resend(args: ResendArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let email = args.email.trim();
    let path = format!(
        "/apps/{}/collaborators/{}/resend",
        segment(&name),
        segment(email)
    );
    let resent = api.send(api.request(Method::POST, &path)?)?;
    if resent["pending"].as_bool() == Some(true) {
        eprintln!(
            "A new invitation email to {email} was queued; the earlier link no longer works."
        );
    } else {
        eprintln!("The access email to {email} was queued again.");
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// Email of the person to remove.
    email: String,
    #[command(flatten)]
    app: AppArg,
}

pub fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let email = args.email.trim();
    eprint!("Removing {email} from {name} collaborators... ");
    let path = format!("/apps/{}/collaborators/{}", segment(&name), segment(email));
    api.send(api.request(Method::DELETE, &path)?)
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}

#[derive(Args, Debug)]
pub struct LeaveArgs {
    #[command(flatten)]
    app: AppArg,
}

pub fn leave(args: LeaveArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let me = api.get("/account")?;
    let email = str_field(&me, &["email"]);
    eprint!("Leaving {name}... ");
    let path = format!("/apps/{}/collaborators/{}", segment(&name), segment(email));
    api.send(api.request(Method::DELETE, &path)?)
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
