//! Delivery of queued mail, with retries that survive restarts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::Address;
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
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// Longest one whole delivery may take. lettre's own timeout covers
        /// only connecting, so a server that stops answering mid-way is cut
        /// off here.
        deadline: Duration,
    },
}

/// Why one delivery attempt failed.
#[derive(Debug)]
enum SendError {
    /// Worth retrying later (server down, timeout, 4xx).
    Transient(String),
    /// Will never succeed (5xx, malformed address).
    Permanent(String),
}

impl Transport {
    /// Builds the transport from `--smtp-url`, or the mail folder when unset.
    pub fn from_settings(
        smtp_url: Option<&str>,
        mail_dir: PathBuf,
        timeout: Duration,
        ca_cert: Option<&Path>,
    ) -> anyhow::Result<Transport> {
        match smtp_url {
            None => {
                std::fs::create_dir_all(&mail_dir)?;
                Ok(Transport::Files(mail_dir))
            }
            Some(url) => {
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("SLIPWAY_SMTP_URL is not a valid SMTP URL: {e}"))?
                    .timeout(Some(timeout));
                if let Some(ca_cert) = ca_cert {
                    builder = builder.tls(tls_trusting(url, ca_cert)?);
                }
                Ok(Transport::Smtp {
                    transport: builder.build(),
                    deadline: timeout * 3,
                })
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
            Transport::Smtp {
                transport,
                deadline,
            } => match tokio::time::timeout(*deadline, transport.send(message)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Ok(Err(e)) => Err(SendError::Transient(e.to_string())),
                Err(_) => Err(SendError::Transient(format!(
                    "the SMTP server did not finish within {} s (timed out)",
                    deadline.as_secs()
                ))),
            },
        }
    }
}

/// The TLS mode the URL asks for, also trusting the certificate authority in
/// `ca_cert` (a PEM file), for mail servers with a private CA.
fn tls_trusting(url: &str, ca_cert: &Path) -> anyhow::Result<Tls> {
    let parsed = url::Url::parse(url)?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    let pem = std::fs::read(ca_cert).map_err(|e| {
        anyhow::anyhow!(
            "cannot read SLIPWAY_SMTP_CA_CERT {}: {e}",
            ca_cert.display()
        )
    })?;
    let certificate = Certificate::from_pem(&pem)
        .map_err(|e| anyhow::anyhow!("SLIPWAY_SMTP_CA_CERT is not a PEM certificate: {e}"))?;
    let parameters = TlsParameters::builder(host)
        .add_root_certificate(certificate)
        .build()
        .map_err(|e| anyhow::anyhow!("SLIPWAY_SMTP_CA_CERT: {e}"))?;
    let mode = parsed
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Ok(Tls::Wrapper(parameters)),
        (_, Some("required")) => Ok(Tls::Required(parameters)),
        (_, Some("opportunistic")) => Ok(Tls::Opportunistic(parameters)),
        _ => anyhow::bail!(
            "SLIPWAY_SMTP_CA_CERT is set but SLIPWAY_SMTP_URL uses no TLS \
             (use smtps://, or ?tls=required)"
        ),
    }
}

/// Builds the MIME message: plain text, with an HTML alternative when the
/// template has one. lettre encodes every header value, so a line break in a
/// subject or name can never start a header of its own; a recipient that is
/// not one plain address is refused outright.
fn build_message(from: &Mailbox, queued: &OutboxMessage) -> Result<Message, SendError> {
    let to = recipient_mailbox(&queued.recipient).map_err(SendError::Permanent)?;
    let builder = Message::builder()
        .message_id(Some(queued.message_id.clone()))
        .from(from.clone())
        .to(to)
        .subject(queued.subject.clone());
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(queued.body_text.clone());
    let built = match &queued.body_html {
        Some(html) => builder.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => builder.singlepart(text),
    };
    built.map_err(|e| SendError::Permanent(format!("could not build message: {e}")))
}

/// The recipient as a bare address, with no display name to smuggle anything in.
fn recipient_mailbox(recipient: &str) -> Result<Mailbox, String> {
    if recipient.len() > crate::email::MAX_EMAIL_LEN
        || recipient
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err("bad recipient address: not a single plain address".into());
    }
    let address: Address = recipient
        .parse()
        .map_err(|e| format!("bad recipient address: {e}"))?;
    Ok(Mailbox::new(None, address))
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
    if !still_wanted(store, queued).await? {
        let mut tx = store.write().await?;
        outbox::cancel(tx.conn(), &queued.id, NOT_A_MEMBER).await?;
        tx.commit().await?;
        tracing::info!(mail.id = %queued.id, "mail withdrawn: recipient left the app");
        return Ok(());
    }
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
        tracing::warn!(
            mail.id = %queued.id,
            "the message was withdrawn, or its claim expired, before its outcome was recorded"
        );
    }
    Ok(())
}

const NOT_A_MEMBER: &str = "recipient no longer belongs to the app";

/// Mail about an app goes only to its current owner and collaborators (pending
/// ones included); the notice that someone's access ended is the exception.
async fn still_wanted(store: &Store, queued: &OutboxMessage) -> crate::store::StoreResult<bool> {
    let Some(app_id) = &queued.app_id else {
        return Ok(true);
    };
    if queued.template == "access_removed" {
        return Ok(true);
    }
    let mut conn = store.read().await?;
    outbox::recipient_belongs_to_app(&mut conn, app_id, &queued.recipient).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(recipient: &str, subject: &str, html: Option<&str>) -> OutboxMessage {
        OutboxMessage {
            id: "m1".into(),
            message_id: "<m1@example.com>".into(),
            template: "invitation".into(),
            recipient: recipient.into(),
            subject: subject.into(),
            body_text: "hello\r\nBcc: x@evil.example\r\n\r\nbody".into(),
            body_html: html.map(str::to_string),
            app_id: None,
            state: "queued".into(),
            attempts: 0,
            next_attempt_at: 0,
            last_error: None,
            created_at: 0,
            sent_at: None,
        }
    }

    fn header_names(raw: &str) -> Vec<String> {
        let head = raw.split("\r\n\r\n").next().unwrap();
        head.lines()
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_ascii_lowercase()))
            .collect()
    }

    #[test]
    fn line_breaks_never_make_headers() {
        let from: Mailbox = "Slipway <slipway@example.com>".parse().unwrap();
        let message = queued(
            "bob@example.com",
            "hi\r\nBcc: x@evil.example\nX-Evil: 1",
            Some("<p>hi</p>"),
        );
        let raw = String::from_utf8(build_message(&from, &message).unwrap().formatted()).unwrap();
        let names = header_names(&raw);
        assert!(!names.iter().any(|n| n == "bcc" || n == "x-evil"), "{raw}");
        assert_eq!(names.iter().filter(|n| *n == "to").count(), 1);
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("Message-ID: <m1@example.com>"), "{raw}");
    }

    #[test]
    fn hostile_recipients_are_refused() {
        let from: Mailbox = "slipway@example.com".parse().unwrap();
        let long = format!("{}@example.com", "a".repeat(300));
        for bad in [
            "bob@example.com\r\nBcc: x@evil.example",
            "bob@example.com, x@evil.example",
            "Bob <bob@example.com>",
            long.as_str(),
            "",
        ] {
            assert!(
                matches!(
                    build_message(&from, &queued(bad, "s", None)),
                    Err(SendError::Permanent(_))
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(1), 10_000);
        assert!(backoff_ms(5) > backoff_ms(4));
        assert_eq!(backoff_ms(60), 15 * 60 * 1000);
    }
}
