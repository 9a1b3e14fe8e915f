//! Wall-clock time as the store records it: milliseconds since the Unix epoch.
//!
//! The operator can shift Slipway's clock with `SLIPWAY_CLOCK_OFFSET` (for
//! example `8d` or `-2h`), read once per process. It exists so that
//! time-dependent behaviour such as invitation expiry can be exercised end to
//! end; only whoever starts the process can set it, and `serve` logs a warning
//! when it is set.

use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat, Utc};

/// Environment variable that shifts the clock (see the module comment).
pub const OFFSET_VAR: &str = "SLIPWAY_CLOCK_OFFSET";

static OFFSET_MS: OnceLock<i64> = OnceLock::new();

/// The shift in force, in milliseconds (0 unless `SLIPWAY_CLOCK_OFFSET` is set).
/// An unparsable value is refused by [`check_offset`] at start-up; here it counts as 0.
pub fn offset_ms() -> i64 {
    *OFFSET_MS.get_or_init(|| {
        std::env::var(OFFSET_VAR)
            .ok()
            .and_then(|raw| parse_duration_ms(&raw).ok())
            .unwrap_or(0)
    })
}

/// Checks `SLIPWAY_CLOCK_OFFSET` and returns the shift, so that start-up can
/// refuse a malformed value instead of silently running unshifted.
pub fn check_offset() -> Result<i64, String> {
    match std::env::var(OFFSET_VAR) {
        Ok(raw) => parse_duration_ms(&raw).map_err(|e| format!("{OFFSET_VAR}: {e}")),
        Err(_) => Ok(0),
    }
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis() + offset_ms()
}

/// Formats a stored timestamp the way the Platform API does (`2026-12-04T15:04:26Z`).
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a duration such as `7d`, `36h`, `90m`, `45s` or a bare number of
/// seconds, optionally negative.
pub fn parse_duration_ms(raw: &str) -> Result<i64, String> {
    let text = raw.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (digits, unit_ms) = match text.char_indices().last() {
        Some((i, 'd')) => (&text[..i], 86_400_000),
        Some((i, 'h')) => (&text[..i], 3_600_000),
        Some((i, 'm')) => (&text[..i], 60_000),
        Some((i, 's')) => (&text[..i], 1_000),
        _ => (text, 1_000),
    };
    let amount: i64 = digits
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration (use e.g. 7d, 36h, 90m or 45s)"))?;
    let ms = amount
        .checked_mul(unit_ms)
        .filter(|ms| *ms <= 100 * 365 * 86_400_000)
        .ok_or_else(|| format!("{raw:?} is too long a duration"))?;
    Ok(if negative { -ms } else { ms })
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_ms("7d"), Ok(7 * 86_400_000));
        assert_eq!(parse_duration_ms("36h"), Ok(36 * 3_600_000));
        assert_eq!(parse_duration_ms("90m"), Ok(90 * 60_000));
        assert_eq!(parse_duration_ms("45"), Ok(45_000));
        assert_eq!(parse_duration_ms("-2h"), Ok(-2 * 3_600_000));
        for bad in ["", "d", "7w", "x7d", "99999999999999d"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} accepted");
        }
    }
}
