//! Per-app logs: dyno output, router access lines and platform events, kept
//! in a bounded ring buffer and fanned out to live streams.
//!
//! Logs live in memory only: they are recent history for `logs` and
//! `logs --tail`, not an archive, and a restart of `slipway serve` empties them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::clock;

/// Lines kept per app, as many as Heroku's `logs -n` may ask for.
pub const KEEP_LINES: usize = 1500;

/// Longest line kept; longer output is cut.
pub const MAX_LINE: usize = 8 * 1024;

/// One log line: `2026-12-04T15:04:26.123456+00:00 app[web.1]: text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Counts up per app, so that a stream can resume after a reconnect.
    pub seq: u64,
    pub at_ms: i64,
    /// `app` for what the app writes, `heroku` for the platform's own lines.
    pub source: &'static str,
    /// `web.1`, `router`, `api`.
    pub dyno: String,
    pub text: String,
}

impl LogLine {
    pub fn render(&self) -> String {
        let at = chrono::DateTime::from_timestamp_millis(self.at_ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.6f+00:00");
        format!("{at} {}[{}]: {}", self.source, self.dyno, self.text)
    }

    /// Whether the line passes `--source` and `--dyno` filters (a dyno
    /// filter of `web` takes every `web.N`).
    pub fn matches(&self, source: Option<&str>, dyno: Option<&str>) -> bool {
        let source_ok = source.is_none_or(|s| s == self.source);
        let dyno_ok = dyno.is_none_or(|d| {
            self.dyno == d
                || self
                    .dyno
                    .strip_prefix(d)
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        source_ok && dyno_ok
    }
}

struct AppLog {
    lines: VecDeque<Arc<LogLine>>,
    next_seq: u64,
    live: broadcast::Sender<Arc<LogLine>>,
}

impl AppLog {
    fn new() -> Self {
        AppLog {
            lines: VecDeque::new(),
            next_seq: 1,
            live: broadcast::channel(1024).0,
        }
    }
}

/// Every app's recent log lines. Cheap to clone.
#[derive(Clone, Default)]
pub struct LogBook {
    apps: Arc<Mutex<HashMap<String, AppLog>>>,
}

impl LogBook {
    /// Adds a line to the app's log, cutting it to [`MAX_LINE`].
    pub fn push(&self, app_id: &str, source: &'static str, dyno: &str, text: &str) {
        let text = truncate(text.trim_end_matches(['\r', '\n']), MAX_LINE);
        let mut apps = self.apps.lock().expect("log book lock");
        let log = apps.entry(app_id.to_string()).or_insert_with(AppLog::new);
        let line = Arc::new(LogLine {
            seq: log.next_seq,
            at_ms: clock::now_ms(),
            source,
            dyno: dyno.to_string(),
            text: text.to_string(),
        });
        log.next_seq += 1;
        if log.lines.len() == KEEP_LINES {
            log.lines.pop_front();
        }
        log.lines.push_back(line.clone());
        // No live readers is the usual case, not an error.
        let _ = log.live.send(line);
    }

    /// A platform event (`app[api]: Release v3 created by ...`).
    pub fn event(&self, app_id: &str, text: &str) {
        self.push(app_id, "app", "api", text);
    }

    /// The last `count` lines that pass the filters, and a receiver of the
    /// lines that come after them.
    pub fn recent(
        &self,
        app_id: &str,
        count: usize,
        source: Option<&str>,
        dyno: Option<&str>,
    ) -> (Vec<Arc<LogLine>>, broadcast::Receiver<Arc<LogLine>>) {
        let mut apps = self.apps.lock().expect("log book lock");
        let log = apps.entry(app_id.to_string()).or_insert_with(AppLog::new);
        let mut picked: Vec<Arc<LogLine>> = log
            .lines
            .iter()
            .rev()
            .filter(|line| line.matches(source, dyno))
            .take(count)
            .cloned()
            .collect();
        picked.reverse();
        (picked, log.live.subscribe())
    }

    /// Forgets an app's lines (the app was deleted).
    pub fn forget(&self, app_id: &str) {
        self.apps.lock().expect("log book lock").remove(app_id);
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_keeps_only_the_latest_lines() {
        let book = LogBook::default();
        for i in 0..KEEP_LINES + 10 {
            book.push("a", "app", "web.1", &format!("line {i}"));
        }
        let (all, _) = book.recent("a", usize::MAX, None, None);
        assert_eq!(all.len(), KEEP_LINES);
        assert_eq!(all[0].text, "line 10");
        assert_eq!(all.last().unwrap().text, format!("line {}", KEEP_LINES + 9));
    }

    #[test]
    fn filters_by_source_and_dyno() {
        let book = LogBook::default();
        book.push("a", "app", "web.1", "one");
        book.push("a", "app", "web.12", "twelve");
        book.push("a", "heroku", "router", "GET /");
        book.push("a", "app", "worker.1", "work");
        let texts = |source, dyno| {
            let (lines, _) = book.recent("a", 10, source, dyno);
            lines.iter().map(|l| l.text.clone()).collect::<Vec<_>>()
        };
        assert_eq!(texts(None, Some("web")), ["one", "twelve"]);
        assert_eq!(texts(None, Some("web.1")), ["one"]);
        assert_eq!(texts(Some("heroku"), None), ["GET /"]);
        assert_eq!(texts(None, None).len(), 4);
        assert_eq!(book.recent("a", 2, None, None).0.len(), 2);
    }

    #[test]
    fn lines_render_like_heroku_and_are_cut() {
        let book = LogBook::default();
        book.push("a", "app", "web.1", &"x".repeat(MAX_LINE * 2));
        let (lines, _) = book.recent("a", 1, None, None);
        assert_eq!(lines[0].text.len(), MAX_LINE);
        let rendered = lines[0].render();
        assert!(rendered.contains("+00:00 app[web.1]: xxx"), "{rendered}");
    }
}
