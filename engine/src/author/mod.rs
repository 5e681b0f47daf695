//! Authoring steps outside this repository: `weft new` writes a step project or a process definition,
//! `weft build` makes step projects into components with the toolchain their language's SDK package
//! pins, `weft invoke` runs one kernel function of a built component in the real sandbox.
//!
//! A step project is a folder: one with `Cargo.toml` is a Rust step, one with `app.py` a Python step,
//! one with `app.js` a JavaScript step ([`Language::of`]). Its component goes beside the folder:
//! `greeter/` builds `greeter.wasm` (where a definition in the parent folder points, and where the
//! repository's own process definitions point at their steps).
//!
//! ```no_run
//! use weft_engine::author::build::{build, find_steps, Options};
//! let steps = find_steps("tests/steps".as_ref())?;
//! build(&steps, &Options::default())?;
//! # Ok::<(), String>(())
//! ```

pub mod build;
pub mod invoke;
mod javascript;
pub mod new;
mod python;
mod rust;
mod tools;

use std::path::{Path, PathBuf};

/// The language a step is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Language {
    /// A crate on `weft-step-sdk` (built for `wasm32-wasip2` by cargo).
    Rust,
    /// `app.py` on the `weft-step` package (built by componentize-py).
    Python,
    /// `app.js` on the `weft-step` npm package (bundled by esbuild, built by componentize-qjs).
    JavaScript,
}

impl Language {
    /// The language of the step project in `dir`, from its files: `Cargo.toml` of a package (not of a
    /// workspace alone), `app.py` or `app.js`.
    pub fn of(dir: &Path) -> Option<Language> {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if manifest.lines().any(|line| line.trim() == "[package]") {
            Some(Language::Rust)
        } else if dir.join("app.py").is_file() {
            Some(Language::Python)
        } else if dir.join("app.js").is_file() {
            Some(Language::JavaScript)
        } else {
            None
        }
    }

    /// Its name as `--lang` takes it: `rust`, `python`, `javascript`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "javascript",
        }
    }
}

/// A step project found on disk.
#[derive(Debug, Clone)]
pub struct StepProject {
    /// Its folder.
    pub dir: PathBuf,
    /// Its language.
    pub language: Language,
}

impl StepProject {
    /// Where its component goes: `<folder>.wasm` beside the folder.
    pub fn default_output(&self) -> PathBuf {
        // `greeter/` and `greeter/.` name the folder `greeter`; `.` or `..` name no folder to put the
        // component beside: take the folder's own name.
        let dir: PathBuf = self.dir.components().collect();
        let dir = match dir.file_name() {
            Some(_) if !dir.ends_with("..") => dir,
            _ => tools::canonical(&dir),
        };
        let mut out = dir.into_os_string();
        out.push(".wasm");
        PathBuf::from(out)
    }
}
