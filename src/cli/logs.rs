//! `logs [--tail] [-n N] [--dyno NAME] [--source app|heroku]`.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use reqwest::Method;
use serde_json::json;

use super::client::{segment, Api};
use super::AppArg;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// How many recent lines to show.
    #[arg(short = 'n', long = "num", default_value_t = 100)]
    num: u32,
    /// Keeps the stream open and prints new lines as they come.
    #[arg(short = 't', long)]
    tail: bool,
    /// Only this dyno (`web.1`), process type (`web`) or `router`.
    #[arg(short = 'd', long)]
    dyno: Option<String>,
    /// Only lines from `app` (the app and its API events) or `heroku` (the platform).
    #[arg(short = 's', long)]
    source: Option<String>,
    #[command(flatten)]
    app: AppArg,
}

pub fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let mut request = json!({ "lines": args.num, "tail": args.tail });
    if let Some(dyno) = &args.dyno {
        request["dyno"] = json!(dyno);
    }
    if let Some(source) = &args.source {
        request["source"] = json!(source);
    }
    let session = api.send_json(
        Method::POST,
        &format!("/apps/{}/log-sessions", segment(&name)),
        &request,
    )?;
    let Some(url) = session["logplex_url"].as_str() else {
        bail!("The server did not return a log stream URL.");
    };

    // A tail stays open for as long as the user wants it.
    let timeout = (!args.tail).then_some(Duration::from_secs(60));
    let response = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()?
        .get(url)
        .header("Accept", "text/event-stream")
        .send()
        .context("cannot open the log stream")?;
    if !response.status().is_success() {
        bail!("Log stream failed with HTTP {}", response.status());
    }
    print_events(BufReader::new(response))?;
    if args.tail {
        // A tail ends only when the server ends it: it is stopping, or this
        // account has lost access to the app, which the server then says.
        api.get(&format!("/apps/{}", segment(&name)))?;
        bail!("The log stream was closed by the server.");
    }
    Ok(())
}

/// Prints each `data:` line of a server-sent event stream.
fn print_events(reader: impl BufRead) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in reader.lines() {
        let line = line.context("the log stream broke off")?;
        if let Some(data) = line.strip_prefix("data:") {
            writeln!(out, "{}", data.strip_prefix(' ').unwrap_or(data))?;
            out.flush()?;
        }
    }
    Ok(())
}
