//! What paid add-ons cost, and who pays.
//!
//! A paid add-on accrues on the account that owns its app, as usage periods
//! (see `store::usage`). Invoices are computed from those periods for one
//! calendar month (UTC) each, given `now`, so the arithmetic is testable
//! without waiting: an add-on costs its monthly price / 720 per hour, hours
//! rounded to the nearest whole hour, and never more than the monthly price
//! per period and month.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};

use crate::store::addons::{self, Addon};
use crate::store::apps::App;
use crate::store::usage::{self, NewPeriod, UsagePeriod};
use crate::store::{StoreError, WriteTx};

pub const HOURS_PER_MONTH: i64 = 720;
const HOUR_MS: i64 = 3_600_000;

/// Starts charging `payer` for a paid add-on (free ones cost nothing).
pub async fn start(
    tx: &mut WriteTx<'_>,
    app: &App,
    addon: &Addon,
    payer_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    if addon.price_cents <= 0 {
        return Ok(());
    }
    let period = NewPeriod {
        addon_id: &addon.id,
        addon_name: &addon.name,
        app_id: &app.id,
        app_name: &app.name,
        account_id: payer_id,
        service: &addon.service,
        plan: &addon.plan,
        price_cents: addon.price_cents,
    };
    usage::open(tx.conn(), period, now).await
}

/// Stops charging for the add-on.
pub async fn stop(tx: &mut WriteTx<'_>, addon_id: &str, now: i64) -> Result<(), StoreError> {
    usage::close_for_addon(tx.conn(), addon_id, now).await
}

/// The app changes owner: what accrued so far stays with the old owner,
/// what accrues from now on goes to the new one.
pub async fn move_to_owner(
    tx: &mut WriteTx<'_>,
    app: &App,
    new_owner_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    usage::close_for_app(tx.conn(), &app.id, now).await?;
    for addon in addons::list_for_app(tx.conn(), &app.id).await? {
        start(tx, app, &addon, new_owner_id, now).await?;
    }
    Ok(())
}

/// The app is deleted: its add-ons stop accruing.
pub async fn stop_app(tx: &mut WriteTx<'_>, app_id: &str, now: i64) -> Result<(), StoreError> {
    usage::close_for_app(tx.conn(), app_id, now).await
}

/// One add-on's charge within one month.
#[derive(Debug, Clone, PartialEq)]
pub struct LineItem {
    pub addon_id: String,
    pub addon_name: String,
    pub plan: String,
    pub price_cents: i64,
    pub started_at: i64,
    pub ended_at: i64,
    pub hours: i64,
    pub cents: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppCharges {
    pub app_id: String,
    pub app_name: String,
    pub items: Vec<LineItem>,
    pub total_cents: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// `YYYYMM` of the month it covers.
    pub number: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub apps: Vec<AppCharges>,
    pub total_cents: i64,
    /// False while the month is still running.
    pub closed: bool,
}

pub fn billed_hours(duration_ms: i64) -> i64 {
    (duration_ms.max(0) + HOUR_MS / 2) / HOUR_MS
}

pub fn charge_cents(price_cents: i64, hours: i64) -> i64 {
    let prorated = (price_cents * hours + HOURS_PER_MONTH / 2) / HOURS_PER_MONTH;
    prorated.min(price_cents)
}

/// The first instant of the month holding `ms`, and of the month after.
pub fn month_bounds(ms: i64) -> (i64, i64) {
    let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let start = Utc
        .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let (year, month) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    let end = Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    (start.timestamp_millis(), end.timestamp_millis())
}

fn invoice_number(month_start: i64) -> i64 {
    let at = DateTime::<Utc>::from_timestamp_millis(month_start).unwrap_or_default();
    i64::from(at.year()) * 100 + i64::from(at.month())
}

/// Splits a period at month boundaries, up to `now`: (month start, item).
fn items_of(period: &UsagePeriod, now: i64) -> Vec<(i64, LineItem)> {
    let end = period.ended_at.unwrap_or(now).min(now);
    let mut items = Vec::new();
    let mut from = period.started_at;
    while from < end {
        let (month_start, month_end) = month_bounds(from);
        let to = end.min(month_end);
        let hours = billed_hours(to - from);
        items.push((
            month_start,
            LineItem {
                addon_id: period.addon_id.clone(),
                addon_name: period.addon_name.clone(),
                plan: format!("{}:{}", period.service, period.plan),
                price_cents: period.price_cents,
                started_at: from,
                ended_at: to,
                hours,
                cents: charge_cents(period.price_cents, hours),
            },
        ));
        from = to;
    }
    items
}

/// The invoices of one account's usage periods as of `now`, oldest first.
pub fn invoices(periods: &[UsagePeriod], now: i64) -> Vec<Invoice> {
    // month start -> app id -> (latest app name, items)
    let mut months: BTreeMap<i64, BTreeMap<String, (String, Vec<LineItem>)>> = BTreeMap::new();
    for period in periods {
        for (month_start, item) in items_of(period, now) {
            let entry = months
                .entry(month_start)
                .or_default()
                .entry(period.app_id.clone())
                .or_insert_with(|| (period.app_name.clone(), Vec::new()));
            entry.0 = period.app_name.clone();
            entry.1.push(item);
        }
    }
    let (current_month, _) = month_bounds(now);
    months
        .into_iter()
        .map(|(month_start, apps)| {
            let apps: Vec<AppCharges> = apps
                .into_iter()
                .map(|(app_id, (app_name, items))| AppCharges {
                    total_cents: items.iter().map(|i| i.cents).sum(),
                    app_id,
                    app_name,
                    items,
                })
                .collect();
            Invoice {
                number: invoice_number(month_start),
                period_start: month_start,
                period_end: month_bounds(month_start).1,
                total_cents: apps.iter().map(|a| a.total_cents).sum(),
                apps,
                closed: month_start < current_month,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(app: &str, price: i64, start: i64, end: Option<i64>) -> UsagePeriod {
        UsagePeriod {
            id: format!("p-{start}"),
            addon_id: format!("addon-{app}"),
            addon_name: format!("db-{app}"),
            app_id: app.to_string(),
            app_name: app.to_string(),
            account_id: "alice".to_string(),
            service: "postgresql".to_string(),
            plan: "essential-0".to_string(),
            price_cents: price,
            started_at: start,
            ended_at: end,
        }
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn charges_accrue_by_the_hour_up_to_the_monthly_price() {
        assert_eq!(charge_cents(720, 1), 1);
        assert_eq!(charge_cents(500, 10), 7);
        assert_eq!(charge_cents(500, 720), 500);
        assert_eq!(charge_cents(500, 744), 500);
        assert_eq!(billed_hours(HOUR_MS * 10 + 1000), 10);
        assert_eq!(billed_hours(HOUR_MS / 2 + 1), 1);
        assert_eq!(billed_hours(HOUR_MS / 2 - 1), 0);
    }

    #[test]
    fn periods_split_at_month_boundaries_and_stop_at_now() {
        let start = at(2026, 11, 30, 20);
        let now = at(2026, 12, 1, 6);
        let invoices = invoices(&[period("demo", 7200, start, None)], now);
        assert_eq!(invoices.len(), 2);
        assert_eq!(invoices[0].number, 202611);
        assert!(invoices[0].closed);
        assert_eq!(invoices[0].apps[0].items[0].hours, 4);
        assert_eq!(invoices[0].total_cents, 40);
        assert_eq!(invoices[1].number, 202612);
        assert!(!invoices[1].closed);
        assert_eq!(invoices[1].total_cents, 60);
    }

    #[test]
    fn a_whole_month_costs_the_monthly_price() {
        let periods = [period(
            "demo",
            500,
            at(2026, 10, 1, 0),
            Some(at(2026, 11, 1, 0)),
        )];
        let invoices = invoices(&periods, at(2026, 12, 4, 0));
        assert_eq!(invoices.len(), 1);
        assert_eq!(invoices[0].total_cents, 500);
        assert_eq!(month_bounds(at(2026, 12, 31, 23)).1, at(2027, 1, 1, 0));
    }
}
