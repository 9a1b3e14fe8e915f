//! List pagination with Heroku's `Range` / `Next-Range` headers.
//!
//! A client asks `Range: name ]last-seen..; max=200, order=desc`; a list
//! that does not fit answers 206 with a `Next-Range` to ask for the rest. The
//! last page never carries `Next-Range`, or the Heroku CLI would loop.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const DEFAULT_MAX: usize = 200;
pub const LIMIT_MAX: usize = 1000;

/// A sort key: numbers sort as numbers, text as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RangeKey {
    Number(i64),
    Text(String),
}

impl RangeKey {
    fn parse_like(&self, raw: &str) -> RangeKey {
        match self {
            RangeKey::Number(_) => raw
                .parse()
                .map(RangeKey::Number)
                .unwrap_or(RangeKey::Number(i64::MIN)),
            RangeKey::Text(_) => RangeKey::Text(raw.to_string()),
        }
    }

    fn render(&self) -> String {
        match self {
            RangeKey::Number(n) => n.to_string(),
            RangeKey::Text(s) => s.clone(),
        }
    }
}

#[derive(Debug, Default, PartialEq)]
struct RangeRequest {
    start: Option<String>,
    exclusive: bool,
    max: Option<usize>,
    descending: bool,
}

fn parse_range(header: &str) -> RangeRequest {
    let mut request = RangeRequest::default();
    let (spec, options) = header.split_once(';').unwrap_or((header, ""));
    // "name ]value.." — the field name is ours to choose, so it is not checked.
    if let Some((_, bounds)) = spec.trim().split_once(' ') {
        // The last `..` ends the start: keys such as emails may hold `..` too.
        let bounds = bounds.trim();
        let start = bounds.rsplit_once("..").map_or(bounds, |(start, _)| start);
        let (exclusive, start) = match start.strip_prefix(']') {
            Some(rest) => (true, rest),
            None => (false, start),
        };
        if !start.is_empty() {
            request.start = Some(start.to_string());
            request.exclusive = exclusive;
        }
    }
    for option in options.split(',') {
        let Some((key, value)) = option.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            "max" => request.max = value.trim().parse().ok(),
            "order" => request.descending = value.trim() == "desc",
            _ => {}
        }
    }
    request
}

/// One page of a list, and the `Next-Range` that asks for the rest.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_range: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_range: self.next_range,
        }
    }
}

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let mut response = axum::Json(&self.items).into_response();
        if let Some(value) = self.next_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert("next-range", value);
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        response
    }
}

/// Picks the page a list request asks for: `items` in any order, `field`
/// names the sort key.
pub fn paginate<T>(
    headers: &HeaderMap,
    field: &str,
    mut items: Vec<T>,
    key: impl Fn(&T) -> RangeKey,
) -> Page<T> {
    let request = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(parse_range)
        .unwrap_or_default();
    let max = request.max.unwrap_or(DEFAULT_MAX).clamp(1, LIMIT_MAX);

    items.sort_by_key(&key);
    if request.descending {
        items.reverse();
    }
    if let Some(start) = &request.start {
        items.retain(|item| {
            let k = key(item);
            let start = k.parse_like(start);
            match (request.descending, request.exclusive) {
                (false, true) => k > start,
                (false, false) => k >= start,
                (true, true) => k < start,
                (true, false) => k <= start,
            }
        });
    }

    let more = items.len() > max;
    items.truncate(max);
    let next_range = more
        .then(|| items.last().map(|last| key(last).render()))
        .flatten()
        .map(|last| {
            let order = if request.descending {
                ", order=desc"
            } else {
                ""
            };
            format!("{field} ]{last}..; max={max}{order}")
        });
    Page { items, next_range }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_the_cli_sends() {
        assert_eq!(parse_range("name ..; max=2").max, Some(2));
        let r = parse_range("name ]p1..; max=2");
        assert_eq!((r.start.as_deref(), r.exclusive), (Some("p1"), true));
        let r = parse_range("version ..; max=15, order=desc");
        assert_eq!((r.max, r.descending), (Some(15), true));
        let r = parse_range("version ..; order=desc,max=1");
        assert_eq!((r.max, r.descending), (Some(1), true));
        assert_eq!(parse_range(""), RangeRequest::default());
        let r = parse_range("email ]a..b@example.com..; max=1");
        assert_eq!(r.start.as_deref(), Some("a..b@example.com"));
    }

    fn page(range: &str, items: Vec<i64>) -> (StatusCode, Option<String>) {
        let mut headers = HeaderMap::new();
        headers.insert("range", HeaderValue::from_str(range).unwrap());
        let response =
            paginate(&headers, "version", items, |n| RangeKey::Number(*n)).into_response();
        let next = response
            .headers()
            .get("next-range")
            .map(|v| v.to_str().unwrap().to_string());
        (response.status(), next)
    }

    #[test]
    fn last_page_has_no_next_range() {
        let (status, next) = page("version ..; max=2", vec![3, 1, 2]);
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(next.as_deref(), Some("version ]2..; max=2"));
        let (status, next) = page("version ]2..; max=2", vec![3, 1, 2]);
        assert_eq!((status, next), (StatusCode::OK, None));
        let (_, next) = page("version ..; max=2, order=desc", vec![3, 1, 2, 10]);
        assert_eq!(next.as_deref(), Some("version ]3..; max=2, order=desc"));
    }
}
