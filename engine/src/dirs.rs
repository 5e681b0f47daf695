//! The user's base directories, where Weft keeps its store and its compiled-code cache when told nothing
//! else, as the XDG Base Directory Specification (version 0.8, "Environment variables") defines them.

use std::path::PathBuf;

/// The environment variable `name` as a path, when it is set and not empty.
pub fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The base directory `$variable` (e.g. `XDG_DATA_HOME`) when it is an absolute path, else
/// `$HOME/fallback` (e.g. `.local/share`); none without either. A relative or empty `$variable` is
/// ignored, as the specification says.
pub fn base_dir(variable: &str, fallback: &str) -> Option<PathBuf> {
    env_path(variable).filter(|d| d.is_absolute()).or_else(|| env_path("HOME").map(|home| home.join(fallback)))
}
