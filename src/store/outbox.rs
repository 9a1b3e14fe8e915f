//! The mail outbox: messages are written here in the same transaction as the
//! change that caused them, and removed from the queue only once delivered.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: String,
    pub message_id: String,
    pub template: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

pub struct NewMessage<'a> {
    pub template: &'a str,
    pub recipient: &'a str,
    pub subject: String,
    pub body_text: String,
}

const COLUMNS: &str = "id, message_id, template, recipient, subject, body_text, state, attempts, \
     next_attempt_at, last_error, created_at, sent_at";

fn message_from_row(row: &AnyRow) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        template: row.try_get("template")?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        body_text: row.try_get("body_text")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

/// Queues a message; `domain` names the host part of its Message-ID.
pub async fn enqueue(
    conn: &mut AnyConnection,
    message: NewMessage<'_>,
    domain: &str,
    now: i64,
) -> StoreResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO outbox (id, message_id, template, recipient, subject, body_text, state, \
         attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7)",
    )
    .bind(&id)
    .bind(format!("<{id}@{domain}>"))
    .bind(message.template)
    .bind(message.recipient)
    .bind(message.subject)
    .bind(message.body_text)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Queued messages whose next attempt is due, oldest first.
pub async fn due(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> StoreResult<Vec<OutboxMessage>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'queued' AND next_attempt_at <= $1 \
         ORDER BY seq LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(message_from_row).collect()
}

/// Every message, newest first, for operators and tests.
pub async fn list(
    conn: &mut AnyConnection,
    state: Option<&str>,
) -> StoreResult<Vec<OutboxMessage>> {
    let rows = match state {
        Some(state) => {
            let sql = format!("SELECT {COLUMNS} FROM outbox WHERE state = $1 ORDER BY seq DESC");
            sqlx::query(&sql).bind(state).fetch_all(conn).await?
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM outbox ORDER BY seq DESC");
            sqlx::query(&sql).fetch_all(conn).await?
        }
    };
    rows.iter().map(message_from_row).collect()
}

pub async fn mark_sent(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1, \
         last_error = NULL WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt: `retry_at` schedules another, `None` gives up.
pub async fn mark_failed(
    conn: &mut AnyConnection,
    id: &str,
    error: &str,
    retry_at: Option<i64>,
) -> StoreResult<()> {
    let (state, next) = match retry_at {
        Some(at) => ("queued", at),
        None => ("failed", 0),
    };
    sqlx::query(
        "UPDATE outbox SET state = $1, next_attempt_at = $2, attempts = attempts + 1, \
         last_error = $3 WHERE id = $4",
    )
    .bind(state)
    .bind(next)
    .bind(error)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
