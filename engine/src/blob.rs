//! Content named by its SHA-256 (a component's bytes, a definition's text, a layout): what a run is pinned
//! to and a store keeps once per digest.
//!
//! A [`Blob`] holds its bytes, or only the file they are in when their digest is already known (from the
//! digest record of an earlier load, [`crate::load::digests`]): a run whose components are compiled and
//! cached, and a store that already holds them, never reads a component file at all (a Python step is
//! ~19 MB; reading and hashing it was most of a short run). Bytes read late are checked against the
//! digest, so a blob never gives bytes other than the ones its digest names.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::data::sha256_hex;

/// Content and its SHA-256; cheap to clone (shared).
#[derive(Clone)]
pub struct Blob(Arc<Inner>);

struct Inner {
    /// SHA-256 of the content, lower-case hex.
    digest: String,
    /// The file the content is in, when it has not been read yet.
    file: Option<PathBuf>,
    /// The content, once read (or from the start).
    bytes: OnceLock<Arc<[u8]>>,
}

impl Blob {
    /// `bytes`, hashed now.
    pub fn new(bytes: Arc<[u8]>) -> Blob {
        let digest = sha256_hex(&bytes);
        Blob::hashed(bytes, digest)
    }

    /// `bytes`, whose SHA-256 (hex) the caller has just computed as `digest`.
    pub fn hashed(bytes: Arc<[u8]>, digest: String) -> Blob {
        Blob(Arc::new(Inner { digest, file: None, bytes: OnceLock::from(bytes) }))
    }

    /// The content of `file`, not read yet, whose SHA-256 is known to be `digest`: read (and checked) on
    /// the first [`Blob::bytes`].
    pub fn in_file(file: PathBuf, digest: String) -> Blob {
        Blob(Arc::new(Inner { digest, file: Some(file), bytes: OnceLock::new() }))
    }

    /// SHA-256 of the content, lower-case hex.
    pub fn digest(&self) -> &str {
        &self.0.digest
    }

    /// The file the content was to be read from, if it was not given in hand.
    pub fn file(&self) -> Option<&Path> {
        self.0.file.as_deref()
    }

    /// The content: in hand, or read from its file now (once) and checked against the digest.
    ///
    /// Errors, as a message naming the file: it cannot be read, or it no longer holds the content its
    /// digest names (it was rebuilt since it was loaded: running the command again loads the new one).
    pub fn bytes(&self) -> Result<Arc<[u8]>, String> {
        if let Some(bytes) = self.0.bytes.get() {
            return Ok(bytes.clone());
        }
        let file = self.0.file.as_deref().unwrap_or(Path::new("?"));
        let bytes: Arc<[u8]> =
            std::fs::read(file).map_err(|e| format!("cannot read component file {}: {e}", file.display()))?.into();
        let digest = sha256_hex(&bytes);
        if digest != self.0.digest {
            return Err(format!(
                "component file {} changed while Weft was using it (SHA-256 {digest}, loaded as {}); run the \
                 command again",
                file.display(),
                self.0.digest
            ));
        }
        Ok(self.0.bytes.get_or_init(|| bytes).clone())
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob").field("digest", &self.0.digest).field("file", &self.0.file).finish()
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
}
