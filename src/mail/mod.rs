//! Mail: the outbox worker that delivers what the API queued.
//!
//! Messages are written to the `outbox` table in the same transaction as the
//! change that caused them. A background worker delivers due messages by SMTP,
//! or into `<data-dir>/mail/` as `.eml` files when no SMTP server is set, and
//! marks them sent only after the transport accepted them.

pub mod templates;
mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

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
