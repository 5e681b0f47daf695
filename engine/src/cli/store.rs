//! Which store a command uses: `--store PATH`, else `$WEFT_STORE`, else `weft/weft.db` in the user's data
//! directory (`$XDG_DATA_HOME` when set to an absolute path, else `~/.local/share`); and how long a
//! command's leases last.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{EXIT_BAD_INPUT, fail};
use crate::durable::LEASE_VAR;
use crate::store::Store;
use crate::store::sqlite::{Durability, SqliteStore};

// Store settings.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// The store file (SQLite, on a local disk; created when missing).
    #[arg(long, value_name = "PATH", env = "WEFT_STORE")]
    store: Option<PathBuf>,
    /// Commit with synchronous=NORMAL: faster, but a power loss or an operating-system crash (never a
    /// crash of weft itself) may lose the last commits, whose events were already published: the
    /// supersteps are run again, and an event may then be published again under the same id with other
    /// content (docs/durability.md).
    #[arg(long)]
    fast_commits: bool,
    /// How long this command's hold on an instance lasts without renewal (it renews it while it works); a
    /// holder killed without letting go is taken over once its lease runs out.
    #[arg(long, value_name = "DURATION", env = LEASE_VAR, default_value = "5s", value_parser = lease_period)]
    lease: Duration,
}

/// A lease period: a whole number and a unit (`ms`, `s`, `m`), at least 30 ms.
fn lease_period(text: &str) -> Result<Duration, String> {
    let ms = weft_definitions::Duration(text.into())
        .millis()
        .ok_or_else(|| format!("\"{text}\" is not a duration; write e.g. 5s or 500ms"))?;
    if ms < 30 {
        return Err(format!("a lease of {text} is too short to renew; give at least 30ms"));
    }
    Ok(Duration::from_millis(ms))
}

impl StoreArgs {
    /// The store's path: as given, else the default.
    pub fn path(&self) -> Result<PathBuf, ExitCode> {
        self.store
            .clone()
            .or_else(|| crate::dirs::base_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("weft/weft.db")))
            .ok_or_else(|| fail(EXIT_BAD_INPUT, "no store: give --store PATH or set WEFT_STORE".into()))
    }

    /// Open the store.
    pub fn open(&self) -> Result<Arc<dyn Store>, ExitCode> {
        Ok(self.open_sqlite()?)
    }

    /// Open the store for a server: its write-ahead log checkpointed on a thread of its own
    /// ([`SqliteStore::checkpoint_in_background`]).
    pub fn open_serving(&self) -> Result<Arc<dyn Store>, ExitCode> {
        let store = self.open_sqlite()?;
        store.checkpoint_in_background().map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?;
        Ok(store)
    }

    fn open_sqlite(&self) -> Result<Arc<SqliteStore>, ExitCode> {
        let durability = if self.fast_commits { Durability::Normal } else { Durability::Full };
        let store = SqliteStore::open(&self.path()?, durability).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?;
        Ok(Arc::new(store))
    }

    /// The lease period (default [`DEFAULT_LEASE`](crate::durable::DEFAULT_LEASE)).
    pub fn lease(&self) -> Duration {
        self.lease
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_lease_is_the_engine_default() {
        assert_eq!(super::lease_period("5s"), Ok(crate::durable::DEFAULT_LEASE));
        assert!(super::lease_period("1ms").unwrap_err().contains("too short"));
    }
}
