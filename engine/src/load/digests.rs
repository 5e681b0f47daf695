//! The digest record: the SHA-256 of each component file Weft has read, kept beside the compiled-code
//! cache with the file's identity when it was read (device, inode, size, modification and change times
//! to the nanosecond), so that a later load of the unchanged file needs neither to read nor to hash it.
//!
//! The rule is git's for its index ("racily clean" entries): a file's digest is recorded only when the
//! file was last changed at least [`SETTLED`] before it was read, so a write landing in the same tick of
//! the file system's clock as the read cannot leave a record that still matches. Any later write changes
//! the change time (which no program can set back), and the record no longer matches: the file is read
//! and hashed again. Whatever the record says, bytes read later are checked against the digest
//! ([`crate::blob::Blob::bytes`]). A record that cannot be read or written is ignored: it only saves time.
//! Entries live at `DIR/files/<first 32 hex digits of the SHA-256 of the file's path>`, one line each:
//! `v1 DEV INODE SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS DIGEST`.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::cache::write_entry;

/// How long before it is read a file must have been last changed for its digest to be recorded.
pub const SETTLED: Duration = Duration::from_secs(2);

/// Where digests are recorded, or nowhere (the compiled-code cache is off).
#[derive(Debug, Clone)]
pub struct FileDigests {
    dir: Option<PathBuf>,
}

impl FileDigests {
    /// A record under `root` (the compiled-code cache's root), or none.
    pub fn new(root: Option<&Path>) -> Self {
        FileDigests { dir: root.map(|r| r.join("files")) }
    }

    /// The digest recorded for `file` if it is unchanged since (its metadata now is `meta`).
    pub fn recalled(&self, file: &Path, meta: &Metadata) -> Option<String> {
        let entry = self.entry(file)?;
        let line = std::fs::read_to_string(entry).ok()?;
        let (identity, digest) = line.trim_end().rsplit_once(' ')?;
        (crate::data::is_sha256_hex(digest) && identity == self::identity(meta)?).then(|| digest.to_owned())
    }

    /// Record `digest` for `file`, whose metadata `meta` was taken before its bytes were read, unless it
    /// changed too recently to be told apart from a change to come (see the module documentation).
    pub fn remember(&self, file: &Path, meta: &Metadata, digest: &str) {
        let (Some(entry), Some(identity)) = (self.entry(file), identity(meta)) else { return };
        let changed = meta.modified().ok().into_iter().chain(ctime(meta)).max();
        let settled = changed.and_then(|t| SystemTime::now().duration_since(t).ok()).is_some_and(|age| age >= SETTLED);
        if !settled {
            return;
        }
        if let Err(e) = write_entry(&entry, format!("{identity} {digest}\n").as_bytes()) {
            tracing::debug!(entry = %entry.display(), "could not record a component's digest: {e}");
        }
    }

    fn entry(&self, file: &Path) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let absolute = std::path::absolute(file).ok()?;
        let name = crate::data::sha256_hex(absolute.as_os_str().as_encoded_bytes());
        Some(dir.join(&name[..32]))
    }
}

/// The file's identity as recorded: `v1 DEV INODE SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS`.
#[cfg(unix)]
fn identity(meta: &Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = meta;
    Some(format!(
        "v1 {} {} {} {} {} {} {}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    ))
}

/// Elsewhere nothing is recorded: without a change time a record could not be trusted.
#[cfg(not(unix))]
fn identity(_: &Metadata) -> Option<String> {
    None
}

#[cfg(unix)]
fn ctime(meta: &Metadata) -> Option<SystemTime> {
    use std::os::unix::fs::MetadataExt;
    let (secs, nanos) = (u64::try_from(meta.ctime()).ok()?, u32::try_from(meta.ctime_nsec()).ok()?);
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

#[cfg(not(unix))]
fn ctime(_: &Metadata) -> Option<SystemTime> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn age(file: &Path, secs: u64) {
        let then = SystemTime::now() - Duration::from_secs(secs);
        let f = std::fs::File::options().write(true).open(file).expect("open");
        f.set_modified(then).expect("set mtime");
    }

    /// A record in a temporary folder, and a file `step.wasm` in it just written with `one`, whose digest
    /// is the last.
    fn fixture() -> (tempfile::TempDir, FileDigests, PathBuf, String) {
        let root = tempfile::tempdir().expect("temp dir");
        let digests = FileDigests::new(Some(root.path()));
        let file = root.path().join("step.wasm");
        std::fs::write(&file, b"one").expect("write");
        (root, digests, file, crate::data::sha256_hex(b"one"))
    }

    #[test]
    fn a_digest_is_recalled_only_for_the_unchanged_settled_file() {
        let (_root, digests, file, digest) = fixture();
        // Just written: its change time is now, too recent to record.
        let meta = std::fs::metadata(&file).expect("meta");
        digests.remember(&file, &meta, &digest);
        assert_eq!(digests.recalled(&file, &meta), None);
        // Setting the modification time changes the change time to now as well: still too recent.
        age(&file, 10);
        let meta = std::fs::metadata(&file).expect("meta");
        digests.remember(&file, &meta, &digest);
        assert_eq!(digests.recalled(&file, &meta), None);
        // Off: nothing recorded, nothing recalled.
        let off = FileDigests::new(None);
        off.remember(&file, &meta, &digest);
        assert_eq!(off.recalled(&file, &meta), None);
    }

    #[test]
    fn a_record_of_another_identity_or_a_damaged_one_is_not_recalled() {
        let (_root, digests, file, digest) = fixture();
        let meta = std::fs::metadata(&file).expect("meta");
        let entry = digests.entry(&file).expect("entry");
        let record = format!("{} {digest}\n", identity(&meta).expect("identity"));
        write_entry(&entry, record.as_bytes()).expect("write entry");
        assert_eq!(digests.recalled(&file, &meta), Some(digest.clone()));
        // The same size, written again: the change time moves, the record no longer matches (a second
        // apart, so that a file system with whole-second times shows it too).
        std::thread::sleep(Duration::from_millis(1_100));
        std::fs::write(&file, b"two").expect("write");
        assert_eq!(digests.recalled(&file, &std::fs::metadata(&file).expect("meta")), None);
        for damaged in ["", "v1 1 2 3", &format!("{} nothex", identity(&meta).expect("identity"))] {
            write_entry(&entry, damaged.as_bytes()).expect("write entry");
            assert_eq!(digests.recalled(&file, &meta), None, "{damaged:?}");
        }
    }
}
