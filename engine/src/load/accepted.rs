//! The definition texts the schema accepted before, remembered beside the compiled-code cache so that a
//! command loading an unchanged definition does not compile the schema's validator again (a few ms of
//! every `weft run`, `send` or `resume`; [`weft_definitions::schema::Memo`]).
//!
//! An entry is an empty file `DIR/definitions/<16 hex digits of the schema's SHA-256>/<32 hex digits of the
//! text's SHA-256>`: keyed by the schema too, so a Weft with another schema validates everything afresh.
//! Only acceptance is remembered, never a refusal; every check other than the schema's runs every time.
//! An entry that cannot be written is ignored: it only saves time.

use std::path::{Path, PathBuf};

use weft_definitions::schema::{Memo, SCHEMA_TEXT};

use super::cache::write_entry;
use crate::data::sha256_hex;

/// Where accepted definition texts are remembered, or nowhere (the compiled-code cache is off).
#[derive(Debug, Clone)]
pub struct AcceptedDefinitions {
    dir: Option<PathBuf>,
}

impl AcceptedDefinitions {
    /// Remembered under `root` (the compiled-code cache's root), or not at all.
    pub fn new(root: Option<&Path>) -> Self {
        let dir = root.map(|r| r.join("definitions").join(&sha256_hex(SCHEMA_TEXT.as_bytes())[..16]));
        AcceptedDefinitions { dir }
    }

    fn entry(&self, text: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(&sha256_hex(text.as_bytes())[..32]))
    }
}

impl Memo for AcceptedDefinitions {
    fn accepted(&self, text: &str) -> bool {
        self.entry(text).is_some_and(|e| e.is_file())
    }

    fn accept(&self, text: &str) {
        let Some(entry) = self.entry(text) else { return };
        if let Err(e) = write_entry(&entry, b"") {
            tracing::debug!(entry = %entry.display(), "could not remember an accepted definition: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_text_is_remembered_and_no_other() {
        let root = tempfile::tempdir().expect("temp dir");
        let memo = AcceptedDefinitions::new(Some(root.path()));
        assert!(!memo.accepted("name: a"));
        memo.accept("name: a");
        assert!(memo.accepted("name: a"));
        assert!(!memo.accepted("name: a "), "another text");
        assert!(!AcceptedDefinitions::new(Some(&root.path().join("elsewhere"))).accepted("name: a"));
        let off = AcceptedDefinitions::new(None);
        off.accept("name: a");
        assert!(!off.accepted("name: a"));
    }
}
