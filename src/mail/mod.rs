//! Mail: the outbox worker that delivers what the API queued.
//!
//! Messages are written to the `outbox` table in the same transaction as the
//! change that caused them. A background worker delivers due messages by SMTP,
//! or into `<data-dir>/mail/` as `.eml` files when no SMTP server is set, and
//! marks them sent only after the transport accepted them.

pub mod templates;
mod worker;

use std::sync::Arc;

use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::settings::Settings;
use crate::store::outbox::{self, NewMessage};
use crate::store::StoreResult;

pub use worker::{run_worker, Transport};

/// Wakes the worker when a request queued mail, so delivery does not wait
/// for the next poll.
#[derive(Clone, Default)]
pub struct MailQueue {
    wake: Arc<Notify>,
}

impl MailQueue {
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    async fn woken(&self) {
        self.wake.notified().await
    }
}

/// Queues a message about an app in the caller's transaction. An older
/// message of the same kind to the same person about the same app that is
/// still waiting is withdrawn: the newer one says the same, more recently
/// (and an invitation's older link would no longer work).
pub async fn queue_about_app(
    conn: &mut AnyConnection,
    settings: &Settings,
    app_id: &str,
    recipient: &str,
    rendered: templates::Rendered,
    now: i64,
) -> StoreResult<()> {
    outbox::supersede(conn, app_id, recipient, &[rendered.template]).await?;
    outbox::enqueue(
        conn,
        NewMessage {
            template: rendered.template,
            recipient,
            subject: rendered.subject,
            body_text: rendered.body,
            body_html: rendered.html,
            app_id: Some(app_id),
        },
        &settings.mail_domain,
        now,
    )
    .await?;
    Ok(())
}
