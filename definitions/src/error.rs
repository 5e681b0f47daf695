//! Errors in a process definition, each naming `file:line:column`, the JSON Pointer inside the document,
//! what is wrong and, where there is one, what would fix it.

use std::fmt;
use std::path::PathBuf;

use crate::source::Position;

/// One problem in a definition.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// The definition file.
    pub file: PathBuf,
    /// Where in it.
    pub position: Position,
    /// JSON Pointer (RFC 6901) of the offending value, e.g. `/edges/0/to/1/function`; empty for the document.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// What would fix it, when known (e.g. `did you mean "component"?`).
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.position)?;
        if !self.pointer.is_empty() {
            write!(f, "at {}: ", self.pointer)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Why a definition could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The file could not be read.
    #[error("cannot read process definition {}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file was read and is wrong in one or more places.
    #[error("{}", join(.0))]
    Invalid(Vec<Diagnostic>),
}

fn join(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// The candidate nearest to `word` by Levenshtein distance, if near enough to be a likely misspelling
/// (at most 2 edits, or a third of the word's length for longer words).
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A hint listing what exists, with the nearest one first when `word` looks like a misspelling of it:
/// `did you mean "repeat"? (known: echo, repeat)`.
pub fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str> + Clone) -> String {
    let list: Vec<&str> = known.clone().into_iter().collect();
    let listing = if list.is_empty() { "none".to_string() } else { list.join(", ") };
    match nearest(word, known) {
        Some(n) => format!("did you mean \"{n}\"? (known: {listing})"),
        None => format!("known: {listing}"),
    }
}
