//! The processes a server starts instances of, by name: each definition loaded once (its components
//! compiled and described once, through the one [`Runtime`]), shared by every instance it starts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft_definitions::DefinitionError;

use crate::load::{Process, Runtime};

/// A process a server can start, and the file it came from.
pub struct Served {
    /// The loaded process.
    pub process: Arc<Process>,
    /// Its definition file.
    pub file: PathBuf,
}

/// The processes by name.
#[derive(Default)]
pub struct Registry {
    by_name: HashMap<String, Served>,
}

impl Registry {
    /// Load each definition in `files` through `runtime`.
    ///
    /// Errors: the first that does not load (with every problem it has), or two definitions of one process
    /// name.
    pub fn load(runtime: &Runtime, files: &[PathBuf]) -> Result<Registry, String> {
        let mut registry = Registry::default();
        for file in files {
            let process = runtime.load_process(file).map_err(|e: DefinitionError| e.to_string())?;
            let name = process.name().to_owned();
            if let Some(other) = registry.by_name.get(&name) {
                return Err(format!(
                    "{} and {} both define process \"{name}\"; serve one version of each process",
                    other.file.display(),
                    file.display()
                ));
            }
            registry.by_name.insert(name, Served { process: Arc::new(process), file: file.clone() });
        }
        Ok(registry)
    }

    /// The process named `name`.
    pub fn get(&self, name: &str) -> Option<&Served> {
        self.by_name.get(name)
    }

    /// The names served, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The file of process `name`, for messages.
    pub fn file(&self, name: &str) -> Option<&Path> {
        self.by_name.get(name).map(|s| s.file.as_path())
    }
}
