//! Log sessions: `POST /apps/{app}/log-sessions` hands out a URL that streams
//! the app's log as server-sent events. The Heroku CLI opens that URL without
//! credentials, so it carries a random token of its own, valid for a while;
//! a stream that stays open checks again and again that its account still
//! may read the app's logs.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc, watch};

use super::auth::{role_on, AppMember};
use super::body::{JsonBody, Params};
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::access::{self, Action};
use crate::clock::{self, rfc3339};
use crate::runtime::logs::{LogLine, KEEP_LINES};
use crate::secrets;
use crate::store::apps;

/// A session's URL may be opened (and re-opened) for this long.
const SESSION_TTL_MS: i64 = 60 * 60 * 1000;
/// How often an open stream checks its account's access again.
const RECHECK: Duration = Duration::from_secs(5);
/// A comment line that keeps idle connections open through proxies.
const KEEPALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
struct Session {
    app_id: String,
    account_id: String,
    lines: usize,
    tail: bool,
    dyno: Option<String>,
    source: Option<String>,
    expires_at: i64,
}

/// Open log sessions, by the digest of their token.
#[derive(Clone)]
pub struct LogSessions {
    sessions: Arc<Mutex<HashMap<String, Session>>>,
    /// Raised when the server stops, so that open streams end.
    shutdown: watch::Receiver<bool>,
}

impl LogSessions {
    pub fn new(shutdown: watch::Receiver<bool>) -> Self {
        LogSessions {
            sessions: Arc::default(),
            shutdown,
        }
    }

    fn insert(&self, session: Session) -> String {
        let token = secrets::new_token("");
        let now = clock::now_ms();
        let mut sessions = self.sessions.lock().expect("log sessions lock");
        sessions.retain(|_, s| s.expires_at > now);
        sessions.insert(secrets::token_digest(&token), session);
        token
    }

    fn find(&self, token: &str) -> Option<Session> {
        let digest = secrets::token_digest(token);
        let sessions = self.sessions.lock().expect("log sessions lock");
        sessions
            .get(&digest)
            .filter(|s| s.expires_at > clock::now_ms())
            .cloned()
    }
}

#[derive(Deserialize)]
pub struct NewSession {
    dyno: Option<String>,
    lines: Option<i64>,
    source: Option<String>,
    tail: Option<bool>,
    #[serde(rename = "type")]
    process_type: Option<String>,
}

impl Params for NewSession {
    const FIELDS: &'static [&'static str] = &["dyno", "lines", "source", "tail", "type"];
}

/// Filters are names like `web.1`, `web`, `router` or `app`.
fn checked_filter(value: Option<String>, field: &str) -> ApiResult<Option<String>> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let ok = value.len() <= 40
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(Some(value))
    } else {
        Err(ApiError::invalid_params(format!("Invalid {field} filter.")))
    }
}

pub async fn create(
    State(state): State<AppState>,
    member: AppMember,
    JsonBody(params): JsonBody<NewSession>,
) -> ApiResult<impl IntoResponse> {
    member.require(Action::ViewLogs)?;
    let lines = params.lines.unwrap_or(100);
    if !(0..=KEEP_LINES as i64).contains(&lines) {
        return Err(ApiError::invalid_params(format!(
            "lines must be between 0 and {KEEP_LINES}."
        )));
    }
    let dyno = checked_filter(params.dyno.or(params.process_type), "dyno")?;
    let source = checked_filter(params.source, "source")?;

    let now = clock::now_ms();
    let token = state.log_sessions.insert(Session {
        app_id: member.app.id.clone(),
        account_id: member.account().id.clone(),
        lines: lines as usize,
        tail: params.tail.unwrap_or(false),
        dyno,
        source,
        expires_at: now + SESSION_TTL_MS,
    });
    let url = format!("{}/log-streams/{token}", state.settings.public_url);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "logplex_url": url,
            "created_at": rfc3339(now),
            "updated_at": rfc3339(now),
        })),
    ))
}

/// `GET /log-streams/{token}`: the session's lines as `text/event-stream`.
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let session = state
        .log_sessions
        .find(&token)
        .ok_or_else(|| ApiError::not_found("This log session has expired or does not exist."))?;
    if !still_allowed(&state, &session).await? {
        return Err(ApiError::forbidden(
            "You no longer have access to these logs.",
        ));
    }
    let after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);

    let (recent, live) = state.logs.recent(
        &session.app_id,
        session.lines,
        session.source.as_deref(),
        session.dyno.as_deref(),
    );
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(feed(state, session, recent, live, after, tx));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

fn event(line: &LogLine) -> Bytes {
    Bytes::from(format!("id: {}\ndata: {}\n\n", line.seq, line.render()))
}

/// Writes the recent lines, then (for a tail) the new ones as they come,
/// until the client goes away or loses access.
async fn feed(
    state: AppState,
    session: Session,
    recent: Vec<Arc<LogLine>>,
    mut live: broadcast::Receiver<Arc<LogLine>>,
    after: u64,
    tx: mpsc::Sender<Bytes>,
) {
    let mut last = after;
    for line in recent.iter().filter(|l| l.seq > after) {
        last = line.seq;
        if tx.send(event(line)).await.is_err() {
            return;
        }
    }
    if !session.tail {
        return;
    }
    let mut shutdown = state.log_sessions.shutdown.clone();
    if *shutdown.borrow_and_update() {
        return;
    }
    let mut recheck = tokio::time::interval(RECHECK);
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(line) => {
                    let wanted = line.seq > last
                        && line.matches(session.source.as_deref(), session.dyno.as_deref());
                    if wanted {
                        last = line.seq;
                        if tx.send(event(&line)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = recheck.tick() => {
                if !still_allowed(&state, &session).await.unwrap_or(false) {
                    return;
                }
            }
            _ = shutdown.changed() => return,
            _ = keepalive.tick() => {
                if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Whether the session's account may still read the app's logs.
async fn still_allowed(state: &AppState, session: &Session) -> ApiResult<bool> {
    let app = {
        let mut conn = state.store.read().await?;
        apps::find(&mut conn, &session.app_id).await?
    };
    let Some(app) = app else { return Ok(false) };
    let role = role_on(&state.store, &app, &session.account_id).await?;
    Ok(access::authorize(role, Action::ViewLogs, &app.name, &app.owner_email).is_ok())
}
