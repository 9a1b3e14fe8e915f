//! The HTTP client the CLI commands share: base URL, API key, and errors
//! turned into the server's own message.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::netrc;

pub const DEFAULT_API_URL: &str = "http://127.0.0.1:5000";

pub struct Api {
    pub base: url::Url,
    key: Option<String>,
    http: Client,
}

/// Where the API is: `SLIPWAY_API_URL` or the default.
pub fn api_url() -> anyhow::Result<url::Url> {
    let raw = std::env::var("SLIPWAY_API_URL").unwrap_or_else(|_| DEFAULT_API_URL.to_string());
    let url =
        url::Url::parse(&raw).with_context(|| format!("SLIPWAY_API_URL {raw:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("SLIPWAY_API_URL {raw:?} must be an http:// or https:// URL");
    }
    Ok(url)
}

/// The netrc machine name for the API: its bare host, as curl and git match it.
pub fn netrc_machine(base: &url::Url) -> String {
    base.host_str().unwrap_or_default().to_string()
}

impl Api {
    /// A client with the key from `SLIPWAY_API_KEY`, else from `~/.netrc`.
    pub fn from_env() -> anyhow::Result<Api> {
        let base = api_url()?;
        let key = std::env::var("SLIPWAY_API_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .or_else(|| netrc::find(&netrc_machine(&base)).map(|e| e.password));
        Ok(Api {
            base,
            key,
            http: Client::builder()
                .timeout(Duration::from_secs(120))
                .user_agent(concat!("slipway-cli/", env!("CARGO_PKG_VERSION")))
                .build()?,
        })
    }

    pub fn with_key(mut self, key: Option<String>) -> Api {
        self.key = key;
        self
    }

    pub fn request(&self, method: Method, path: &str) -> anyhow::Result<RequestBuilder> {
        let url = self.base.join(path.trim_start_matches('/'))?;
        let mut builder = self
            .http
            .request(method, url)
            .header("Accept", "application/vnd.heroku+json; version=3");
        if let Some(key) = &self.key {
            builder = builder.bearer_auth(key);
        }
        Ok(builder)
    }

    /// Sends the request and returns the JSON body, or the server's message.
    pub fn send(&self, builder: RequestBuilder) -> anyhow::Result<Value> {
        let request = builder.build()?;
        // Login sends a password, not a key: a 401 then means wrong credentials.
        let had_credentials = request
            .headers()
            .contains_key(reqwest::header::AUTHORIZATION);
        let response = self
            .http
            .execute(request)
            .with_context(|| format!("cannot reach the Slipway API at {}", self.base))?;
        read_json(response, had_credentials)
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.get_all(path)
    }

    /// GETs a list, following `Next-Range` until the last page.
    pub fn get_all(&self, path: &str) -> anyhow::Result<Value> {
        let mut range: Option<String> = None;
        let mut collected: Vec<Value> = Vec::new();
        for _ in 0..10_000 {
            let mut builder = self.request(Method::GET, path)?;
            if let Some(range) = &range {
                builder = builder.header("Range", range);
            }
            let response = builder
                .send()
                .with_context(|| format!("cannot reach the Slipway API at {}", self.base))?;
            let next = response
                .headers()
                .get("next-range")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = read_json(response, self.key.is_some())?;
            match (body, next) {
                (Value::Array(items), Some(next)) => {
                    collected.extend(items);
                    range = Some(next);
                }
                (Value::Array(items), None) if range.is_some() => {
                    collected.extend(items);
                    return Ok(Value::Array(collected));
                }
                (body, _) => return Ok(body),
            }
        }
        bail!("the server kept sending more pages of {path}")
    }

    pub fn send_json(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.request(method, path)?.json(body))
    }
}

/// An error answer from the API, shown as the server's message; callers
/// that care about the status find it with `downcast_ref`.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiFailure {}

fn read_json(response: Response, had_key: bool) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    if status == StatusCode::UNAUTHORIZED && !had_key {
        return Err(anyhow!(
            "You are not logged in. Run `slipway login`, or set SLIPWAY_API_KEY."
        ));
    }
    let message = match body.get("message").and_then(Value::as_str) {
        Some(message) => message.to_string(),
        None => format!("HTTP {status}: {}", text.trim()),
    };
    Err(ApiFailure { status, message }.into())
}

/// Characters escaped in a path segment: all but unreserved ones and `@`.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// Percent-encodes one path segment (emails, app names).
pub fn segment(raw: &str) -> String {
    percent_encoding::utf8_percent_encode(raw, SEGMENT).to_string()
}
