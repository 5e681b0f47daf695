//! The processes a server starts instances of, by name: the latest deployment of each process in the
//! store (`weft deploy`, `POST /deployments`, or a definition named to `weft serve`, which is deployed
//! when the server starts). Each version is loaded once (its components compiled and described once,
//! through the one runtime) and shared by every instance started on it. New deployments are picked up
//! while the server runs ([`Registry::refresh`]); instances already started keep their version.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::durable::Driver;
use crate::load::Process;
use crate::store::{Deployed, Deployment};

/// How often a server looks for new deployments in the store.
pub const WATCH: std::time::Duration = std::time::Duration::from_secs(1);

/// A process a server can start: its latest deployment, loaded.
pub struct Served {
    /// The loaded process.
    pub process: Arc<Process>,
    /// The deployment (its `definition_file` is the file it was deployed from).
    pub deployment: Deployment,
}

/// The processes by name.
#[derive(Default)]
pub struct Registry {
    by_name: RwLock<HashMap<String, Arc<Served>>>,
    /// Deployments this Weft could not load, `(process, number)`: not tried again.
    unloadable: std::sync::Mutex<std::collections::HashSet<(String, u64)>>,
}

impl Registry {
    /// Deploy each definition in `files` (a version already the latest is not deployed again), then take the
    /// latest deployment of every process in the store. Says on stderr what it deployed, which
    /// deployments this Weft cannot load (those processes are not served), and what it serves.
    ///
    /// Errors: the first file that does not load (with every problem it has); two files of one process
    /// name; the store's.
    pub fn open(driver: &Driver<'_>, files: &[PathBuf]) -> Result<Registry, String> {
        let mut named: HashMap<String, &Path> = HashMap::new();
        for file in files {
            let process = driver.runtime().load_process(file).map_err(|e| e.to_string())?;
            if let Some(other) = named.insert(process.name().to_owned(), file) {
                return Err(format!(
                    "{} and {} both define process \"{}\"; serve one version of each process",
                    other.display(),
                    file.display(),
                    process.name()
                ));
            }
            let deployed = deploy(driver, Arc::new(process), file)?;
            eprintln!("weft serve: {}", said(&deployed));
        }
        let registry = Registry::default();
        for failed in registry.refresh(driver)? {
            eprintln!("weft serve: warning: {failed}");
        }
        let served = registry.all();
        if served.is_empty() {
            eprintln!(
                "weft serve: no process is deployed in this store yet: name a definition here, run `weft deploy \
                 FILE`, or POST /deployments"
            );
        }
        for s in &served {
            let d = &s.deployment;
            eprintln!(
                "weft serve: serving \"{}\" {} (deployment {}, from {})",
                d.process, d.version, d.number, d.definition_file
            );
        }
        Ok(registry)
    }

    /// Take the latest deployment of each process in the store where it is newer than the one served:
    /// what could not be loaded, one message each (the version served before stays).
    ///
    /// Errors: the store's.
    pub fn refresh(&self, driver: &Driver<'_>) -> Result<Vec<String>, String> {
        let latest = driver.latest_deployments().map_err(|e| e.to_string())?;
        let mut failed = Vec::new();
        for deployment in latest {
            let served = self.get(&deployment.process).map(|s| s.deployment.number);
            if served.is_some_and(|n| n >= deployment.number) {
                continue;
            }
            let key = (deployment.process.clone(), deployment.number);
            if self.unloadable.lock().unwrap_or_else(|e| e.into_inner()).contains(&key) {
                continue;
            }
            match driver.deployed(&deployment) {
                Ok(process) => self.put(process, deployment),
                Err(e) => {
                    // Not loaded again every second: what fails now fails the same way then.
                    self.unloadable.lock().unwrap_or_else(|e| e.into_inner()).insert(key);
                    failed.push(format!(
                        "deployment {} of \"{}\" ({}) cannot be served: {e}",
                        deployment.number, deployment.process, deployment.definition_file
                    ));
                }
            }
        }
        Ok(failed)
    }

    /// [`Registry::refresh`] every [`WATCH`] until `stopping` says so, logging each deployment that cannot
    /// be served once.
    pub fn watch(&self, driver: &Driver<'_>, stopping: &dyn Fn() -> bool) {
        let step = std::time::Duration::from_millis(50);
        let mut waited = std::time::Duration::ZERO;
        while !stopping() {
            std::thread::sleep(step);
            waited += step;
            if waited < WATCH {
                continue;
            }
            waited = std::time::Duration::ZERO;
            match self.refresh(driver) {
                Ok(failed) => {
                    for failed in failed {
                        tracing::warn!("{failed}");
                    }
                }
                Err(e) => tracing::warn!("cannot read the deployments (trying again): {e}"),
            }
        }
    }

    /// Serve `process`, deployed as `deployment`, as its process's latest (unless a later one is served).
    pub fn put(&self, process: Arc<Process>, deployment: Deployment) {
        let mut by_name = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        if by_name.get(&deployment.process).is_some_and(|s| s.deployment.number > deployment.number) {
            return;
        }
        by_name.insert(deployment.process.clone(), Arc::new(Served { process, deployment }));
    }

    /// The process named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Served>> {
        self.by_name.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    /// What is served, by name.
    pub fn all(&self) -> Vec<Arc<Served>> {
        let mut all: Vec<Arc<Served>> =
            self.by_name.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        all.sort_unstable_by(|a, b| a.deployment.process.cmp(&b.deployment.process));
        all
    }

    /// The names served, sorted.
    pub fn names(&self) -> Vec<String> {
        self.all().iter().map(|s| s.deployment.process.clone()).collect()
    }
}

/// Deploy `process`, loaded from `file`, through `driver`.
///
/// Errors: the store's.
pub fn deploy(driver: &Driver<'_>, process: Arc<Process>, file: &Path) -> Result<Deployed, String> {
    driver.deploy(process, file).map_err(|e| format!("cannot deploy {}: {e}", file.display()))
}

/// One line saying what a deployment did: `process "NAME" VERSION: deployment N (FILE)`, or that it
/// already was the latest.
pub fn said(deployed: &Deployed) -> String {
    let d = deployed.deployment();
    let what = format!("process \"{}\" {} from {}", d.process, d.version, d.definition_file);
    match deployed {
        Deployed::New(_) => format!("{what}: deployment {}", d.number),
        Deployed::Unchanged(_) => format!("{what}: already the latest deployment ({})", d.number),
    }
}

/// The JSON of a deployment, with whether it is `new` (`weft deploy --json`, and `POST /deployments`).
pub fn deployed_json(deployed: &Deployed) -> serde_json::Value {
    let mut value = serde_json::json!(deployed.deployment());
    value["new"] = serde_json::json!(matches!(deployed, Deployed::New(_)));
    value
}
