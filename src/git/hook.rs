//! `slipway git-hook pre-receive|post-receive`: what receive-pack runs as its
//! hooks. It hands the push to the server over loopback HTTP with the push's
//! token, prints the server's lines as they come (git shows them to the
//! pusher as `remote:` lines), and exits with the server's verdict.

use std::io::{BufRead, BufReader, Read, Write};

use anyhow::{bail, Context};

use super::push::HookRequest;

/// Marks the last line of a hook answer: the verdict, not output.
pub const VERDICT: char = '\u{1}';

#[derive(clap::Args, Debug)]
pub struct HookArgs {
    /// `pre-receive` or `post-receive`.
    #[arg(value_parser = ["pre-receive", "post-receive"])]
    hook: String,
}

pub fn run(args: HookArgs) -> anyhow::Result<()> {
    let url = std::env::var("SLIPWAY_HOOK_URL").context("SLIPWAY_HOOK_URL is not set")?;
    let token = std::env::var("SLIPWAY_PUSH_TOKEN").context("SLIPWAY_PUSH_TOKEN is not set")?;
    let mut updates = String::new();
    std::io::stdin().read_to_string(&mut updates)?;
    let request = HookRequest {
        token,
        updates,
        object_dir: std::env::var("GIT_OBJECT_DIRECTORY").ok(),
        alternate_object_dirs: std::env::var("GIT_ALTERNATE_OBJECT_DIRECTORIES").ok(),
        quarantine_path: std::env::var("GIT_QUARANTINE_PATH").ok(),
    };

    let client = reqwest::blocking::Client::builder().timeout(None).build()?;
    let response = client
        .post(format!("{url}/{}", args.hook))
        .json(&request)
        .send()
        .context("cannot reach the Slipway server to check this push")?;
    if !response.status().is_success() {
        bail!(
            "the Slipway server refused the {} hook ({})",
            args.hook,
            response.status()
        );
    }
    if relay(response)? {
        Ok(())
    } else {
        std::process::exit(1)
    }
}

/// Copies the answer's lines to stdout as they arrive; true when the verdict
/// line says the push may go on.
fn relay(response: impl Read) -> anyhow::Result<bool> {
    let mut reader = BufReader::new(response);
    let mut stdout = std::io::stdout();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            // An answer without a verdict is a refusal.
            return Ok(false);
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(verdict) = text.strip_prefix(VERDICT) {
            return Ok(verdict.trim() == "ok");
        }
        stdout.write_all(&line)?;
        stdout.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_decides() {
        assert!(relay("building\n\u{1}ok\n".as_bytes()).unwrap());
        assert!(!relay("no\n\u{1}refused\n".as_bytes()).unwrap());
        assert!(!relay("cut short\n".as_bytes()).unwrap());
    }
}
