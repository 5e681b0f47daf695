//! The definition texts the schema accepted before, remembered beside the compiled-code cache with their
//! documents, so that a command loading an unchanged definition neither parses its YAML (~8 µs per step of
//! it) nor compiles the schema's validator (a few ms) again ([`weft_definitions::schema::Memo`]).
//!
//! An entry is a file `DIR/definitions/<16 hex digits of the SHA-256 of the schema and the document
//! format>/<32 hex digits of the text's SHA-256>` holding the document as JSON: keyed by the schema and by
//! how YAML is read ([`DOCUMENT_FORMAT`]), so a Weft with another schema or another reading of YAML parses
//! and validates everything afresh. An entry is trusted as the compiled code beside it is: whoever can
//! write the cache decides what loads (the checks after the schema still run on what it holds). Only
//! acceptance is remembered, never a refusal; every check other than the schema's runs every time. An
//! entry that cannot be written is ignored, and one that cannot be read (an empty one, as Weft wrote
//! before it kept documents) is written again: it only saves time.

use std::path::{Path, PathBuf};

use serde_json::Value;
use weft_definitions::schema::{Memo, SCHEMA_TEXT, exact_json};
use weft_definitions::source::DOCUMENT_FORMAT;

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
        let key = sha256_hex(format!("{SCHEMA_TEXT}\n{DOCUMENT_FORMAT}").as_bytes());
        let dir = root.map(|r| r.join("definitions").join(&key[..16]));
        AcceptedDefinitions { dir }
    }

    fn entry(&self, text: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(&sha256_hex(text.as_bytes())[..32]))
    }
}

impl Memo for AcceptedDefinitions {
    fn accepted(&self, text: &str) -> Option<Vec<u8>> {
        std::fs::read(self.entry(text)?).ok()
    }

    fn accept(&self, text: &str, document: &Value) {
        let Some(entry) = self.entry(text) else { return };
        let Some(json) = exact_json(document) else { return };
        if let Err(e) = write_entry(&entry, &json) {
            tracing::debug!(entry = %entry.display(), "could not remember an accepted definition: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_text_is_remembered_with_its_document_and_no_other() {
        let root = tempfile::tempdir().expect("temp dir");
        let memo = AcceptedDefinitions::new(Some(root.path()));
        let document = serde_json::json!({"name": "a", "ratio": 0.1});
        assert_eq!(memo.accepted("name: a"), None);
        memo.accept("name: a", &document);
        let json = memo.accepted("name: a").expect("remembered");
        assert_eq!(serde_json::from_slice::<Value>(&json).expect("JSON"), document);
        assert_eq!(memo.accepted("name: a "), None, "another text");
        assert_eq!(AcceptedDefinitions::new(Some(&root.path().join("elsewhere"))).accepted("name: a"), None);
        let off = AcceptedDefinitions::new(None);
        off.accept("name: a", &document);
        assert_eq!(off.accepted("name: a"), None);
    }
}
