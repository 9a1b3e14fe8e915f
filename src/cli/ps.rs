//! `ps:scale`: `web=2 worker+1:Standard-1X`, or the current formation.

use anyhow::bail;
use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::output::str_field;
use super::AppArg;

#[derive(Args, Debug)]
pub struct ScaleArgs {
    /// `TYPE=N`, `TYPE+N`, `TYPE-N`, optionally `:SIZE`.
    #[arg(value_name = "TYPE=QUANTITY")]
    changes: Vec<String>,
    #[command(flatten)]
    app: AppArg,
}

/// `web+1:Standard-1X` -> `{"type":"web","quantity":"+1","size":"Standard-1X"}`.
fn parse_change(raw: &str) -> anyhow::Result<Value> {
    let (spec, size) = match raw.split_once(':') {
        Some((spec, size)) => (spec, Some(size)),
        None => (raw, None),
    };
    let split_at = spec.find(['=', '+', '-']);
    let (process_type, quantity) = match split_at {
        Some(i) => {
            let (t, q) = spec.split_at(i);
            (t, Some(q.strip_prefix('=').unwrap_or(q)))
        }
        None => (spec, None),
    };
    if process_type.is_empty() || (quantity.is_none() && size.is_none()) {
        bail!("Usage: slipway ps:scale web=2 worker+1 web:Standard-1X ({raw:?} is not understood)");
    }
    let mut update = json!({ "type": process_type });
    if let Some(quantity) = quantity {
        update["quantity"] = json!(quantity);
    }
    if let Some(size) = size {
        update["size"] = json!(size);
    }
    Ok(update)
}

fn describe(formation: &Value) -> Vec<String> {
    formation
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} at {}:{}",
                str_field(f, &["type"]),
                f["quantity"].as_i64().unwrap_or(0),
                str_field(f, &["size"])
            )
        })
        .collect()
}

pub fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    let name = args.app.resolve()?;
    let api = Api::from_env()?;
    let path = format!("/apps/{}/formation", segment(&name));
    if args.changes.is_empty() {
        let formation = api.get_all(&path)?;
        if formation.as_array().is_none_or(Vec::is_empty) {
            bail!("No process types on {name}.");
        }
        for f in formation.as_array().into_iter().flatten() {
            println!(
                "{}={}:{}",
                str_field(f, &["type"]),
                f["quantity"].as_i64().unwrap_or(0),
                str_field(f, &["size"])
            );
        }
        return Ok(());
    }

    let updates = args
        .changes
        .iter()
        .map(|c| parse_change(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    eprint!("Scaling dynos... ");
    let changed = api
        .send_json(Method::PATCH, &path, &json!({ "updates": updates }))
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done, now running {}", describe(&changed).join(", "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_change;
    use serde_json::json;

    #[test]
    fn changes_read_like_the_heroku_cli_sends_them() {
        assert_eq!(
            parse_change("web=2").unwrap(),
            json!({"type":"web","quantity":"2"})
        );
        assert_eq!(
            parse_change("web+1:Standard-1X").unwrap(),
            json!({"type":"web","quantity":"+1","size":"Standard-1X"})
        );
        assert_eq!(
            parse_change("worker-1").unwrap(),
            json!({"type":"worker","quantity":"-1"})
        );
        assert_eq!(
            parse_change("web:Basic").unwrap(),
            json!({"type":"web","size":"Basic"})
        );
        assert!(parse_change("web").is_err());
    }
}
