//! Deploying a process version ([`Driver::deploy`], what `weft deploy` does) and loading a deployed one
//! back from the store ([`Driver::deployed`], what `weft serve` starts new instances on).

use std::path::Path;
use std::sync::Arc;

use super::{Driver, DurableError, Version};
use crate::load::Process;
use crate::store::{Deployed, Deployment, StoreError};

impl Driver<'_> {
    /// Deploy `process` (loaded from `file`) as the latest version of its process: its definition,
    /// components and layout stored by digest, kept as long as the store. Deploying the version that is
    /// already the latest changes nothing ([`Deployed::Unchanged`]), even from another file: that
    /// deployment's file stays the one its relative paths are read from.
    ///
    /// Errors: the store's.
    pub fn deploy(&self, process: Arc<Process>, file: &Path) -> Result<Deployed, StoreError> {
        let version = Version::of(&process);
        let file = file.display().to_string();
        let deployed = self.store.deploy(process.name(), &version.pinned(&process, &file), self.clock.now_ms())?;
        // A new deployment: the process loaded from the file is the one the store's blobs would load, keep
        // it. An unchanged one was deployed from its own file, maybe another copy in another folder: what
        // is relative to the definition (a file sink) stays relative to that one, as its blobs load it.
        if let Deployed::New(deployment) = &deployed {
            self.pinned.insert(deployment.pin_key(), process);
        }
        Ok(deployed)
    }

    /// The process deployed as `deployment`, loaded from the store's blobs (once per driver and version:
    /// the same version an instance is pinned to is the same loaded process).
    ///
    /// Errors: a missing blob ([`StoreError::Damaged`]); [`DurableError::Pinned`] when this Weft cannot
    /// load it.
    pub fn deployed(&self, deployment: &Deployment) -> Result<Arc<Process>, DurableError> {
        let what = format!("deployment {} of \"{}\"", deployment.number, deployment.process);
        self.pinned_by(deployment.pin_key(), &what)
    }

    /// The latest deployment of each process, by name.
    ///
    /// Errors: the store's.
    pub fn latest_deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let mut latest: Vec<Deployment> = Vec::new();
        for deployment in self.store.deployments(None)? {
            match latest.last_mut() {
                Some(last) if last.process == deployment.process => *last = deployment,
                _ => latest.push(deployment),
            }
        }
        Ok(latest)
    }
}
