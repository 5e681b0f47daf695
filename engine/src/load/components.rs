//! Loading one step component: read the file, compile it (or take it from the [`cache`](super::cache)),
//! pre-link it against the host's imports, and ask it to describe itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::Linker;

use crate::host::bindings::StepPre;
use crate::host::sandbox::Limits;
use crate::host::{self, HostState};
use crate::load::cache::{CacheStatus, CompiledCache};
use crate::load::description::StepDescription;

/// A loaded step component, ready to instantiate; shared by every step (of any process) that uses it.
pub struct StepComponent {
    /// The file it was first read from (for messages; a pinned run's file may have changed since).
    pub path: PathBuf,
    /// SHA-256 of its bytes, hex: its identity.
    pub digest: String,
    /// Its bytes, as read (kept so that a durable run can pin them).
    pub bytes: Arc<[u8]>,
    /// Pre-linked against the host's imports: instantiating it does no linking work.
    pub pre: StepPre<HostState>,
    /// What it offers (shared with the steps that run it, see [`crate::load::ProcessStep::description`]).
    pub description: Arc<StepDescription>,
    /// Whether its compiled code came from the cache.
    pub cache: CacheStatus,
}

/// Load the component in `bytes` (read from `path`, SHA-256 `digest`).
///
/// Errors, as text for a diagnostic with a fix: the bytes are not a WebAssembly component
/// (e.g. a core module), does not implement `weft:step/step@0.1.0`, or its `describe` traps or returns
/// an invalid description.
pub fn load(
    engine: &wasmtime::Engine,
    linker: &Linker<HostState>,
    cache: &CompiledCache,
    limits: &Limits,
    path: &Path,
    bytes: Arc<[u8]>,
    digest: String,
) -> Result<StepComponent, String> {
    let (component, cache_status) = cache.load(engine, &bytes, &digest).map_err(|e| {
        format!(
            "{} is not a WebAssembly component ({e}); a step must be a component built for wasm32-wasip2 \
             (e.g. `cargo build --target wasm32-wasip2 --release`)",
            path.display()
        )
    })?;
    let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
        format!(
            "{} does not fit the weft:step/step@0.1.0 world: {e:#}; build it against this engine's wit/step.wit",
            path.display()
        )
    })?;
    let pre = StepPre::new(instance_pre)
        .map_err(|e| format!("{} does not export the weft:step/step@0.1.0 world: {e:#}", path.display()))?;
    let description = describe(engine, &pre, limits).map_err(|e| format!("{}: {e}", path.display()))?;
    let description = Arc::new(description);
    Ok(StepComponent { path: path.to_path_buf(), digest, bytes, pre, description, cache: cache_status })
}

fn describe(engine: &wasmtime::Engine, pre: &StepPre<HostState>, limits: &Limits) -> Result<StepDescription, String> {
    let owner = host::StoreOwner { process: "", instance: "", step: "describe" };
    let mut store = host::new_store(engine, owner, limits);
    let step = pre.instantiate(&mut store).map_err(|e| format!("cannot instantiate: {e:#}"))?;
    let info = step.call_describe(&mut store).map_err(|e| format!("`describe` trapped: {e:#}"))?;
    StepDescription::from_guest(info).map_err(|e| format!("invalid description: {e}"))
}
