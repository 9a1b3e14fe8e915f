//! The mail outbox: messages are written here in the same transaction as the
//! change that caused them, and removed from the queue only once delivered.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Backend, StoreResult};

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

/// Claims up to `limit` due messages for `node` until `lease_until`, and
/// returns them. Due means queued and scheduled, or claimed by a node whose
/// claim expired (it died while sending). One statement, so that two nodes
/// never claim the same message.
pub async fn claim_due(
    conn: &mut AnyConnection,
    node: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> StoreResult<Vec<OutboxMessage>> {
    let sql = format!(
        "UPDATE outbox SET state = 'sending', claimed_by = $1, claim_expires_at = $2 \
         WHERE id IN (SELECT id FROM outbox \
           WHERE (state = 'queued' AND next_attempt_at <= $3) \
              OR (state = 'sending' AND claim_expires_at <= $3) \
           ORDER BY seq LIMIT $4 {}) \
         RETURNING {COLUMNS}",
        Backend::of(conn).skip_locked()
    );
    let rows = sqlx::query(&sql)
        .bind(node)
        .bind(lease_until)
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

/// Records delivery by the node that claimed the message; false when its
/// claim had expired and another node took the message over.
pub async fn mark_sent(
    conn: &mut AnyConnection,
    id: &str,
    node: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1, \
         last_error = NULL, claim_expires_at = NULL \
         WHERE id = $2 AND state = 'sending' AND claimed_by = $3",
    )
    .bind(now)
    .bind(id)
    .bind(node)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt by the claiming node: `retry_at` schedules
/// another, `None` gives up. False when the claim had been taken over.
pub async fn mark_failed(
    conn: &mut AnyConnection,
    id: &str,
    node: &str,
    error: &str,
    retry_at: Option<i64>,
) -> StoreResult<bool> {
    let (state, next) = match retry_at {
        Some(at) => ("queued", at),
        None => ("failed", 0),
    };
    let done = sqlx::query(
        "UPDATE outbox SET state = $1, next_attempt_at = $2, attempts = attempts + 1, \
         last_error = $3, claim_expires_at = NULL \
         WHERE id = $4 AND state = 'sending' AND claimed_by = $5",
    )
    .bind(state)
    .bind(next)
    .bind(error)
    .bind(id)
    .bind(node)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::{claim_due, enqueue, mark_sent, NewMessage};
    use crate::store::Store;

    fn message(n: usize) -> NewMessage<'static> {
        NewMessage {
            template: "test",
            recipient: "bob@example.com",
            subject: format!("Message {n}"),
            body_text: "Body".to_string(),
        }
    }

    #[tokio::test]
    async fn claims_are_exclusive_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::store::default_sqlite_url(dir.path()))
            .await
            .unwrap();
        let mut tx = store.write().await.unwrap();
        for n in 0..3 {
            enqueue(tx.conn(), message(n), "example.com", 100)
                .await
                .unwrap();
        }

        // Two nodes share the due messages without overlap.
        let first = claim_due(tx.conn(), "node-a", 200, 1_000, 2).await.unwrap();
        let second = claim_due(tx.conn(), "node-b", 200, 1_000, 2).await.unwrap();
        assert_eq!((first.len(), second.len()), (2, 1));
        assert!(first.iter().all(|m| m.id != second[0].id));
        assert!(claim_due(tx.conn(), "node-b", 999, 1_999, 10)
            .await
            .unwrap()
            .is_empty());

        // node-a sends one and dies: only its unsent claim comes back, once expired.
        assert!(mark_sent(tx.conn(), &first[0].id, "node-a", 300)
            .await
            .unwrap());
        let taken_over = claim_due(tx.conn(), "node-c", 1_000, 2_000, 10)
            .await
            .unwrap();
        let mut ids: Vec<&str> = taken_over.iter().map(|m| m.id.as_str()).collect();
        let mut expected = vec![first[1].id.as_str(), second[0].id.as_str()];
        ids.sort();
        expected.sort();
        assert_eq!(ids, expected);

        // A node whose claim was taken over cannot record an outcome.
        assert!(!mark_sent(tx.conn(), &first[1].id, "node-a", 1_100)
            .await
            .unwrap());
    }
}
