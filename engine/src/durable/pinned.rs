//! The process an instance is pinned to ([`Driver::pinned_process`]), loaded from the store's blobs once
//! per driver and pinned version: a server opens an instance for every slice it drives and every event it
//! delivers. A component's blob is read from the store (and hashed) only when its compiled form is not
//! at hand (cached, or loaded by this runtime): a Python step's is ~19 MB, which every `weft send` and
//! `weft resume` of its run read and hashed before (`durable/open/python` in engine/benches/step_hop.rs).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{Driver, DurableError};
use crate::blob::Blob;
use crate::load::Process;
use crate::runner::layout::Layout;
use crate::store::{InstanceInfo, Store, StoreError};

/// What names a pinned version exactly: the definition's file and digest, each step's component digest,
/// and the layout's digest (its resolved configuration). Blobs are content-addressed, so equal keys load
/// equal processes.
pub(super) type Key = (String, String, Vec<(String, String)>, Option<String>);

/// The pinned processes a driver loaded, by [`Key`]: one entry per version its instances are pinned to,
/// kept as long as the driver (the runtime keeps their compiled components as long anyway).
#[derive(Default)]
pub(super) struct Loaded {
    by_key: Mutex<HashMap<Key, Arc<Process>>>,
}

impl Loaded {
    pub(super) fn get(&self, key: &Key) -> Option<Arc<Process>> {
        self.by_key.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    pub(super) fn insert(&self, key: Key, process: Arc<Process>) {
        self.by_key.lock().unwrap_or_else(|e| e.into_inner()).insert(key, process);
    }
}

impl Driver<'_> {
    /// The layout instance `info` is pinned to.
    ///
    /// Errors: none is pinned (a run started by an older Weft), or its blob is missing or unreadable
    /// ([`StoreError::Damaged`]).
    pub fn layout(store: &dyn Store, info: &InstanceInfo) -> Result<Option<Layout>, StoreError> {
        let Some(digest) = &info.layout_digest else { return Ok(None) };
        layout_blob(store, digest, &format!("\"{}\"", info.id)).map(Some)
    }

    /// The process instance `info` is pinned to, with the configuration its layout pinned: loaded from the
    /// store's blobs the first time this driver meets its version, shared afterwards.
    ///
    /// Errors: a missing blob ([`StoreError::Damaged`]); [`DurableError::Pinned`].
    pub fn pinned_process(&self, info: &InstanceInfo) -> Result<Arc<Process>, DurableError> {
        let key = (
            info.definition_file.clone(),
            info.definition_digest.clone(),
            info.components.clone(),
            info.layout_digest.clone(),
        );
        self.pinned_by(key, &format!("\"{}\"", info.id))
    }

    /// The process pinned by `key` (of `what`, for messages), loaded once per driver.
    pub(super) fn pinned_by(&self, key: Key, what: &str) -> Result<Arc<Process>, DurableError> {
        if let Some(process) = self.pinned.get(&key) {
            return Ok(process);
        }
        let process = Arc::new(self.load_pinned(&key, what)?);
        self.pinned.insert(key, process.clone());
        Ok(process)
    }

    /// [`Driver::pinned_by`], read from the store.
    fn load_pinned(&self, key: &Key, what: &str) -> Result<Process, DurableError> {
        let (file, definition_digest, pins, layout_digest) = key;
        let text = self.store.blob(definition_digest)?.ok_or_else(|| missing_blob(definition_digest))?;
        let text = String::from_utf8(text)
            .map_err(|_| StoreError::Damaged(format!("the definition of {what} is not UTF-8")))?;
        // Steps that share a component share its blob, read (and checked) only if it must be compiled.
        let mut by_digest: HashMap<&str, Blob> = HashMap::new();
        let mut components = HashMap::new();
        for (step, digest) in pins {
            let blob = match by_digest.get(digest.as_str()) {
                Some(blob) => blob.clone(),
                None => {
                    if !self.store.has_blob(digest)? {
                        return Err(missing_blob(digest).into());
                    }
                    let blob = stored(&self.store, digest);
                    by_digest.insert(digest, blob.clone());
                    blob
                }
            };
            components.insert(step.clone(), blob);
        }
        let config: Option<HashMap<String, BTreeMap<String, String>>> = match layout_digest {
            Some(digest) => {
                let layout = layout_blob(&*self.store, digest, what)?;
                Some(layout.config().map(|(step, config)| (step.to_owned(), config.clone())).collect())
            }
            None => None,
        };
        self.runtime
            .load_pinned(Path::new(file), text, &|step| components.get(step).cloned(), config.as_ref())
            .map_err(DurableError::Pinned)
    }
}

/// The layout stored as blob `digest` (of `what`, for messages).
///
/// Errors: the blob is missing or unreadable ([`StoreError::Damaged`]).
fn layout_blob(store: &dyn Store, digest: &str, what: &str) -> Result<Layout, StoreError> {
    let bytes = store.blob(digest)?.ok_or_else(|| missing_blob(digest))?;
    Layout::from_json(&bytes).map_err(|e| StoreError::Damaged(format!("the layout of {what} cannot be read: {e}")))
}

/// The blob `digest` of `store`, read from it when needed. The blob holds the store weakly: a loaded
/// component keeps its blob for the process's life (the runtime's cache), and a store kept open that
/// long would never close its connections (a SQLite store's write-ahead log would stay behind).
fn stored(store: &Arc<dyn Store>, digest: &str) -> Blob {
    let (store, wanted) = (Arc::downgrade(store), digest.to_owned());
    let read = move || match store.upgrade().map(|store| store.blob(&wanted)) {
        None => Err(format!("the store holding blob {wanted} was closed before the blob was read")),
        Some(Ok(Some(bytes))) => Ok(bytes),
        Some(Ok(None)) => Err(missing_blob(&wanted).to_string()),
        Some(Err(e)) => Err(e.to_string()),
    };
    Blob::read_later(digest.to_owned(), format!("the store's blob {digest}"), Arc::new(read))
}

/// The error for a blob the store should hold and does not.
fn missing_blob(digest: &str) -> StoreError {
    StoreError::Damaged(format!("the store lacks the blob {digest}"))
}
