//! Weft process definitions: the model ([`model`]), its JSON Schema ([`schema`]), and loading a YAML file
//! into a validated [`LoadedDefinition`] whose every part can be traced back to `file:line:column`.
//!
//! Loading goes: read the file → parse YAML with positions ([`source`]) → validate against the schema
//! ([`schema`]) → deserialise into the model → whole-definition checks ([`check`]).

pub mod capabilities;
pub mod check;
pub mod condition;
pub mod error;
pub mod graph;
pub mod limits;
pub mod model;
pub mod schema;
pub mod source;
pub mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use condition::Condition;

pub use error::{DefinitionError, Diagnostic};
pub use model::*;
pub use source::{Position, SourceMap};

/// A definition that parsed, fits the schema and passed the whole-definition checks.
#[derive(Debug, Clone)]
pub struct LoadedDefinition {
    /// The file it came from (as given).
    pub file: PathBuf,
    /// The process.
    pub definition: ProcessDefinition,
    /// Positions of its values, by JSON Pointer.
    pub source_map: SourceMap,
    /// Each edge's `when` condition, compiled once at load, by edge index (`None` without one).
    pub conditions: Vec<Option<Arc<Condition>>>,
}

impl LoadedDefinition {
    /// The folder that relative component paths start from.
    pub fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// A diagnostic about the value at `pointer` (JSON Pointer), placed at its `line:column`.
    pub fn diagnostic(&self, pointer: &str, message: String, hint: Option<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            position: self.source_map.value(pointer),
            pointer: pointer.to_string(),
            message,
            hint,
        }
    }
}

/// Read and validate the definition at `path`.
///
/// Errors: [`DefinitionError::Io`] when the file cannot be read; [`DefinitionError::Invalid`] with one
/// diagnostic per problem (malformed YAML, schema violations including unknown keys with the nearest valid
/// key, duplicate or unknown step ids, edge sources without exactly one trigger).
pub fn load_file(path: &Path) -> Result<LoadedDefinition, DefinitionError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| DefinitionError::Io { file: path.to_path_buf(), source })?;
    load_str(&text, path)
}

/// Validate definition `text`, reporting positions against `file`.
pub fn load_str(text: &str, file: &Path) -> Result<LoadedDefinition, DefinitionError> {
    load_str_with(text, file, &schema::NoMemo)
}

/// [`load_str`], taking the document of a text `memo` says the schema accepted before from `memo` instead
/// of parsing and validating the text, and telling `memo` of a text the schema accepts now. Every other
/// check runs every time.
pub fn load_str_with(text: &str, file: &Path, memo: &dyn schema::Memo) -> Result<LoadedDefinition, DefinitionError> {
    let invalid = |position, pointer: &str, message: String| {
        DefinitionError::Invalid(vec![Diagnostic {
            file: file.to_path_buf(),
            position,
            pointer: pointer.to_string(),
            message,
            hint: None,
        }])
    };
    let remembered = memo.accepted(text).and_then(|json| serde_json::from_slice::<ProcessDefinition>(&json).ok());
    let (definition, source_map) = match remembered {
        Some(definition) => (definition, SourceMap::of(text)),
        None => {
            let (document, source_map) = source::parse_yaml(text)
                .map_err(|e| invalid(e.position, "", format!("malformed YAML: {}", e.message)))?;
            let problems = schema::validate(&document, &source_map, file);
            if !problems.is_empty() {
                return Err(DefinitionError::Invalid(problems));
            }
            // The schema accepted it, so this can fail only where the schema is looser than the model (a
            // number past a field's range); only a document the model reads is remembered.
            let definition = ProcessDefinition::deserialize(&document)
                .map_err(|e| invalid(Default::default(), "", e.to_string()))?;
            memo.accept(text, &document);
            (definition, source_map)
        }
    };
    let mut loaded = LoadedDefinition { file: file.to_path_buf(), definition, source_map, conditions: Vec::new() };
    loaded.conditions = check::check(&loaded).map_err(DefinitionError::Invalid)?;
    Ok(loaded)
}
