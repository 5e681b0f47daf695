//! Where a run's logical time comes from. The clock is injectable so that timers and timeouts can be
//! tested without sleeping: `WEFT_NOW` (an RFC 3339 time, e.g. `2026-11-25T09:00:00Z`) fixes it.

use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that fixes the clock (RFC 3339).
pub const NOW_VAR: &str = "WEFT_NOW";

/// A source of the current time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        self.0
    }
}

/// Parse an RFC 3339 time into milliseconds since the Unix epoch.
///
/// Errors: text saying what is wrong and giving an example.
pub fn parse_time(text: &str) -> Result<u64, String> {
    let time = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("\"{text}\" is not an RFC 3339 time ({e}); write e.g. 2026-11-25T09:00:00Z"))?;
    u64::try_from(time.timestamp_millis()).map_err(|_| format!("\"{text}\" is before 1970"))
}

/// Format milliseconds since the Unix epoch as RFC 3339 in UTC with milliseconds.
pub fn format_time(ms: u64) -> String {
    let time = i64::try_from(ms).ok().and_then(chrono::DateTime::from_timestamp_millis).unwrap_or_default();
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The clock in force: fixed by `WEFT_NOW` when it is set, else the machine's.
///
/// Errors: `WEFT_NOW` is set but is not an RFC 3339 time.
pub fn from_env() -> Result<Box<dyn Clock>, String> {
    match std::env::var(NOW_VAR) {
        Ok(text) if !text.is_empty() => {
            let ms = parse_time(&text).map_err(|e| format!("{NOW_VAR}: {e}"))?;
            Ok(Box::new(FixedClock(ms)))
        }
        _ => Ok(Box::new(SystemClock)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_through_milliseconds() {
        let ms = parse_time("2026-11-25T09:00:00.250Z").unwrap();
        assert_eq!(format_time(ms), "2026-11-25T09:00:00.250Z");
        assert!(parse_time("next tuesday").unwrap_err().contains("RFC 3339"));
    }
}
