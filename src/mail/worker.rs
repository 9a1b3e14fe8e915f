//! Delivery of queued mail, with retries that survive restarts.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;

use super::MailQueue;
use crate::clock;
use crate::store::outbox::{self, OutboxMessage};
use crate::store::Store;

/// How often the worker looks for due messages when nobody wakes it.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Longest wait between two attempts at one message.
const MAX_BACKOFF_MS: i64 = 15 * 60 * 1000;
/// Messages one node claims at a time.
const CLAIM_BATCH: i64 = 10;
/// How long a claim keeps other nodes off a message: well beyond the time a
/// batch takes to send, so that only a dead node's claims come back.
const CLAIM_LEASE_MS: i64 = 10 * 60 * 1000;

pub enum Transport {
    /// `.eml` files in a folder: the embedded default.
    Files(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Why one delivery attempt failed.
enum SendError {
    /// Worth retrying later (server down, timeout, 4xx).
    Transient(String),
    /// Will never succeed (5xx, malformed address).
    Permanent(String),
}

impl Transport {
    /// Builds the transport from `--smtp-url`, or the mail folder when unset.
    pub fn from_settings(smtp_url: Option<&str>, mail_dir: PathBuf) -> anyhow::Result<Transport> {
        match smtp_url {
            None => {
                std::fs::create_dir_all(&mail_dir)?;
                Ok(Transport::Files(mail_dir))
            }
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("SLIPWAY_SMTP_URL is not a valid SMTP URL: {e}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build();
                Ok(Transport::Smtp(transport))
            }
        }
    }

    async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Transport::Files(dir) => AsyncFileTransport::<Tokio1Executor>::new(dir)
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendError::Transient(e.to_string())),
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                }
            }),
        }
    }
}

fn build_message(from: &Mailbox, queued: &OutboxMessage) -> Result<Message, SendError> {
    let to: Mailbox = queued
        .recipient
        .parse()
        .map_err(|e| SendError::Permanent(format!("bad recipient address: {e}")))?;
    Message::builder()
        .message_id(Some(queued.message_id.clone()))
        .from(from.clone())
        .to(to)
        .subject(queued.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(queued.body_text.clone())
        .map_err(|e| SendError::Permanent(format!("could not build message: {e}")))
}

/// Back-off after `attempts` failed tries: 5 s, 10 s, 20 s, ... up to 15 min.
fn backoff_ms(attempts: i64) -> i64 {
    let exponent = attempts.clamp(0, 20) as u32;
    (5_000i64.saturating_mul(1i64 << exponent)).min(MAX_BACKOFF_MS)
}

/// Delivers due messages until `shutdown` turns true.
pub async fn run_worker(
    store: Store,
    transport: Transport,
    from: Mailbox,
    queue: MailQueue,
    mut shutdown: watch::Receiver<bool>,
) {
    // Names this process in its claims; other nodes sharing the store have their own.
    let node = uuid::Uuid::new_v4().to_string();
    loop {
        if let Err(error) = deliver_due(&store, &transport, &from, &node).await {
            tracing::error!(%error, "mail delivery pass failed");
        }
        tokio::select! {
            _ = queue.woken() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Claims and sends due messages, batch after batch, until none is left.
async fn deliver_due(
    store: &Store,
    transport: &Transport,
    from: &Mailbox,
    node: &str,
) -> crate::store::StoreResult<()> {
    loop {
        let claimed = {
            let now = clock::now_ms();
            let mut tx = store.write().await?;
            let claimed =
                outbox::claim_due(tx.conn(), node, now, now + CLAIM_LEASE_MS, CLAIM_BATCH).await?;
            tx.commit().await?;
            claimed
        };
        let full_batch = claimed.len() as i64 == CLAIM_BATCH;
        for queued in claimed {
            deliver_one(store, transport, from, node, &queued).await?;
        }
        if !full_batch {
            return Ok(());
        }
    }
}

async fn deliver_one(
    store: &Store,
    transport: &Transport,
    from: &Mailbox,
    node: &str,
    queued: &OutboxMessage,
) -> crate::store::StoreResult<()> {
    let outcome = match build_message(from, queued) {
        Ok(message) => transport.send(message).await,
        Err(error) => Err(error),
    };
    let mut tx = store.write().await?;
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(mail.id = %queued.id, mail.template = %queued.template, "mail sent");
            outbox::mark_sent(tx.conn(), &queued.id, node, clock::now_ms()).await?
        }
        Err(SendError::Transient(error)) => {
            tracing::warn!(mail.id = %queued.id, %error, "mail delivery failed, will retry");
            let retry_at = clock::now_ms() + backoff_ms(queued.attempts);
            outbox::mark_failed(tx.conn(), &queued.id, node, &error, Some(retry_at)).await?
        }
        Err(SendError::Permanent(error)) => {
            tracing::warn!(mail.id = %queued.id, %error, "mail refused permanently");
            outbox::mark_failed(tx.conn(), &queued.id, node, &error, None).await?
        }
    };
    tx.commit().await?;
    if !recorded {
        tracing::warn!(mail.id = %queued.id, "claim on the message expired before its outcome was recorded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(1), 10_000);
        assert!(backoff_ms(5) > backoff_ms(4));
        assert_eq!(backoff_ms(60), 15 * 60 * 1000);
    }
}
