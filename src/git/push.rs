//! A push, as the server sees it. `git receive-pack` runs the hooks; the
//! hooks hand over to the server (see [`super::hook`]), which:
//!
//! - before any ref moves (pre-receive): checks access again, allows only
//!   the deploy branch (and tags), takes the app's lock, refuses a push whose
//!   base is no longer the branch tip, and builds the slug; refusing refuses
//!   every ref of the push;
//! - after the refs moved (post-receive, and again when receive-pack ends):
//!   records release vN for the commit that is now the tip.
//!
//! The lock is held from the checks until receive-pack has ended, so pushes
//! to one app take turns and none can move the branch under another.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex as AsyncMutex;

use super::{repo, Git};
use crate::access::{self, Action};
use crate::build::{self, BuildError, BuildJob, BuiltSlug, Progress};
use crate::clock;
use crate::locks::AppLockGuard;
use crate::releases;
use crate::secrets;
use crate::settings::Settings;
use crate::store::accounts::{self, Account};
use crate::store::activity::{self, NewActivity};
use crate::store::apps::{self, App};
use crate::store::formation;
use crate::store::releases::{self as release_store, Release, Slug};
use crate::store::{Store, StoreError};

const ZERO: &str = "0000000000000000000000000000000000000000";

/// What a hook sends: the push's token, its ref updates (the hook's stdin),
/// and where receive-pack keeps the pushed objects until they are accepted.
#[derive(Debug, Serialize, Deserialize)]
pub struct HookRequest {
    pub token: String,
    pub updates: String,
    pub object_dir: Option<String>,
    pub alternate_object_dirs: Option<String>,
    pub quarantine_path: Option<String>,
}

/// One push under way.
pub struct PushSession {
    pub app_id: String,
    pub account_id: String,
    pub repo: PathBuf,
    state: AsyncMutex<PushState>,
}

#[derive(Default)]
struct PushState {
    lock: Option<AppLockGuard>,
    approved: Option<Approved>,
}

/// A deploy that passed every check and built; released once its ref moved.
struct Approved {
    refname: String,
    old: String,
    new: String,
    forced: bool,
    slug: BuiltSlug,
}

/// Pushes under way, by the digest of their token.
#[derive(Clone, Default)]
pub struct Sessions {
    map: Arc<Mutex<HashMap<String, Arc<PushSession>>>>,
}

/// Keeps a session registered; dropping it ends the session and frees the lock.
pub struct SessionGuard {
    sessions: Sessions,
    key: String,
    pub session: Arc<PushSession>,
}

impl Sessions {
    /// Registers a push and returns the token its hooks must present.
    pub fn open(&self, app_id: &str, account_id: &str, repo: &Path) -> (String, SessionGuard) {
        let token = secrets::new_token("push_");
        let key = secrets::token_digest(&token);
        let session = Arc::new(PushSession {
            app_id: app_id.to_string(),
            account_id: account_id.to_string(),
            repo: repo.to_path_buf(),
            state: AsyncMutex::new(PushState::default()),
        });
        self.table().insert(key.clone(), session.clone());
        let guard = SessionGuard {
            sessions: self.clone(),
            key,
            session,
        };
        (token, guard)
    }

    pub fn find(&self, token: &str) -> Option<Arc<PushSession>> {
        self.table().get(&secrets::token_digest(token)).cloned()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<PushSession>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.sessions.table().remove(&self.key);
    }
}

/// Why a push is refused; the text is shown to the pusher.
#[derive(Debug)]
struct Refusal(String);

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failure during a push");
        Refusal("The push failed on the server; nothing was changed. Try again.".into())
    }
}

impl From<std::io::Error> for Refusal {
    fn from(error: std::io::Error) -> Self {
        tracing::error!(%error, "git failure during a push");
        Refusal("The push failed on the server; nothing was changed. Try again.".into())
    }
}

/// One line of the hook's stdin.
#[derive(Debug, Clone, PartialEq)]
struct Update {
    old: String,
    new: String,
    refname: String,
}

/// The server's services a push needs.
pub struct PushContext<'a> {
    pub git: &'a Git,
    pub store: &'a Store,
    pub settings: &'a Settings,
}

/// The pre-receive check; true lets receive-pack move the refs.
pub async fn pre_receive(
    cx: &PushContext<'_>,
    session: &PushSession,
    request: &HookRequest,
    progress: &Progress,
) -> bool {
    match check_and_build(cx, session, request, progress).await {
        Ok(()) => true,
        Err(Refusal(message)) => {
            for line in message.lines() {
                progress.warn(line).await;
            }
            false
        }
    }
}

async fn check_and_build(
    cx: &PushContext<'_>,
    session: &PushSession,
    request: &HookRequest,
    progress: &Progress,
) -> Result<(), Refusal> {
    let updates = parse_updates(&request.updates)?;
    let quarantine = quarantine_env(&session.repo, request)?;
    let (app, actor) = authorized(cx.store, session).await?;
    let branch = repo::deploy_branch(&cx.git.env, &session.repo).await?;
    let Some(update) = deploy_update(&updates, branch, &app.name)? else {
        return Ok(());
    };

    take_lock(cx, session, &app, progress).await?;
    refuse_stale(cx, session, &update, branch).await?;
    let forced = update.old != ZERO
        && !repo::is_ancestor(
            &cx.git.env,
            &session.repo,
            &quarantine,
            &update.old,
            &update.new,
        )
        .await?;

    let slug = run_build(cx, session, &app, &update.new, &quarantine, progress).await?;
    // Access may have been revoked while the build ran.
    if let Err(refusal) = authorized(cx.store, session).await {
        let _ = tokio::fs::remove_file(&slug.path).await;
        return Err(refusal);
    }
    progress.step("Launching...").await;
    tracing::info!(app.id = %app.id, account.id = %actor.id, commit = %update.new, forced, "push approved");
    session.state.lock().await.approved = Some(Approved {
        refname: update.refname,
        old: update.old,
        new: update.new,
        forced,
        slug,
    });
    Ok(())
}

fn parse_updates(text: &str) -> Result<Vec<Update>, Refusal> {
    let is_oid = |s: &str| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut updates = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(old), Some(new), Some(refname)) if is_oid(old) && is_oid(new) => {
                updates.push(Update {
                    old: old.to_string(),
                    new: new.to_string(),
                    refname: refname.to_string(),
                })
            }
            _ => return Err(Refusal("The push's ref updates could not be read.".into())),
        }
    }
    Ok(updates)
}

/// The quarantine environment receive-pack gave the hook, accepted only when
/// it points inside this push's repository.
fn quarantine_env(repo: &Path, request: &HookRequest) -> Result<Vec<(String, String)>, Refusal> {
    let objects = repo.join("objects");
    let inside = |raw: &str| {
        let path = Path::new(raw.trim_matches('"'));
        path.is_absolute()
            && !raw.contains("..")
            && path.canonicalize().is_ok_and(|p| p.starts_with(&objects))
    };
    let mut env = Vec::new();
    let fields = [
        ("GIT_OBJECT_DIRECTORY", &request.object_dir),
        (
            "GIT_ALTERNATE_OBJECT_DIRECTORIES",
            &request.alternate_object_dirs,
        ),
        ("GIT_QUARANTINE_PATH", &request.quarantine_path),
    ];
    for (name, value) in fields {
        let Some(value) = value else { continue };
        if !value.split(':').all(inside) {
            tracing::warn!(variable = name, "hook sent a path outside the repository");
            return Err(Refusal("The push's object directory is not valid.".into()));
        }
        env.push((name.to_string(), value.clone()));
    }
    Ok(env)
}

/// The app and the pusher, if the pusher may still deploy it.
async fn authorized(store: &Store, session: &PushSession) -> Result<(App, Account), Refusal> {
    let mut conn = store.read().await?;
    let app = apps::find(&mut conn, &session.app_id)
        .await?
        .ok_or_else(|| Refusal("The app was deleted.".into()))?;
    let actor = accounts::find_by_id(&mut conn, &session.account_id)
        .await?
        .ok_or_else(|| Refusal("Your account no longer exists.".into()))?;
    let role = access::role_of(&mut conn, &app, &actor.id).await?;
    access::authorize(role, Action::Deploy, &app.name, &app.owner_email)
        .map_err(|denied| Refusal(format!("Push rejected: {denied}")))?;
    Ok((app, actor))
}

/// Picks the update of the deploy branch. Tags may come along; any other
/// branch refuses the whole push, naming the branch to push to.
fn deploy_update(updates: &[Update], branch: &str, app: &str) -> Result<Option<Update>, Refusal> {
    let deploy_ref = format!("refs/heads/{branch}");
    let mut deploy = None;
    for update in updates {
        if update.refname == deploy_ref {
            if update.new == ZERO {
                return Err(Refusal(format!(
                    "Push rejected: the {branch} branch of {app} cannot be deleted."
                )));
            }
            deploy = Some(update.clone());
        } else if !update.refname.starts_with("refs/tags/") {
            let pushed = update
                .refname
                .strip_prefix("refs/heads/")
                .unwrap_or(&update.refname);
            return Err(Refusal(format!(
                "Push rejected: only the {branch} branch deploys {app}; you pushed {pushed}.\n\
                 Push it to {branch} with: git push slipway {pushed}:{branch}"
            )));
        }
    }
    Ok(deploy)
}

/// Takes the app's lock for the rest of the push, saying so when it waits.
async fn take_lock(
    cx: &PushContext<'_>,
    session: &PushSession,
    app: &App,
    progress: &Progress,
) -> Result<(), Refusal> {
    let deadline = tokio::time::Instant::now() + cx.git.config.timeout;
    let lock = cx.store.locks().lock(&app.id);
    tokio::pin!(lock);
    // A lock that is not there at once is held by another push.
    let quick = tokio::time::sleep(std::time::Duration::from_millis(200));
    let taken = tokio::select! {
        taken = &mut lock => Some(taken),
        _ = quick => None,
    };
    let taken = match taken {
        Some(taken) => taken,
        None => {
            progress
                .step(format!(
                    "Another push to {} is in progress; waiting for it to finish...",
                    app.name
                ))
                .await;
            tokio::time::timeout_at(deadline, lock).await.map_err(|_| {
                Refusal("Push rejected: the push before yours did not finish in time.".into())
            })?
        }
    };
    session.state.lock().await.lock = Some(taken?);
    Ok(())
}

/// Refuses a push based on a commit that is no longer the branch tip: it
/// would silently drop what someone else pushed in between.
async fn refuse_stale(
    cx: &PushContext<'_>,
    session: &PushSession,
    update: &Update,
    branch: &str,
) -> Result<(), Refusal> {
    let refname = format!("refs/heads/{branch}");
    let tip = repo::ref_tip(&cx.git.env, &session.repo, &refname).await?;
    if tip.as_deref().unwrap_or(ZERO) == update.old {
        return Ok(());
    }
    Err(Refusal(format!(
        "Push rejected: someone else pushed to {branch} first, so your push is based on an \n\
         old version of it ({} is no longer the tip).\n\
         Pull their changes and push again:\n\
         \x20   git pull --rebase slipway {branch}\n\
         \x20   git push slipway {branch}",
        short(&update.old)
    )))
}

async fn run_build(
    cx: &PushContext<'_>,
    session: &PushSession,
    app: &App,
    commit: &str,
    quarantine: &[(String, String)],
    progress: &Progress,
) -> Result<BuiltSlug, Refusal> {
    progress
        .step(format!("Building {} ({})", app.name, short(commit)))
        .await;
    let job = BuildJob {
        app_id: &app.id,
        commit,
        repo: &session.repo,
        quarantine,
        layout: &cx.git.layout,
        env: &cx.git.env,
        config: app_config(cx.store, &app.id).await?,
        deadline: tokio::time::Instant::now() + cx.git.config.timeout,
        sandbox: &cx.git.sandbox,
    };
    build::build(&job, progress)
        .await
        .map_err(|error| match error {
            BuildError::Failed(reason) => Refusal(format!(
                "{reason}\nPush rejected, failed to compile {}. Nothing was deployed.",
                app.name
            )),
            BuildError::TimedOut => Refusal(format!(
                "Push rejected: the build took longer than {} seconds.",
                cx.git.config.timeout.as_secs()
            )),
            BuildError::Internal(message) => {
                tracing::error!(app.id = %app.id, error = %message, "build failed on the server");
                Refusal("Push rejected: the build failed on the server. Try again.".into())
            }
        })
}

/// The config vars a build sees (`BUILDPACK_URL` picks the buildpack).
async fn app_config(store: &Store, app_id: &str) -> Result<BTreeMap<String, String>, StoreError> {
    let mut conn = store.read().await?;
    crate::store::config_vars::all(&mut conn, app_id).await
}

/// Records the release of an approved push whose ref has moved. Runs from
/// post-receive and again when receive-pack ends; only the first does work.
pub async fn finish(cx: &PushContext<'_>, session: &PushSession, progress: &Progress) {
    let mut state = session.state.lock().await;
    let Some(approved) = state.approved.take() else {
        return;
    };
    let tip = repo::ref_tip(&cx.git.env, &session.repo, &approved.refname).await;
    if !matches!(&tip, Ok(Some(tip)) if *tip == approved.new) {
        // receive-pack did not move the ref (it failed or was stopped).
        let _ = tokio::fs::remove_file(&approved.slug.path).await;
        return;
    }
    match record_release(cx, session, &approved).await {
        Ok((app, release)) => {
            progress
                .info(format!("Released v{}", release.version))
                .await;
            progress
                .info(format!(
                    "{} deployed to Slipway",
                    cx.settings.web_url(&app.name)
                ))
                .await;
        }
        Err(error) => {
            tracing::error!(app.id = %session.app_id, %error, "cannot record the release of a push");
            progress
                .warn("The push was stored but its release could not be recorded.")
                .await;
        }
    }
}

/// Drops the build of a push that ended without moving its ref.
pub async fn abandon(session: &PushSession) {
    let mut state = session.state.lock().await;
    if let Some(approved) = state.approved.take() {
        let _ = tokio::fs::remove_file(&approved.slug.path).await;
    }
    state.lock = None;
}

async fn record_release(
    cx: &PushContext<'_>,
    session: &PushSession,
    approved: &Approved,
) -> Result<(App, Release), StoreError> {
    let repo = session.repo.clone();
    let repo_size = tokio::task::spawn_blocking(move || repo::disk_size(&repo))
        .await
        .unwrap_or(0);
    let now = clock::now_ms();
    let commit = short(&approved.new);

    let mut tx = cx.store.write().await?;
    let not_found = || StoreError::Sql(sqlx::Error::RowNotFound);
    let app = apps::find(tx.conn(), &session.app_id)
        .await?
        .ok_or_else(not_found)?;
    let actor = accounts::find_by_id(tx.conn(), &session.account_id)
        .await?
        .ok_or_else(not_found)?;
    release_store::insert_slug(tx.conn(), &slug_row(&app, approved, now)).await?;
    let description = if approved.forced {
        format!("Deploy {commit} (forced push)")
    } else {
        format!("Deploy {commit}")
    };
    let release = releases::create_release(
        &mut tx,
        &app,
        &actor,
        &description,
        Some(&approved.slug.id),
        now,
    )
    .await?;
    // Every declared process type shows in the formation from now on, at
    // its default until someone scales it.
    for process_type in approved.slug.process_types.keys() {
        let quantity = crate::runtime::default_quantity(process_type);
        formation::ensure(tx.conn(), &app.id, process_type, quantity.into(), now).await?;
    }
    apps::set_sizes(
        tx.conn(),
        &app.id,
        repo_size as i64,
        approved.slug.size as i64,
    )
    .await?;
    let detail = match approved.forced {
        true => format!(
            "deployed {commit} as v{}, a forced push that replaced {}",
            release.version,
            short(&approved.old)
        ),
        false => format!("deployed {commit} as v{}", release.version),
    };
    activity::record(
        tx.conn(),
        NewActivity {
            app_id: &app.id,
            app_name: &app.name,
            actor_id: &actor.id,
            actor_email: &actor.email,
            action: if approved.forced {
                "deploy-forced"
            } else {
                "deploy"
            },
            detail,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(app.id = %app.id, version = release.version, commit = %approved.new, "released");
    Ok((app, release))
}

fn slug_row(app: &App, approved: &Approved, now: i64) -> Slug {
    Slug {
        id: approved.slug.id.clone(),
        app_id: app.id.clone(),
        commit_sha: approved.new.clone(),
        process_types: serde_json::to_string(&approved.slug.process_types).unwrap_or_default(),
        buildpack: approved.slug.buildpack.clone(),
        size: approved.slug.size as i64,
        created_at: now,
    }
}

fn short(oid: &str) -> &str {
    &oid[..oid.len().min(7)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(refname: &str) -> Update {
        Update {
            old: ZERO.into(),
            new: "1".repeat(40),
            refname: refname.into(),
        }
    }

    #[test]
    fn only_the_deploy_branch_and_tags_pass() {
        let main = update("refs/heads/main");
        let tag = update("refs/tags/v1.0");
        let found = deploy_update(&[main.clone(), tag.clone()], "main", "a").unwrap();
        assert_eq!(found, Some(main.clone()));
        assert_eq!(deploy_update(&[tag], "main", "a").unwrap(), None);

        let Refusal(message) =
            deploy_update(&[main, update("refs/heads/feature")], "main", "a").unwrap_err();
        assert!(
            message.contains("git push slipway feature:main"),
            "{message}"
        );
    }

    #[test]
    fn deleting_the_deploy_branch_is_refused() {
        let mut delete = update("refs/heads/main");
        delete.new = ZERO.into();
        assert!(deploy_update(&[delete], "main", "a").is_err());
    }

    #[test]
    fn update_lines_are_checked() {
        let line = format!("{ZERO} {} refs/heads/main\n", "a".repeat(40));
        assert_eq!(parse_updates(&line).unwrap().len(), 1);
        assert!(parse_updates("x y refs/heads/main").is_err());
    }
}
