//! Smart-HTTP git: `GET /{app}.git/info/refs`, `POST /{app}.git/git-upload-pack`
//! and `POST /{app}.git/git-receive-pack`, served by the system git in
//! stateless-RPC mode with bodies streamed both ways. Plus the endpoint the
//! push hooks call (`POST /internal/git/hooks/{hook}`), served only on a
//! loopback port of its own.
//!
//! Order of every request: credentials (401 before anything about the app is
//! revealed), the app by its validated name (404), access through
//! [`crate::access`] (403, as text git shows), then git.

use std::process::Stdio;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::auth::{account_for_key, Credentials};
use super::git_body::{self, BodyError, Encoding};
use super::{AppState, RequestContext};
use crate::access::{self, Action};
use crate::build::{human_size, Progress};
use crate::git::hook::VERDICT;
use crate::git::push::{self, HookRequest, PushContext};
use crate::names;
use crate::store::accounts::Account;
use crate::store::apps::{self, App};

/// Failures, answered as plain text so that git prints them.
#[derive(Debug)]
pub enum GitHttpError {
    Unauthorized,
    Forbidden(String),
    NotFound,
    BadRequest(String),
    TooLarge(String),
    Internal,
}

impl From<crate::store::StoreError> for GitHttpError {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::error!(%error, "store failure in git");
        GitHttpError::Internal
    }
}

impl From<std::io::Error> for GitHttpError {
    fn from(error: std::io::Error) -> Self {
        tracing::error!(%error, "git process failure");
        GitHttpError::Internal
    }
}

impl From<crate::api::error::ApiError> for GitHttpError {
    fn from(_: crate::api::error::ApiError) -> Self {
        GitHttpError::Internal
    }
}

impl IntoResponse for GitHttpError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            GitHttpError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "Authentication required: use your Slipway API key as the password.".to_string(),
            ),
            GitHttpError::Forbidden(message) => (StatusCode::FORBIDDEN, message),
            GitHttpError::NotFound => (StatusCode::NOT_FOUND, "Repository not found.".to_string()),
            GitHttpError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            GitHttpError::TooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, message),
            GitHttpError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error.".to_string(),
            ),
        };
        let mut response = (status, format!("{message}\n")).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Slipway\""),
            );
        }
        response
    }
}

type GitResult<T> = Result<T, GitHttpError>;

/// The two services smart HTTP offers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Service {
    UploadPack,
    ReceivePack,
}

impl Service {
    fn from_query(query: Option<&str>) -> Option<Service> {
        let query = query?;
        query.split('&').find_map(|pair| match pair {
            "service=git-upload-pack" => Some(Service::UploadPack),
            "service=git-receive-pack" => Some(Service::ReceivePack),
            _ => None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Service::UploadPack => "upload-pack",
            Service::ReceivePack => "receive-pack",
        }
    }

    fn action(self) -> Action {
        match self {
            Service::UploadPack => Action::FetchCode,
            Service::ReceivePack => Action::Deploy,
        }
    }
}

/// The caller and the app of `/{segment}/...`, once allowed to do `action`.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    context: Option<&RequestContext>,
    segment: &str,
    action: Action,
) -> GitResult<(Account, App)> {
    let credentials = Credentials::from_headers(headers).ok_or(GitHttpError::Unauthorized)?;
    let (account, _) = account_for_key(&state.store, credentials.api_key())
        .await?
        .ok_or(GitHttpError::Unauthorized)?;
    if let Some(context) = context {
        let _ = context.account_id.set(account.id.clone());
    }

    // The name is checked before it reaches the store, and only ever looked
    // up as a name: no path, id or encoded trick addresses a repository.
    let name = segment.strip_suffix(".git").ok_or(GitHttpError::NotFound)?;
    names::validate_app_name(name).map_err(|_| GitHttpError::NotFound)?;
    let mut conn = state.store.read().await?;
    let app = apps::find_by_name(&mut conn, name)
        .await?
        .ok_or(GitHttpError::NotFound)?;
    let role = access::role_of(&mut conn, &app, &account.id).await?;
    access::authorize(role, action, &app.name, &app.owner_email)
        .map_err(|denied| GitHttpError::Forbidden(denied.to_string()))?;
    Ok((account, app))
}

/// `Git-Protocol: version=2` asks upload-pack for protocol v2.
fn wants_v2(headers: &HeaderMap, service: Service) -> bool {
    service == Service::UploadPack
        && headers
            .get("git-protocol")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(':').any(|p| p == "version=2"))
}

fn pkt_line(text: &str) -> Vec<u8> {
    let mut line = format!("{:04x}", text.len() + 4).into_bytes();
    line.extend_from_slice(text.as_bytes());
    line
}

fn git_response(content_type: &str, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /{app}.git/info/refs?service=git-...`: the ref advertisement.
pub async fn info_refs(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    context: Option<axum::Extension<RequestContext>>,
) -> GitResult<Response> {
    let context = context.map(|c| c.0);
    let service = Service::from_query(query.as_deref()).ok_or_else(|| {
        GitHttpError::BadRequest("Only smart HTTP git is served; use git 1.6.6 or later.".into())
    })?;
    let (_, app) = authorize(
        &state,
        &headers,
        context.as_ref(),
        &segment,
        service.action(),
    )
    .await?;
    let repo = state.git.repository(&app.id).await?;

    let v2 = wants_v2(&headers, service);
    let mut cmd = state.git.env.command("git");
    cmd.args([service.name(), "--stateless-rpc", "--advertise-refs"])
        .arg(&repo);
    if v2 {
        cmd.env("GIT_PROTOCOL", "version=2");
    }
    let refs = crate::git::process::checked(cmd, state.git.config.timeout)
        .await
        .map_err(std::io::Error::other)?;

    let mut body = Vec::new();
    if !v2 {
        body.extend(pkt_line(&format!("# service=git-{}\n", service.name())));
        body.extend_from_slice(b"0000");
    }
    body.extend(refs);
    let content_type = format!("application/x-git-{}-advertisement", service.name());
    Ok(git_response(&content_type, Body::from(body)))
}

/// Largest upload-pack request, as inflated. A fetch sends its wants and
/// haves, a few KiB even for large repositories; this leaves ample room
/// while keeping what one request can make the server do small.
const MAX_FETCH_REQUEST_BYTES: u64 = 32 * 1024 * 1024;

/// `POST /{app}.git/git-upload-pack`: clone and fetch.
pub async fn upload_pack(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    context: Option<axum::Extension<RequestContext>>,
    body: Body,
) -> GitResult<Response> {
    let context = context.map(|c| c.0);
    let (_, app) = authorize(
        &state,
        &headers,
        context.as_ref(),
        &segment,
        Action::FetchCode,
    )
    .await?;
    let limit = Limit::Fetch;
    refuse_declared_size(&headers, limit)?;
    let repo = state.git.repository(&app.id).await?;
    let deadline = Instant::now() + state.git.config.timeout;

    let mut cmd = state.git.env.command("git");
    cmd.args(["upload-pack", "--stateless-rpc"])
        .arg(&repo)
        .stdin(Stdio::piped())
        .stderr(Stdio::null());
    if wants_v2(&headers, Service::UploadPack) {
        cmd.env("GIT_PROTOCOL", "version=2");
    }
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take().ok_or(GitHttpError::Internal)?;
    let mut stdout = child.stdout.take().ok_or(GitHttpError::Internal)?;

    let mut head = Vec::new();
    let fed = take_request(
        body,
        &headers,
        stdin,
        limit,
        &mut stdout,
        &mut head,
        deadline,
    );
    if let Err(refusal) = fed.await {
        // Fetching changes nothing: git is stopped at once.
        drop(stdout);
        let _ = child.start_kill();
        end_child(child, Instant::now() + std::time::Duration::from_secs(30)).await;
        return Err(refusal);
    }

    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        // A fetch nobody reads any more is stopped.
        if tx.send(Bytes::from(head)).await.is_err() || !pump(stdout, &tx, deadline, false).await {
            let _ = child.start_kill();
        }
        end_child(child, deadline).await;
    });
    Ok(git_response(
        "application/x-git-upload-pack-result",
        channel_body(rx),
    ))
}

/// The cap on a request body, by service.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Fetch,
    Push(u64),
}

impl Limit {
    fn bytes(self) -> u64 {
        match self {
            Limit::Fetch => MAX_FETCH_REQUEST_BYTES,
            Limit::Push(bytes) => bytes,
        }
    }

    fn exceeded(self) -> GitHttpError {
        GitHttpError::TooLarge(match self {
            Limit::Fetch => format!(
                "Fetch request rejected: it is larger than the limit of {} for one request.",
                human_size(MAX_FETCH_REQUEST_BYTES)
            ),
            Limit::Push(bytes) => format!(
                "Push rejected: it is larger than this server's limit of {} \
                 (SLIPWAY_MAX_PUSH_BYTES). Nothing was changed.",
                human_size(bytes)
            ),
        })
    }
}

/// Refuses at once a body whose declared length is over the cap.
fn refuse_declared_size(headers: &HeaderMap, limit: Limit) -> GitResult<()> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit.bytes() => Err(limit.exceeded()),
        _ => Ok(()),
    }
}

/// `POST /{app}.git/git-receive-pack`: a push.
pub async fn receive_pack(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    context: Option<axum::Extension<RequestContext>>,
    body: Body,
) -> GitResult<Response> {
    let context = context.map(|c| c.0);
    let (account, app) =
        authorize(&state, &headers, context.as_ref(), &segment, Action::Deploy).await?;
    let limit = Limit::Push(state.git.config.max_push_bytes);
    refuse_declared_size(&headers, limit)?;
    let repo = state.git.repository(&app.id).await?;
    let deadline = Instant::now() + state.git.config.timeout;

    // The hooks find this push by its token.
    let (token, session) = state.git.sessions.open(&app.id, &account.id, &repo);
    let config = &state.git.config;
    let mut cmd = state.git.env.command("git");
    cmd.arg("-c")
        .arg(format!(
            "core.hooksPath={}",
            state.git.layout.hooks().display()
        ))
        .args(["receive-pack", "--stateless-rpc"])
        .arg(&repo)
        .env("SLIPWAY_HOOK_BIN", &config.hook_bin)
        .env(
            "SLIPWAY_HOOK_URL",
            format!("{}/internal/git/hooks", config.hook_base_url),
        )
        .env("SLIPWAY_PUSH_TOKEN", &token)
        .stdin(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take().ok_or(GitHttpError::Internal)?;
    let mut stdout = child.stdout.take().ok_or(GitHttpError::Internal)?;

    let mut head = Vec::new();
    let fed = take_request(
        body,
        &headers,
        stdin,
        limit,
        &mut stdout,
        &mut head,
        deadline,
    );
    if let Err(refusal) = fed.await {
        end_child(child, Instant::now() + std::time::Duration::from_secs(30)).await;
        push::abandon(&session.session).await;
        tracing::debug!(app.id = %app.id, ?refusal, "push refused during upload");
        return Err(refusal);
    }

    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let _ = tx.send(Bytes::from(head)).await;
        // A push runs to its end even when the pusher has gone, so that what
        // git accepted is also released.
        pump(stdout, &tx, deadline, true).await;
        end_child(child, deadline).await;
        let cx = PushContext {
            git: &state.git,
            store: &state.store,
            settings: &state.settings,
        };
        let (progress, _) = Progress::channel();
        push::finish(&cx, &session.session, &progress).await;
        push::abandon(&session.session).await;
        drop(session);
    });
    Ok(git_response(
        "application/x-git-receive-pack-result",
        channel_body(rx),
    ))
}

/// git's output kept while the request is still coming in. git answers
/// once it has read the request, but for ACK lines during a negotiation;
/// past this much, git waits (its pipe is full) until the request is in.
const EARLY_OUTPUT_LIMIT: usize = 4 * 1024 * 1024;

/// Streams the request body into git, keeping git's early output in `head`.
/// The whole request is read before answering, so that an oversized one
/// gets its 413 before any of git's answer has gone out.
async fn take_request(
    body: Body,
    headers: &HeaderMap,
    stdin: ChildStdin,
    limit: Limit,
    stdout: &mut (impl AsyncRead + Unpin),
    head: &mut Vec<u8>,
    deadline: Instant,
) -> GitResult<()> {
    let feed = git_body::feed(body, Encoding::of(headers), stdin, limit.bytes());
    tokio::pin!(feed);
    let mut open = true;
    let taken = tokio::time::timeout_at(deadline, async {
        loop {
            tokio::select! {
                result = &mut feed => return result,
                read = stdout.read_buf(head), if open && head.len() < EARLY_OUTPUT_LIMIT => {
                    open = matches!(read, Ok(n) if n > 0);
                }
            }
        }
    });
    match taken.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(BodyError::TooLarge)) => Err(limit.exceeded()),
        Ok(Err(BodyError::NotGzip)) => Err(GitHttpError::BadRequest(
            "The request body is not valid gzip.".into(),
        )),
        Ok(Err(BodyError::CutOff)) => {
            Err(GitHttpError::BadRequest("The upload was cut off.".into()))
        }
        Err(_) => Err(GitHttpError::BadRequest(
            "The request took too long to upload.".into(),
        )),
    }
}

/// Copies git's output into the response channel until it ends; with `drain`
/// it keeps reading after the client has gone. False when the client went.
async fn pump(
    mut stdout: impl AsyncRead + Unpin,
    tx: &mpsc::Sender<Bytes>,
    deadline: Instant,
    drain: bool,
) -> bool {
    let mut client_here = true;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::time::timeout_at(deadline, stdout.read(&mut buffer)).await;
        let n = match read {
            Ok(Ok(n)) if n > 0 => n,
            _ => return client_here,
        };
        if client_here && tx.send(Bytes::copy_from_slice(&buffer[..n])).await.is_err() {
            client_here = false;
            if !drain {
                return false;
            }
        }
    }
}

/// Waits for a git process to exit, killing it at the deadline.
async fn end_child(mut child: Child, deadline: Instant) {
    if tokio::time::timeout_at(deadline, child.wait())
        .await
        .is_err()
    {
        tracing::warn!("git process ran past its time limit and was stopped");
        let _ = child.kill().await;
    }
}

fn channel_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, std::io::Error>(bytes), rx))
    });
    Body::from_stream(stream)
}

/// `POST /internal/git/hooks/{hook}`: a push's hook asks the server. Known
/// only by the push's token; answers with output lines and a verdict line.
pub async fn hook(
    State(state): State<AppState>,
    Path(hook): Path<String>,
    body: Bytes,
) -> GitResult<Response> {
    let request: HookRequest = serde_json::from_slice(&body)
        .map_err(|_| GitHttpError::BadRequest("Invalid hook request.".into()))?;
    let session = state
        .git
        .sessions
        .find(&request.token)
        .ok_or(GitHttpError::NotFound)?;
    if hook != "pre-receive" && hook != "post-receive" {
        return Err(GitHttpError::NotFound);
    }

    let (progress, mut lines) = Progress::channel();
    tokio::spawn(async move {
        let cx = PushContext {
            git: &state.git,
            store: &state.store,
            settings: &state.settings,
        };
        let accepted = match hook.as_str() {
            "pre-receive" => push::pre_receive(&cx, &session, &request, &progress).await,
            _ => {
                push::finish(&cx, &session, &progress).await;
                true
            }
        };
        let verdict = if accepted { "ok" } else { "refused" };
        progress.raw(format!("{VERDICT}{verdict}")).await;
    });

    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            if tx.send(Bytes::from(format!("{line}\n"))).await.is_err() {
                break;
            }
        }
    });
    Ok(git_response("text/plain; charset=utf-8", channel_body(rx)))
}
