//! `/account/invoices`: the caller's own charges, computed from the usage
//! periods of paid add-ons they paid for, one invoice per calendar month.
//! `/apps/{app}/charges`: the running month of one app, for its owner only.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::auth::{AppMember, Caller};
use super::error::{ApiError, ApiResult};
use super::path::Path;
use super::range::{paginate, RangeKey};
use super::AppState;
use crate::access::Action;
use crate::billing::{self, AppCharges, Invoice};
use crate::clock::{self, rfc3339};
use crate::store::usage;

fn date(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

fn invoice_id(account_id: &str, number: i64) -> String {
    let digest = Sha256::digest(format!("slipway-invoice:{account_id}:{number}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

fn lines_json(apps: &[AppCharges]) -> Value {
    apps.iter()
        .map(|app| {
            let items: Vec<Value> = app
                .items
                .iter()
                .map(|i| {
                    json!({
                        "addon": { "id": i.addon_id, "name": i.addon_name },
                        "plan": { "name": i.plan, "price": { "cents": i.price_cents, "unit": "month" } },
                        "started_at": rfc3339(i.started_at),
                        "ended_at": rfc3339(i.ended_at),
                        "hours": i.hours,
                        "cents": i.cents,
                    })
                })
                .collect();
            json!({
                "app": { "id": app.app_id, "name": app.app_name },
                "items": items,
                "total": app.total_cents,
            })
        })
        .collect()
}

/// Heroku's invoice shape (amounts in cents), plus the lines per app.
fn invoice_json(account_id: &str, invoice: &Invoice, now: i64) -> Value {
    json!({
        "charges_total": invoice.total_cents,
        "created_at": rfc3339(invoice.period_start),
        "credits_total": 0,
        "id": invoice_id(account_id, invoice.number),
        "lines": lines_json(&invoice.apps),
        "number": invoice.number,
        "period_end": date(invoice.period_end - 1),
        "period_start": date(invoice.period_start),
        // 0: the month is still running; 1: closed. Slipway collects no payments.
        "state": i64::from(invoice.closed),
        "total": invoice.total_cents,
        "updated_at": rfc3339(now.min(invoice.period_end)),
    })
}

async fn invoices_of(state: &AppState, account_id: &str, now: i64) -> ApiResult<Vec<Invoice>> {
    let mut conn = state.store.read().await?;
    let periods = usage::for_account(&mut conn, account_id).await?;
    Ok(billing::invoices(&periods, now))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    let now = clock::now_ms();
    let invoices = invoices_of(&state, &caller.account.id, now).await?;
    let account_id = caller.account.id.clone();
    Ok(
        paginate(&headers, "number", invoices, |i| RangeKey::Number(i.number))
            .map(|i| invoice_json(&account_id, &i, now))
            .into_response(),
    )
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<Value>> {
    let now = clock::now_ms();
    let invoices = invoices_of(&state, &caller.account.id, now).await?;
    let found = invoices
        .iter()
        .find(|i| {
            i.number.to_string() == number || invoice_id(&caller.account.id, i.number) == number
        })
        .ok_or_else(|| ApiError::not_found("Couldn't find that invoice."))?;
    Ok(Json(invoice_json(&caller.account.id, found, now)))
}

/// What the app has cost its current owner this month so far.
pub async fn app_charges(
    State(state): State<AppState>,
    member: AppMember,
) -> ApiResult<Json<Value>> {
    member.require(Action::ViewCharges)?;
    let now = clock::now_ms();
    let mut conn = state.store.read().await?;
    let periods: Vec<_> = usage::for_app(&mut conn, &member.app.id)
        .await?
        .into_iter()
        .filter(|p| p.account_id == member.app.owner_id)
        .collect();
    let (month_start, month_end) = billing::month_bounds(now);
    let current = billing::invoices(&periods, now)
        .into_iter()
        .find(|i| i.period_start == month_start);
    let apps = current.map(|i| i.apps).unwrap_or_default();
    Ok(Json(json!({
        "app": { "id": member.app.id, "name": member.app.name },
        "period_start": date(month_start),
        "period_end": date(month_end - 1),
        "lines": lines_json(&apps),
        "total": apps.iter().map(|a| a.total_cents).sum::<i64>(),
    })))
}
