//! Loading a process's distinct components side by side, before its steps are put together.
//!
//! Loading a component from the compiled-code cache is mostly deserialising wasmtime's metadata of its
//! functions, a few milliseconds for a Python component (food delivery: a third of a run); compiling one
//! takes seconds. Neither depends on another component, so the components a definition names (its
//! sub-processes' and maps' included) are fetched in step order, then loaded on up to as many threads as
//! the machine has cores; [`Runtime::flatten`] then finds each loaded. What fails to load here is kept and
//! reported by `flatten`, where it names the step, without loading the component a second time. Components
//! the runtime holds already are not loaded again, and one left to load starts no thread.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use weft_definitions::tree::DefinitionTree;

use super::{Components, Runtime};
use crate::blob::Blob;

impl Components<'_, '_> {
    /// Fetch the blob of every component `tree` names, keep each for [`Components::component`], and load
    /// the distinct ones (by digest) `runtime` lacks at once; keep what fails to load, by digest and file.
    pub(super) fn preload(&mut self, runtime: &Runtime, tree: &DefinitionTree) {
        let mut named = Vec::new();
        components_named(tree, "", &mut named);
        let mut distinct: Vec<(PathBuf, Blob)> = Vec::new();
        let mut digests = HashSet::new();
        for (key, path) in named {
            // A component that cannot be fetched is reported by `flatten`, which fetches it again.
            let Ok(blob) = (self.fetch)(&key, &path) else { continue };
            if digests.insert(blob.digest().to_owned()) && !runtime.holds(blob.digest()) {
                distinct.push((path, blob.clone()));
            }
            self.fetched.insert(key, blob);
        }
        if distinct.len() < 2 {
            return;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(distinct.len());
        let next = AtomicUsize::new(0);
        let failed = Mutex::new(Vec::new());
        let work = || {
            while let Some((path, blob)) = distinct.get(next.fetch_add(1, Ordering::Relaxed)) {
                // What loads is kept by the runtime.
                if let Err(problem) = runtime.component(path, blob.clone()) {
                    let key = (blob.digest().to_owned(), path.clone());
                    failed.lock().unwrap_or_else(|e| e.into_inner()).push((key, problem));
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                // Where no thread can be started, this one does all the work.
                let _ = std::thread::Builder::new().name("weft-load".into()).spawn_scoped(scope, work);
            }
            work();
        });
        self.failed.extend(failed.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
}

/// `(pin key, file)` of each component `tree` names, in step order, its sub-processes' and mapped
/// processes' after their step (keys as in [`super::Process::pins`]).
fn components_named(tree: &DefinitionTree, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let loaded = &tree.loaded;
    for (i, step) in loaded.definition.steps.iter().enumerate() {
        let key = format!("{prefix}{}", step.id);
        if let Some(path) = step.component_file() {
            out.push((key.clone(), loaded.base_dir().join(path)));
        }
        if let Some(child) = tree.child(i) {
            components_named(child, &format!("{key}/"), out);
        }
    }
}
