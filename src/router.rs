//! The router: `http://APP.<apps domain>:PORT/` goes to one of the app's web
//! dynos. Bodies stream both ways and upgraded connections (websockets) are
//! spliced through; every request gets forwarding headers, a request id and
//! an access line in the app's log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::names;
use crate::runtime::logs::LogBook;
use crate::runtime::{InflightGuard, SharedRuntime};
use crate::store::{apps, Store};

/// How long an app name's lookup is trusted (renames and deletes show
/// within this).
const NAME_TTL: Duration = Duration::from_secs(2);

/// App name -> (when looked up, app id if it exists).
type NameCache = HashMap<String, (Instant, Option<String>)>;

#[derive(Clone)]
pub struct RouterState {
    store: Store,
    runtime: SharedRuntime,
    logs: LogBook,
    apps_domain: String,
    port: u16,
    client: Client<HttpConnector, Body>,
    names: Arc<Mutex<NameCache>>,
}

impl RouterState {
    pub fn new(
        store: Store,
        runtime: SharedRuntime,
        logs: LogBook,
        apps_domain: &str,
        port: u16,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        RouterState {
            store,
            runtime,
            logs,
            apps_domain: apps_domain.trim_matches('.').to_ascii_lowercase(),
            port,
            client,
            names: Arc::default(),
        }
    }

    /// The app id for a name, from a short-lived cache or the store.
    async fn resolve(&self, name: &str) -> Option<String> {
        if let Some((at, id)) = self.names.lock().expect("names lock").get(name) {
            if at.elapsed() < NAME_TTL {
                return id.clone();
            }
        }
        let found = match self.store.read().await {
            Ok(mut conn) => apps::find(&mut conn, name).await,
            Err(error) => Err(error),
        };
        let id = match found {
            Ok(app) => app.map(|a| a.id),
            Err(error) => {
                tracing::error!(%error, "router cannot look up an app");
                return None;
            }
        };
        let mut cache = self.names.lock().expect("names lock");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(name.to_string(), (Instant::now(), id.clone()));
        id
    }
}

/// Serves the router on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: RouterState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(proxy).with_state(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// `demo.localhost:8080` -> `demo`, when the host is under the apps domain.
pub fn app_from_host<'a>(host: &'a str, apps_domain: &str) -> Option<&'a str> {
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let host = host.trim_end_matches('.');
    let app = host.strip_suffix(apps_domain)?.strip_suffix('.')?;
    names::validate_app_name(app).ok().map(|_| app)
}

async fn proxy(
    State(state): State<RouterState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let started = Instant::now();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let Some(app_name) = app_from_host(&host, &state.apps_domain) else {
        return page(StatusCode::NOT_FOUND, NO_SUCH_APP);
    };
    let Some(app_id) = state.resolve(app_name).await else {
        return page(StatusCode::NOT_FOUND, NO_SUCH_APP);
    };
    let request_id = request_id(request.headers());
    let mut line = AccessLine::new(&request, &host, &request_id, peer);

    let Some(guard) = state.runtime.pick_web(&app_id) else {
        line.error("H14", "No web processes running", 503);
        state
            .logs
            .push(&app_id, "heroku", "router", &line.render(started));
        return page(StatusCode::SERVICE_UNAVAILABLE, APP_ERROR);
    };
    line.dyno = guard.target().dyno.clone();
    let client_upgrade = wants_upgrade(request.headers()).then(|| hyper::upgrade::on(&mut request));
    let upstream = upstream_request(request, &state, &guard, &host, &request_id, peer);

    let response = match state.client.request(upstream).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(app.id = %app_id, %error, "a dyno did not answer");
            line.error("H13", "Connection closed without response", 503);
            state
                .logs
                .push(&app_id, "heroku", "router", &line.render(started));
            return page(StatusCode::SERVICE_UNAVAILABLE, APP_ERROR);
        }
    };
    line.status = response.status().as_u16();
    line.bytes = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    state
        .logs
        .push(&app_id, "heroku", "router", &line.render(started));

    match client_upgrade {
        Some(client) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
            splice_upgrade(client, response, guard)
        }
        _ => downstream_response(response, guard),
    }
}

/// The request as the dyno sees it: its own address, no hop-by-hop headers
/// (but the upgrade ones), and the forwarding headers.
fn upstream_request(
    request: Request,
    state: &RouterState,
    guard: &InflightGuard,
    host: &str,
    request_id: &str,
    peer: SocketAddr,
) -> Request {
    let (mut parts, body) = request.into_parts();
    let upgrading = wants_upgrade(&parts.headers);
    strip_hop_by_hop(&mut parts.headers, upgrading);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    parts.uri = Uri::try_from(format!("http://{}{path}", guard.target().addr))
        .unwrap_or_else(|_| Uri::from_static("/"));
    parts.version = axum::http::Version::HTTP_11;

    let headers = &mut parts.headers;
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    set(headers, "x-forwarded-for", &forwarded_for);
    set(headers, "x-forwarded-proto", "http");
    set(headers, "x-forwarded-host", host);
    set(headers, "x-forwarded-port", &state.port.to_string());
    set(headers, "x-request-id", request_id);
    if let Ok(value) = HeaderValue::from_str(host) {
        headers.insert(header::HOST, value);
    }
    Request::from_parts(parts, body)
}

/// The dyno's answer streamed back; the dyno counts as busy until the body
/// has been sent.
fn downstream_response(
    response: axum::http::Response<hyper::body::Incoming>,
    guard: InflightGuard,
) -> Response {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    let body = body.map_frame(move |frame| {
        let _busy = &guard;
        frame
    });
    Response::from_parts(parts, Body::new(body))
}

/// Answers 101 to the client and copies bytes both ways between the two
/// upgraded connections until either side closes.
fn splice_upgrade(
    client: hyper::upgrade::OnUpgrade,
    mut response: axum::http::Response<hyper::body::Incoming>,
    guard: InflightGuard,
) -> Response {
    let dyno = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let _busy = guard;
        match tokio::try_join!(client, dyno) {
            Ok((client, dyno)) => {
                let mut client = TokioIo::new(client);
                let mut dyno = TokioIo::new(dyno);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut dyno).await;
            }
            Err(error) => tracing::debug!(%error, "an upgrade did not complete"),
        }
    });
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Body::empty())
}

fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Removes headers that describe one connection, not the message.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|name| !(keep_upgrade && name == header::UPGRADE))
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
    ] {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// The client's `X-Request-Id` when it looks like one, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (20..=200).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '='))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// One router line, as Heroku writes it.
struct AccessLine {
    method: String,
    path: String,
    host: String,
    request_id: String,
    fwd: String,
    dyno: String,
    status: u16,
    bytes: Option<u64>,
    error: Option<(&'static str, &'static str)>,
}

impl AccessLine {
    fn new(request: &Request, host: &str, request_id: &str, peer: SocketAddr) -> Self {
        let path: String = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .chars()
            .take(512)
            .collect();
        AccessLine {
            method: request.method().to_string(),
            path: path.replace('"', "%22"),
            host: host.to_string(),
            request_id: request_id.to_string(),
            fwd: peer.ip().to_string(),
            dyno: String::new(),
            status: 0,
            bytes: None,
            error: None,
        }
    }

    fn error(&mut self, code: &'static str, desc: &'static str, status: u16) {
        self.error = Some((code, desc));
        self.status = status;
    }

    fn render(&self, started: Instant) -> String {
        let service = started.elapsed().as_millis();
        let head = match self.error {
            Some((code, desc)) => format!("at=error code={code} desc=\"{desc}\""),
            None => "at=info".to_string(),
        };
        let bytes = self.bytes.map(|b| b.to_string()).unwrap_or_default();
        format!(
            "{head} method={} path=\"{}\" host={} request_id={} fwd=\"{}\" dyno={} \
             service={service}ms status={} bytes={bytes} protocol=http",
            self.method, self.path, self.host, self.request_id, self.fwd, self.dyno, self.status
        )
    }
}

const NO_SUCH_APP: &str = "There is no app configured at that hostname.";
const APP_ERROR: &str = "An error occurred in the application and your page could not be served. \
     Try again in a few moments.";

fn page(status: StatusCode, message: &str) -> Response {
    let title = if status == StatusCode::NOT_FOUND {
        "No such app"
    } else {
        "Application error"
    };
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_come_from_the_host() {
        assert_eq!(
            app_from_host("demo-app.localhost:8080", "localhost"),
            Some("demo-app")
        );
        assert_eq!(
            app_from_host("demo-app.localhost", "localhost"),
            Some("demo-app")
        );
        assert_eq!(
            app_from_host("demo-app.apps.example.", "apps.example"),
            Some("demo-app")
        );
        assert_eq!(app_from_host("localhost:8080", "localhost"), None);
        assert_eq!(app_from_host("a.b.localhost", "localhost"), None);
        assert_eq!(app_from_host("demo-appxlocalhost", "localhost"), None);
        assert_eq!(app_from_host("../x.localhost", "localhost"), None);
    }

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers, false);
        let left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-kept"]);
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-request-id",
            HeaderValue::from_static("abcdefghij0123456789"),
        );
        assert_eq!(request_id(&headers), "abcdefghij0123456789");
        headers.insert("x-request-id", HeaderValue::from_static("short"));
        assert_ne!(request_id(&headers), "short");
    }
}
