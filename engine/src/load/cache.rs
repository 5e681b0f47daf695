//! On-disk cache of compiled components.
//!
//! Compiling a component costs milliseconds for a small Rust guest and seconds for a Python or JS one;
//! loading its precompiled form costs far less. Entries live at
//! `DIR/<engine compatibility hash>/<sha256 of the component>.cwasm`, so an engine with other settings or
//! another wasmtime version never reads a stale entry. Entries are written to a temporary file and renamed,
//! so a crash never leaves a half-written entry under its final name.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a component came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheStatus {
    /// Loaded precompiled from the cache.
    Hit,
    /// Compiled now (and stored, if the cache is on).
    Miss,
    /// The cache is off; compiled now.
    Off,
}

/// The cache directory for one engine configuration, or none.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: Option<PathBuf>,
}

impl CompiledCache {
    /// A cache under `root` for `engine`'s compatibility hash; `None` turns caching off.
    pub fn new(root: Option<PathBuf>, engine: &Engine) -> Self {
        let dir = root.map(|root| {
            let mut hasher = DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut hasher);
            root.join(format!("{:016x}", hasher.finish()))
        });
        CompiledCache { dir }
    }

    /// The default root: `$WEFT_CACHE_DIR`, else `$XDG_CACHE_HOME/weft` (an absolute path), else
    /// `$HOME/.cache/weft`.
    pub fn default_root() -> Option<PathBuf> {
        crate::dirs::env_path("WEFT_CACHE_DIR")
            .or_else(|| crate::dirs::base_dir("XDG_CACHE_HOME", ".cache").map(|d| d.join("weft")))
    }

    /// Whether the cache holds the compiled form of the component whose SHA-256 (hex) is `digest`.
    pub fn contains(&self, digest: &str) -> bool {
        self.entry(digest).is_some_and(|e| e.is_file())
    }

    /// The component whose SHA-256 (hex) is `digest`, from the cache, if it is there and readable (an
    /// unreadable entry is logged at `warn` and ignored: the cache only ever saves time).
    pub fn cached(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let entry = self.entry(digest).filter(|e| e.is_file())?;
        // SAFETY: entries are written only by `compile` below, from `Component::serialize` of the same
        // engine configuration (the directory is keyed by its compatibility hash), and wasmtime checks
        // the header's version and settings again before using it.
        match unsafe { Component::deserialize_file(engine, &entry) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(entry = %entry.display(), "ignoring unreadable cache entry: {e:#}");
                None
            }
        }
    }

    /// The component in `bytes` (SHA-256 `digest`, hex), compiled now and stored in the cache if it is on
    /// (a failure to store it is logged at `warn`).
    ///
    /// Errors: wasmtime's, when `bytes` is not a valid component.
    pub fn compile(&self, engine: &Engine, bytes: &[u8], digest: &str) -> wasmtime::Result<(Component, CacheStatus)> {
        let component = Component::from_binary(engine, bytes)?;
        let Some(entry) = self.entry(digest) else { return Ok((component, CacheStatus::Off)) };
        if let Err(e) = store(&component, &entry) {
            tracing::warn!(entry = %entry.display(), "could not write cache entry: {e:#}");
        }
        Ok((component, CacheStatus::Miss))
    }

    fn entry(&self, digest: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(format!("{digest}.cwasm")))
    }
}

/// Write `component` to `entry` ([`write_entry`]), its pages dropped from the page cache before it is named
/// ([`drop_from_page_cache`]).
fn store(component: &Component, entry: &Path) -> wasmtime::Result<()> {
    Ok(write_entry_then(entry, &component.serialize()?, |file| drop_from_page_cache(file, entry))?)
}

/// Write the file's pages to disk and drop them from the kernel's page cache (`fdatasync`, then
/// `posix_fadvise(POSIX_FADV_DONTNEED)`, which skips pages not yet written), so that the next command
/// reads the entry back as any file read from disk. Pages a program writes are cached in large pieces
/// (folios of up to megabytes), and a command mapping the entry then counts a whole piece as resident
/// for each page of code it runs: food delivery's peak was 72 MB with its Python components' entries
/// just written, 56 MB once they had been read back (`/usr/bin/time`, Linux 6.18). Best effort: a
/// failure is logged at `debug`, as it costs memory shown, not correctness. Only where `posix_fadvise`
/// exists; elsewhere nothing is done (a sync alone would only cost time).
fn drop_from_page_cache(file: &std::fs::File, entry: &Path) {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    if let Err(e) =
        file.sync_data().and_then(|()| Ok(rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed)?))
    {
        tracing::debug!(entry = %entry.display(), "could not drop the cache entry from the page cache: {e}");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let _ = (file, entry);
}

/// Write `content` to a temporary file of its own beside `entry` (its folder made if missing), then rename
/// it to `entry` (atomic on one file system), so concurrent writers and crashes never expose a partial
/// entry: how every entry of the cache's root is written (compiled code, the digest record, accepted
/// definitions).
pub(super) fn write_entry(entry: &Path, content: &[u8]) -> std::io::Result<()> {
    write_entry_then(entry, content, |_| ())
}

/// [`write_entry`], calling `before_naming` with the written temporary file before it is renamed.
fn write_entry_then(entry: &Path, content: &[u8], before_naming: impl FnOnce(&std::fs::File)) -> std::io::Result<()> {
    let dir = entry.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut temp, content)?;
    before_naming(temp.as_file());
    temp.persist(entry).map_err(|e| e.error)?;
    Ok(())
}
