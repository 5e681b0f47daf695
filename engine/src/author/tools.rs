//! Running a build tool: its output kept, a missing tool said in words.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Run `command`, its output captured. Errors: it could not be started (`what` names it, `install` says
/// how to get it).
pub(super) fn run(command: &mut Command, what: &str, install: &str) -> Result<Output, String> {
    command.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{what} was not found: {install}"),
        _ => format!("cannot run {what}: {e}"),
    })
}

/// Where a tool writes `out` before it is complete: `<out>.tmp`, moved over `out` by [`finish`], so that
/// a reader never sees half a component.
pub(super) fn temporary(out: &Path) -> PathBuf {
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Move the complete `tmp` (see [`temporary`]) over `out`.
pub(super) fn finish(tmp: &Path, out: &Path) -> Result<(), String> {
    std::fs::rename(tmp, out).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// `path` with its links resolved (as it is, when it cannot be).
pub(super) fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The first `lines` lines of `text`, trimmed, with a note of how many were left out.
pub(super) fn first_lines(text: &str, lines: usize) -> String {
    let text = text.trim();
    let all: Vec<&str> = text.lines().collect();
    if all.len() <= lines {
        return text.to_string();
    }
    format!("{}\n  … ({} more lines)", all[..lines].join("\n"), all.len() - lines)
}

/// Whether `out` is missing or older than any file under `inputs` (folders walked, except `.venv`,
/// `node_modules`, `__pycache__`, `target` and hidden folders; a link to a file followed, a link to a
/// folder not, so that a loop of links ends). A deleted file is not noticed: `weft build --force`.
pub(super) fn stale(out: &Path, inputs: &[&Path]) -> bool {
    let Ok(built) = out.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    inputs.iter().any(|input| newer_than(input, built))
}

fn newer_than(path: &Path, built: std::time::SystemTime) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.is_file() {
        return meta.modified().map(|m| m > built).unwrap_or(true);
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let skipped = name.starts_with('.') || matches!(&*name, "node_modules" | "__pycache__" | "target");
        let linked_folder = entry.file_type().is_ok_and(|t| t.is_symlink()) && entry.path().is_dir();
        !skipped && !linked_folder && newer_than(&entry.path(), built)
    })
}
