//! The descriptions components gave before, remembered beside the compiled-code cache by component digest,
//! so that a command loading a component it met before does not instantiate it only to ask `describe`
//! (for a Python step, an instantiation of ~1 ms and a few MB of memory touched; every `weft run`,
//! `send` and `resume` loads each of its components).
//!
//! A description depends only on the component's bytes and on the contract it was asked under, so an
//! entry is `DIR/descriptions/<16 hex digits of the key>/<component digest>.json`, where the key is the
//! SHA-256 of wit/step.wit and [`FORMAT`]: an engine of another contract, or one that keeps descriptions in
//! another form, reads none of these. Only a description that passed every check
//! ([`StepDescription::from_guest`]) is remembered; an entry that cannot be read or parsed is ignored and
//! the component described again (it only saves time).

use std::path::{Path, PathBuf};

use super::cache::write_entry;
use super::description::StepDescription;
use crate::data::{is_sha256_hex, sha256_hex};

/// The form of an entry: the JSON of [`StepDescription`]. Raise it when that type's fields change.
pub const FORMAT: u32 = 1;

/// The contract a description was asked under (wit/step.wit, as this engine was built with it).
const CONTRACT_TEXT: &str = include_str!("../../../wit/step.wit");

/// Where descriptions are remembered, or nowhere (the compiled-code cache is off).
#[derive(Debug, Clone)]
pub struct Descriptions {
    dir: Option<PathBuf>,
}

impl Descriptions {
    /// Remembered under `root` (the compiled-code cache's root), or not at all.
    pub fn new(root: Option<&Path>) -> Self {
        let dir = root.map(|r| {
            let key = sha256_hex(format!("{CONTRACT_TEXT}\nformat {FORMAT}").as_bytes());
            r.join("descriptions").join(&key[..16])
        });
        Descriptions { dir }
    }

    /// The description the component of SHA-256 `digest` (hex) gave before, if remembered.
    pub fn recalled(&self, digest: &str) -> Option<StepDescription> {
        let text = std::fs::read(self.entry(digest)?).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Remember that the component of SHA-256 `digest` (hex) describes itself as `description` (a failure
    /// to write is logged at `debug` and ignored).
    pub fn remember(&self, digest: &str, description: &StepDescription) {
        let Some(entry) = self.entry(digest) else { return };
        let written =
            serde_json::to_vec(description).map_err(std::io::Error::other).and_then(|text| write_entry(&entry, &text));
        if let Err(e) = written {
            tracing::debug!(entry = %entry.display(), "could not remember a component's description: {e}");
        }
    }

    fn entry(&self, digest: &str) -> Option<PathBuf> {
        // Nothing but a digest names a file here.
        Some(self.dir.as_ref()?.join(format!("{digest}.json"))).filter(|_| is_sha256_hex(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::description::{FunctionDescription, ParamDescription};

    fn description(name: &str) -> StepDescription {
        StepDescription {
            functions: vec![FunctionDescription {
                name: name.into(),
                description: None,
                params: vec![ParamDescription { name: "message".into(), required: true, schema: None }],
            }],
            events: Vec::new(),
            state_version: 2,
        }
    }

    #[test]
    fn a_description_is_recalled_by_digest_and_a_damaged_entry_is_not() {
        let root = tempfile::tempdir().expect("temp dir");
        let remembered = Descriptions::new(Some(root.path()));
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        assert_eq!(remembered.recalled(&a), None);
        remembered.remember(&a, &description("echo"));
        assert_eq!(remembered.recalled(&a), Some(description("echo")));
        assert_eq!(remembered.recalled(&b), None, "another component");
        std::fs::write(remembered.entry(&a).expect("entry"), b"{\"functions\": [").expect("damage it");
        assert_eq!(remembered.recalled(&a), None, "a damaged entry is ignored");
        assert_eq!(remembered.recalled("../x"), None, "not a digest");
        let off = Descriptions::new(None);
        off.remember(&a, &description("echo"));
        assert_eq!(off.recalled(&a), None);
    }
}
