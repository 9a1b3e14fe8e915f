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
    pub body_html: Option<String>,
    /// The app the message is about, if any: it then reaches only the app's
    /// current owner and collaborators (the removal notice aside).
    pub app_id: Option<String>,
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
    pub body_html: Option<String>,
    pub app_id: Option<&'a str>,
}

const COLUMNS: &str = "id, message_id, template, recipient, subject, body_text, body_html, \
     app_id, state, attempts, next_attempt_at, last_error, created_at, sent_at";

fn message_from_row(row: &AnyRow) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        template: row.try_get("template")?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        body_text: row.try_get("body_text")?,
        body_html: row.try_get("body_html")?,
        app_id: row.try_get("app_id")?,
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
        "INSERT INTO outbox (id, message_id, template, recipient, subject, body_text, body_html, \
         app_id, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $9)",
    )
    .bind(&id)
    .bind(format!("<{id}@{domain}>"))
    .bind(message.template)
    .bind(message.recipient)
    .bind(message.subject)
    .bind(message.body_text)
    .bind(message.body_html)
    .bind(message.app_id)
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

/// Messages in any of `states` (every message when empty), newest first.
pub async fn list(conn: &mut AnyConnection, states: &[&str]) -> StoreResult<Vec<OutboxMessage>> {
    let sql = format!("SELECT {COLUMNS} FROM outbox ORDER BY seq DESC");
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    let messages: StoreResult<Vec<OutboxMessage>> = rows.iter().map(message_from_row).collect();
    Ok(messages?
        .into_iter()
        .filter(|m| states.is_empty() || states.contains(&m.state.as_str()))
        .collect())
}

/// Finds one message by its id or its Message-ID.
pub async fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<OutboxMessage>> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1 OR message_id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(message_from_row).transpose()
}

/// Queues a failed (or cancelled) message again, due now. False when there
/// is no such message or it was already sent.
pub async fn retry(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'queued', next_attempt_at = $1 \
         WHERE id = $2 AND state IN ('failed', 'cancelled')",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws messages about the app to `recipient` that still wait for
/// delivery and use one of `templates`: a newer copy replaces them. A copy
/// a worker is trying to send right now is withdrawn too: if that attempt
/// fails it is not retried, and if it succeeds it is recorded as sent.
pub async fn supersede(
    conn: &mut AnyConnection,
    app_id: &str,
    recipient: &str,
    templates: &[&str],
) -> StoreResult<u64> {
    let mut withdrawn = 0;
    for template in templates {
        withdrawn += sqlx::query(
            "UPDATE outbox SET state = 'cancelled', last_error = 'replaced by a newer message' \
             WHERE app_id = $1 AND recipient = $2 AND template = $3 \
             AND state IN ('queued', 'sending')",
        )
        .bind(app_id)
        .bind(recipient)
        .bind(*template)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(withdrawn)
}

/// True when a message of this kind to `recipient` about the app was queued
/// since `since` and has not failed or been withdrawn.
pub async fn recently_queued(
    conn: &mut AnyConnection,
    app_id: &str,
    recipient: &str,
    template: &str,
    since: i64,
) -> StoreResult<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM outbox WHERE app_id = $1 AND recipient = $2 AND template = $3 \
         AND created_at > $4 AND state IN ('queued', 'sending', 'sent')",
    )
    .bind(app_id)
    .bind(recipient)
    .bind(template)
    .bind(since)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Gives up on a message without sending it, with the reason.
pub async fn cancel(conn: &mut AnyConnection, id: &str, reason: &str) -> StoreResult<()> {
    sqlx::query("UPDATE outbox SET state = 'cancelled', last_error = $1 WHERE id = $2")
        .bind(reason)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// True when `email` is the app's owner or one of its collaborators (pending ones too).
pub async fn recipient_belongs_to_app(
    conn: &mut AnyConnection,
    app_id: &str,
    email: &str,
) -> StoreResult<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT p.id FROM apps p JOIN accounts o ON o.id = p.owner_id \
         WHERE p.id = $1 AND o.email = $2 \
         UNION ALL \
         SELECT c.id FROM collaborators c JOIN accounts a ON a.id = c.account_id \
         WHERE c.app_id = $1 AND a.email = $2",
    )
    .bind(app_id)
    .bind(email)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Records delivery by the node that claimed the message, also when a newer
/// copy withdrew it meanwhile (it did go out); false when its claim had
/// expired and another node took the message over.
pub async fn mark_sent(
    conn: &mut AnyConnection,
    id: &str,
    node: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1, \
         last_error = NULL, claim_expires_at = NULL \
         WHERE id = $2 AND state IN ('sending', 'cancelled') AND claimed_by = $3",
    )
    .bind(now)
    .bind(id)
    .bind(node)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt by the claiming node: `retry_at` schedules
/// another, `None` gives up. False when the claim had been taken over or
/// the message withdrawn meanwhile (it stays withdrawn).
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
    use super::{claim_due, enqueue, find, mark_failed, mark_sent, supersede, NewMessage};
    use crate::store::Store;

    fn message(n: usize) -> NewMessage<'static> {
        NewMessage {
            template: "test",
            recipient: "bob@example.com",
            subject: format!("Message {n}"),
            body_text: "Body".to_string(),
            body_html: None,
            app_id: None,
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

    fn about_app(n: usize) -> NewMessage<'static> {
        NewMessage {
            template: "access",
            app_id: Some("app-1"),
            ..message(n)
        }
    }

    #[tokio::test]
    async fn a_copy_being_sent_when_a_newer_one_replaces_it_is_never_retried() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::store::default_sqlite_url(dir.path()))
            .await
            .unwrap();
        let mut tx = store.write().await.unwrap();
        let failing = enqueue(tx.conn(), about_app(1), "example.com", 100)
            .await
            .unwrap();
        let delivered = enqueue(tx.conn(), about_app(2), "example.com", 100)
            .await
            .unwrap();
        assert_eq!(
            claim_due(tx.conn(), "node-a", 200, 1_000, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        // Both copies are being sent when a resend queues a newer one.
        let withdrawn = supersede(tx.conn(), "app-1", "bob@example.com", &["access"])
            .await
            .unwrap();
        assert_eq!(withdrawn, 2);

        // The failed attempt is not scheduled again...
        assert!(
            !mark_failed(tx.conn(), &failing, "node-a", "refused", Some(300))
                .await
                .unwrap()
        );
        let state = |id: String| {
            let store = store.clone();
            async move {
                let mut conn = store.read().await.unwrap();
                find(&mut conn, &id).await.unwrap().unwrap().state
            }
        };
        // ...and the one that went out says so.
        assert!(mark_sent(tx.conn(), &delivered, "node-a", 300)
            .await
            .unwrap());
        tx.commit().await.unwrap();
        assert_eq!(state(failing).await, "cancelled");
        assert_eq!(state(delivered).await, "sent");
    }
}
