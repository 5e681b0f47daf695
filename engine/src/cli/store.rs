//! Which store a command uses: `--store PATH`, else `$WEFT_STORE`, else `weft/weft.db` in the user's data
//! directory (`$XDG_DATA_HOME`, else `~/.local/share`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{EXIT_BAD_INPUT, fail};
use crate::store::sqlite::{Durability, SqliteStore};

/// Store settings.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// The store file (SQLite; created when missing).
    #[arg(long, value_name = "PATH", env = "WEFT_STORE")]
    store: Option<PathBuf>,
    /// Commit with synchronous=NORMAL: faster, but the last supersteps may be redone after a power loss
    /// (never after a crash of weft itself), publishing their events again.
    #[arg(long)]
    fast_commits: bool,
}

impl StoreArgs {
    /// The store's path: as given, else the default.
    pub fn path(&self) -> Result<PathBuf, ExitCode> {
        let env = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        self.store
            .clone()
            .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("weft").join("weft.db")))
            .or_else(|| env("HOME").map(|d| d.join(".local/share/weft/weft.db")))
            .ok_or_else(|| fail(EXIT_BAD_INPUT, "no store: give --store PATH or set WEFT_STORE".into()))
    }

    /// Open the store.
    pub fn open(&self) -> Result<SqliteStore, ExitCode> {
        let durability = if self.fast_commits { Durability::Normal } else { Durability::Full };
        SqliteStore::open(&self.path()?, durability).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))
    }
}
