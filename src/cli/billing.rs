//! `invoices`, `invoices:info NUMBER`.

use clap::Args;

use super::client::{segment, Api};
use super::output::{print_json, str_field};

/// `1234` -> `$12.34`.
fn dollars(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(long)]
    json: bool,
}

pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let invoices = api.get_all("/account/invoices")?;
    if args.json {
        return print_json(&invoices);
    }
    let invoices = invoices.as_array().cloned().unwrap_or_default();
    if invoices.is_empty() {
        println!("You have no invoices.");
        return Ok(());
    }
    println!("{:<8}  {:<25}  {:>10}  State", "Number", "Period", "Total");
    for invoice in &invoices {
        println!(
            "{:<8}  {:<25}  {:>10}  {}",
            invoice["number"],
            format!(
                "{} – {}",
                str_field(invoice, &["period_start"]),
                str_field(invoice, &["period_end"])
            ),
            dollars(invoice["total"].as_i64().unwrap_or(0)),
            if invoice["state"] == 1 {
                "closed"
            } else {
                "accruing"
            }
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The invoice number (`YYYYMM`).
    number: String,
    #[arg(long)]
    json: bool,
}

pub fn info(args: InfoArgs) -> anyhow::Result<()> {
    let api = Api::from_env()?;
    let invoice = api.get(&format!("/account/invoices/{}", segment(&args.number)))?;
    if args.json {
        return print_json(&invoice);
    }
    println!(
        "=== Invoice {} ({} – {})",
        invoice["number"],
        str_field(&invoice, &["period_start"]),
        str_field(&invoice, &["period_end"])
    );
    for line in invoice["lines"].as_array().into_iter().flatten() {
        println!(
            "\n{}  {}",
            str_field(line, &["app", "name"]),
            dollars(line["total"].as_i64().unwrap_or(0))
        );
        for item in line["items"].as_array().into_iter().flatten() {
            println!(
                "  {:<40} {:<26} {:>5} h  {:>9}",
                str_field(item, &["addon", "name"]),
                str_field(item, &["plan", "name"]),
                item["hours"].as_i64().unwrap_or(0),
                dollars(item["cents"].as_i64().unwrap_or(0))
            );
        }
    }
    println!(
        "\nTotal: {}",
        dollars(invoice["total"].as_i64().unwrap_or(0))
    );
    Ok(())
}
