//! Content named by its SHA-256 (a component's bytes, a definition's text, a layout): what a run is pinned
//! to and a store keeps once per digest.
//!
//! A [`Blob`] holds its bytes, or only where to read them when their digest is already known: the file
//! (from the digest record of an earlier load, [`crate::load::digests`]) or a store (what a run was
//! pinned to). A run whose components are compiled and cached, and a store that already holds them,
//! never reads a component at all (a Python step is ~19 MB; reading and hashing it was most of a short
//! run, and of every `weft send` to a waiting run). Bytes read late are checked against the digest, so a
//! blob never gives bytes other than the ones its digest names.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::data::sha256_hex;

/// Content and its SHA-256; cheap to clone (shared).
#[derive(Clone)]
pub struct Blob(Arc<Inner>);

/// Reads the content of a blob whose digest is known, when it is needed; `Err` says what could not be
/// read.
pub type Reader = Arc<dyn Fn() -> Result<Vec<u8>, String> + Send + Sync>;

struct Inner {
    /// SHA-256 of the content, lower-case hex.
    digest: String,
    /// Where the content is, when it was not given in hand.
    source: Source,
    /// The content, once read (or from the start).
    bytes: OnceLock<Arc<[u8]>>,
}

enum Source {
    Held,
    File(PathBuf),
    /// What it is (for messages: "the store's blob …") and how to read it.
    Reader(String, Reader),
}

impl Blob {
    /// `bytes`, hashed now.
    pub fn new(bytes: Arc<[u8]>) -> Blob {
        let digest = sha256_hex(&bytes);
        Blob::hashed(bytes, digest)
    }

    /// `bytes`, whose SHA-256 (hex) the caller has just computed as `digest`.
    pub fn hashed(bytes: Arc<[u8]>, digest: String) -> Blob {
        Blob(Arc::new(Inner { digest, source: Source::Held, bytes: OnceLock::from(bytes) }))
    }

    /// The content of `file`, not read yet, whose SHA-256 is known to be `digest`: read (and checked) on
    /// the first [`Blob::bytes`].
    pub fn in_file(file: PathBuf, digest: String) -> Blob {
        Blob(Arc::new(Inner { digest, source: Source::File(file), bytes: OnceLock::new() }))
    }

    /// Content whose SHA-256 is known to be `digest`, read by `read` on the first [`Blob::bytes`] (and
    /// checked); `what` names it in messages.
    pub fn read_later(digest: String, what: String, read: Reader) -> Blob {
        Blob(Arc::new(Inner { digest, source: Source::Reader(what, read), bytes: OnceLock::new() }))
    }

    /// SHA-256 of the content, lower-case hex.
    pub fn digest(&self) -> &str {
        &self.0.digest
    }

    /// Whether the content is in hand (given, or read already).
    pub fn is_read(&self) -> bool {
        self.0.bytes.get().is_some()
    }

    /// The content: in hand, or read from its file now (once) and checked against the digest.
    ///
    /// Errors, as a message naming the file or the store's blob: it cannot be read, or it no longer
    /// holds the content its digest names (a file rebuilt since it was loaded: running the command again
    /// loads the new one; a store's blob: the store is damaged).
    pub fn bytes(&self) -> Result<Arc<[u8]>, String> {
        if let Some(bytes) = self.0.bytes.get() {
            return Ok(bytes.clone());
        }
        let expected = &self.0.digest;
        let read = match &self.0.source {
            Source::Held => Err(format!("blob {expected} has no content")),
            Source::File(file) => {
                std::fs::read(file).map_err(|e| format!("cannot read component file {}: {e}", file.display()))
            }
            Source::Reader(_, read) => read(),
        };
        let bytes: Arc<[u8]> = read?.into();
        let digest = sha256_hex(&bytes);
        if digest != *expected {
            return Err(match &self.0.source {
                Source::File(file) => format!(
                    "component file {} changed while Weft was using it (SHA-256 {digest}, loaded as {expected}); \
                     run the command again",
                    file.display()
                ),
                Source::Reader(what, _) => format!("{what} holds content of SHA-256 {digest}, not {expected}"),
                Source::Held => format!("blob {expected} holds content of SHA-256 {digest}"),
            });
        }
        Ok(self.0.bytes.get_or_init(|| bytes).clone())
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob").field("digest", &self.0.digest).field("read", &self.is_read()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_in_a_file_is_read_late_and_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("c.wasm");
        std::fs::write(&file, b"one").expect("write");
        let digest = sha256_hex(b"one");
        let blob = Blob::in_file(file.clone(), digest.clone());
        assert_eq!(blob.digest(), digest);
        assert_eq!(&*blob.bytes().expect("read"), b"one");
        // Read once: a change afterwards does not show.
        std::fs::write(&file, b"two").expect("write");
        assert_eq!(&*blob.bytes().expect("held"), b"one");
        // A blob not read before it changed refuses the new content.
        let late = Blob::in_file(file.clone(), digest);
        let error = late.bytes().expect_err("changed");
        assert!(error.contains("changed while Weft was using it"), "{error}");
        std::fs::remove_file(&file).expect("remove");
        let gone = Blob::in_file(file, sha256_hex(b"two"));
        assert!(gone.bytes().expect_err("gone").contains("cannot read component file"));
    }

    #[test]
    fn a_blob_read_later_is_read_once_and_checked() {
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = reads.clone();
        let read: Reader = Arc::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(b"one".to_vec())
        });
        let blob = Blob::read_later(sha256_hex(b"one"), "the store's blob".into(), read.clone());
        assert!(!blob.is_read());
        assert_eq!(&*blob.bytes().expect("read"), b"one");
        assert_eq!(&*blob.bytes().expect("held"), b"one");
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        let wrong = Blob::read_later(sha256_hex(b"two"), "the store's blob d".into(), read);
        let error = wrong.bytes().expect_err("damaged");
        assert!(error.starts_with("the store's blob d holds content of SHA-256"), "{error}");
        let failing = Blob::read_later(sha256_hex(b"two"), "x".into(), Arc::new(|| Err("the store failed".into())));
        assert_eq!(failing.bytes().expect_err("failed"), "the store failed");
    }
}
