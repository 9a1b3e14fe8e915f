//! Releases: every deploy and every config change makes release vN+1.
//!
//! [`create_release`] is the one way a release comes to be, so the numbering
//! rule lives in one place: versions count up from 1 per app without gaps,
//! under the app-row lock taken by the release's first write.

use crate::store::accounts::Account;
use crate::store::apps::{self, App};
use crate::store::releases::{self, Release};
use crate::store::{StoreResult, WriteTx};

/// Creates the app's next release inside `tx`. With `slug_id` None the new
/// release keeps the slug of the release before it (a config change).
pub async fn create_release(
    tx: &mut WriteTx<'_>,
    app: &App,
    actor: &Account,
    description: &str,
    slug_id: Option<&str>,
    now: i64,
) -> StoreResult<Release> {
    apps::mark_released(tx.conn(), &app.id, now).await?;
    let slug_id = match slug_id {
        Some(id) => Some(id.to_string()),
        None => releases::latest(tx.conn(), &app.id)
            .await?
            .and_then(|r| r.slug_id),
    };
    let release = Release {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: app.id.clone(),
        app_name: app.name.clone(),
        version: releases::next_version(tx.conn(), &app.id).await?,
        slug_id,
        description: description.to_string(),
        actor_id: actor.id.clone(),
        actor_email: actor.email.clone(),
        status: "succeeded".to_string(),
        created_at: now,
        updated_at: now,
    };
    releases::insert(tx.conn(), &release).await?;
    Ok(release)
}
