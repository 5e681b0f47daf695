//! Where a run's logical time comes from. The clock is injectable so that timers and timeouts can be
//! tested without sleeping: `WEFT_NOW` (an RFC 3339 time, e.g. `2026-11-25T09:00:00Z`) fixes it, and
//! `WEFT_NOW=@FILE` reads it from a file whenever the file changes (for a server that runs on while a test
//! moves its time).

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

/// A clock that says the RFC 3339 time written in a file, read again whenever the file changes: how a test
/// moves the time of a long-running `weft serve` without waiting (`WEFT_NOW=@FILE`).
#[derive(Debug)]
pub struct FileClock {
    path: std::path::PathBuf,
    /// The file's modification time and the time it said then.
    last: std::sync::Mutex<(Option<SystemTime>, u64)>,
}

impl FileClock {
    /// The clock of the time in `path`.
    ///
    /// Errors: the file cannot be read, or does not hold an RFC 3339 time.
    pub fn new(path: &std::path::Path) -> Result<Self, String> {
        let clock = FileClock { path: path.to_path_buf(), last: std::sync::Mutex::new((None, 0)) };
        let ms = clock.read()?;
        *clock.last.lock().unwrap_or_else(|e| e.into_inner()) = (Self::modified(path), ms);
        Ok(clock)
    }

    fn modified(path: &std::path::Path) -> Option<SystemTime> {
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    fn read(&self) -> Result<u64, String> {
        let text =
            std::fs::read_to_string(&self.path).map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        parse_time(text.trim()).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

impl Clock for FileClock {
    fn now_ms(&self) -> u64 {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let modified = Self::modified(&self.path);
        if modified != last.0 {
            // A file being rewritten may be read half-written: keep the last time until it reads whole.
            if let Ok(ms) = self.read() {
                *last = (modified, ms);
            }
        }
        last.1
    }
}

/// The clock in force: fixed by `WEFT_NOW` when it holds a time, read from a file when it holds `@FILE`,
/// else the machine's.
///
/// Errors: `WEFT_NOW` is set but is neither an RFC 3339 time nor `@` and a readable file holding one.
pub fn from_env() -> Result<Box<dyn Clock>, String> {
    match std::env::var(NOW_VAR) {
        Ok(text) if text.starts_with('@') => {
            Ok(Box::new(FileClock::new(std::path::Path::new(&text[1..])).map_err(|e| format!("{NOW_VAR}: {e}"))?))
        }
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
    fn a_file_clock_says_the_time_in_its_file_as_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        std::fs::write(&path, "2026-11-25T09:00:00Z\n").unwrap();
        let clock = FileClock::new(&path).unwrap();
        assert_eq!(clock.now_ms(), parse_time("2026-11-25T09:00:00Z").unwrap());
        // A later modification time, so that the change is seen whatever the file system's resolution.
        std::fs::write(&path, "2026-11-28T09:00:00Z").unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
        assert_eq!(clock.now_ms(), parse_time("2026-11-28T09:00:00Z").unwrap());
        assert!(FileClock::new(&dir.path().join("none")).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn rfc3339_round_trips_through_milliseconds() {
        let ms = parse_time("2026-11-25T09:00:00.250Z").unwrap();
        assert_eq!(format_time(ms), "2026-11-25T09:00:00.250Z");
        assert!(parse_time("next tuesday").unwrap_err().contains("RFC 3339"));
    }
}
