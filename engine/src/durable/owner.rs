//! Who holds a process instance: a `weft` process, named by its pid, host and start time, so that a
//! holder that was killed can be recognised as gone even if its pid was reused.
//!
//! The text form is `weft pid 1234 on HOST since TICKS` (TICKS: the process's start time in clock ticks
//! since boot, from `/proc/<pid>/stat`, field 22, proc(5)).

use std::fmt;

/// A `weft` process that may hold instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// Start time in clock ticks since boot (0 when unknown).
    pub since: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner { pid, host: host_name(), since: start_time(pid).unwrap_or(0) }
    }

    /// Parse the text form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Owner> {
        let rest = text.strip_prefix("weft pid ")?;
        let (pid, rest) = rest.split_once(" on ")?;
        let (host, since) = rest.rsplit_once(" since ")?;
        Some(Owner { pid: pid.parse().ok()?, host: host.into(), since: since.parse().ok()? })
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "weft pid {} on {} since {}", self.pid, self.host, self.since)
    }
}

/// Whether the holder named `text` is gone: a `weft` process on this host that no longer runs (its pid is
/// free, or now belongs to a process started at another time). A holder on another host, or one this
/// cannot read, is taken to be alive.
pub fn is_gone(text: &str) -> bool {
    let Some(owner) = Owner::parse(text) else { return false };
    if owner.host != host_name() {
        return false;
    }
    match start_time(owner.pid) {
        None => std::path::Path::new("/proc/self").exists(),
        Some(since) => since != owner.since,
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Field 22 of `/proc/<pid>/stat` (starttime), read after the command name, which may hold spaces.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first; starttime is field 22, the 20th from there.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_gone() {
        let me = Owner::current();
        assert_eq!(Owner::parse(&me.to_string()), Some(me.clone()));
        assert!(!is_gone(&me.to_string()));
        let reused = Owner { since: me.since + 1, ..me.clone() };
        assert!(is_gone(&reused.to_string()), "same pid, another start time: the pid was reused");
        let elsewhere = Owner { host: "another-host".into(), ..reused };
        assert!(!is_gone(&elsewhere.to_string()), "a holder on another host is taken to be alive");
    }
}
