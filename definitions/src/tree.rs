//! A definition together with the definitions of its sub-processes and mapped processes, loaded
//! recursively (docs/semantics.md, "Sub-processes"). One file may serve several parents, or one parent
//! several times; a file that includes itself, directly or through others, is a load error that shows
//! the cycle.

use std::path::{Component, Path, PathBuf};

use crate::{DefinitionError, LoadedDefinition};

/// Deepest nesting of sub-processes: deeper is a load error (a guard against runaway includes that are
/// not cycles, e.g. generated files).
pub const MAX_NESTING: usize = 16;

/// A loaded definition and, for each of its steps that runs a process, that process's tree.
#[derive(Debug, Clone)]
pub struct DefinitionTree {
    /// The definition.
    pub loaded: LoadedDefinition,
    /// Its text, as read.
    pub text: String,
    /// `(step index, tree)` for every step with `process:` or `map: { process: }`, in step order.
    pub children: Vec<(usize, DefinitionTree)>,
}

impl DefinitionTree {
    /// The tree of the process run by step `step`, if it runs one.
    pub fn child(&self, step: usize) -> Option<&DefinitionTree> {
        self.children.iter().find(|(i, _)| *i == step).map(|(_, t)| t)
    }
}

/// Where a sub-process's text comes from: `(key, path)` → text, where `key` is the path of step ids that
/// leads to it from the root (`kyc`, `kyc/score`) and `path` the file, resolved against its parent's
/// folder. Errors are a message for the parent's `process` key.
pub type ReadText<'a> = dyn FnMut(&str, &Path) -> Result<String, String> + 'a;

/// Load `text` (the definition at `file`) and, recursively, every process its steps run, reading each
/// with `read`.
///
/// Errors: the root's or a child's problems (each placed in its own file); a child that cannot be read,
/// or includes itself (the chain of files is shown), or nests deeper than [`MAX_NESTING`], placed at the
/// parent's `process` key.
pub fn load_tree(file: &Path, text: String, read: &mut ReadText<'_>) -> Result<DefinitionTree, DefinitionError> {
    load_tree_with(file, text, read, &crate::schema::NoMemo)
}

/// [`load_tree`], each file's parsing and schema validation skipped when `memo` remembers the document of
/// a text the schema accepted before ([`crate::load_str_with`]).
pub fn load_tree_with(
    file: &Path,
    text: String,
    read: &mut ReadText<'_>,
    memo: &dyn crate::schema::Memo,
) -> Result<DefinitionTree, DefinitionError> {
    load_at(file, text, "", &mut vec![normalise(file)], read, memo)
}

fn load_at(
    file: &Path,
    text: String,
    key: &str,
    chain: &mut Vec<PathBuf>,
    read: &mut ReadText<'_>,
    memo: &dyn crate::schema::Memo,
) -> Result<DefinitionTree, DefinitionError> {
    let loaded = crate::load_str_with(&text, file, memo)?;
    let mut children = Vec::new();
    let mut problems = Vec::new();
    for (i, step) in loaded.definition.steps.iter().enumerate() {
        let Some(relative) = step.process_file() else { continue };
        let pointer =
            if step.map.is_some() { format!("/steps/{i}/map/process") } else { format!("/steps/{i}/process") };
        let path = normalise(&loaded.base_dir().join(relative));
        let child_key = if key.is_empty() { step.id.clone() } else { format!("{key}/{}", step.id) };
        let problem = |message: String, hint: &str| loaded.diagnostic(&pointer, message, Some(hint.into()));
        if let Some(first) = chain.iter().position(|p| *p == path) {
            let cycle: Vec<String> = chain[first..].iter().chain([&path]).map(|p| p.display().to_string()).collect();
            problems.push(problem(
                format!("process file {} includes itself: {}", path.display(), cycle.join(" → ")),
                "a process cannot run itself as a sub-process; break the cycle",
            ));
            continue;
        }
        if chain.len() >= MAX_NESTING {
            problems.push(problem(
                format!("sub-processes nest more than {MAX_NESTING} deep here ({})", path.display()),
                "flatten some of the levels into one process",
            ));
            continue;
        }
        let child_text = match read(&child_key, &path) {
            Ok(text) => text,
            Err(message) => {
                problems.push(problem(
                    format!("step \"{}\": {message}", step.id),
                    "fix the path, which is relative to this definition file",
                ));
                continue;
            }
        };
        chain.push(path.clone());
        let child = load_at(&path, child_text, &child_key, chain, read, memo);
        chain.pop();
        match child {
            Ok(tree) => children.push((i, tree)),
            Err(DefinitionError::Invalid(mut found)) => problems.append(&mut found),
            Err(e) => problems.push(problem(e.to_string(), "fix the sub-process's file")),
        }
    }
    if problems.is_empty() {
        Ok(DefinitionTree { loaded, text, children })
    } else {
        Err(DefinitionError::Invalid(problems))
    }
}

/// `path` with `.` and `x/..` taken out (without touching the file system, so that a pinned run's files
/// need not exist), so that two spellings of one file compare equal.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Read a sub-process's file from disk (the [`ReadText`] of a definition loaded from files).
pub fn read_file(_key: &str, path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("process file {} not found or unreadable ({e})", path.display()))
}
