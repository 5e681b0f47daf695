//! Loading one step component: check what the file is, compile it (or take it from the
//! [`cache`](super::cache)), check the contract version it was built against, pre-link it against the
//! host's imports, and ask it to describe itself.
//!
//! Each refusal says what the file is and what was expected: not WebAssembly; a core module, not a
//! component; a component of another version of the `weft:step` contract (naming both versions); a
//! component of another world (no `weft:step/kernel` export, or imports the engine does not offer); a
//! kernel interface without its functions; a `describe` that traps or describes nothing usable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::{Component, ComponentExportIndex, Linker};

use crate::blob::Blob;
use crate::host::bindings::StepPre;
use crate::host::sandbox::Limits;
use crate::host::{self, CONTRACT_VERSION, HostState, KERNEL_EXPORT};
use crate::load::Problem;
use crate::load::cache::{CacheStatus, CompiledCache};
use crate::load::described::Descriptions;
use crate::load::description::StepDescription;

/// A loaded step component, ready to instantiate; shared by every step (of any process) that uses it.
pub struct StepComponent {
    /// The file it was first read from (for messages; a pinned run's file may have changed since).
    pub path: PathBuf,
    /// Its bytes and their SHA-256, its identity (kept so that a durable run can pin them; not read from
    /// the file when its compiled form was cached and its digest recorded, see [`crate::blob`]).
    pub blob: Blob,
    /// Pre-linked against the host's imports: instantiating it does no linking work.
    pub pre: StepPre<HostState>,
    /// Where its `invoke` function is among its exports (inside `weft:step/kernel`).
    pub invoke: ComponentExportIndex,
    /// What it offers (shared with the steps that run it, see [`crate::load::ProcessStep::description`]).
    pub description: Arc<StepDescription>,
    /// Whether its compiled code came from the cache.
    pub cache: CacheStatus,
}

impl StepComponent {
    /// SHA-256 of its bytes, hex: its identity.
    pub fn digest(&self) -> &str {
        self.blob.digest()
    }
}

/// How to build a step component, for hints.
const BUILD_HINT: &str = concat!(
    "build the step with this repository's SDK (step-sdk/), which targets wit/step.wit (weft:step@",
    host::contract_version!(),
    "): `weft build STEP-FOLDER` (a Rust step compiles for wasm32-wasip2; docs/authoring.md)"
);

/// Load the component `blob` (read from `path`): its compiled form from `cache` when there, without
/// reading the bytes; else compiled from them. Its description is the one `described` remembers for its
/// digest, else asked of a new instance (and remembered).
///
/// Errors, as a message and a hint: see the module's documentation; the blob's own (its file unreadable
/// or changed).
pub fn load(
    engine: &wasmtime::Engine,
    linker: &Linker<HostState>,
    cache: &CompiledCache,
    described: &Descriptions,
    limits: &Limits,
    path: &Path,
    blob: Blob,
) -> Result<StepComponent, Problem> {
    let file = path.display();
    let (component, cache_status) = match cache.cached(engine, blob.digest()) {
        Some(component) => (component, CacheStatus::Hit),
        None => {
            let bytes = blob.bytes().map_err(|message| (message, None))?;
            what_it_is(&bytes)
                .map_err(|what| (format!("{file} is not a WebAssembly component: it is {what}"), hint()))?;
            cache
                .compile(engine, &bytes, blob.digest())
                .map_err(|e| (format!("{file} is not a valid WebAssembly component: {e:#}"), hint()))?
        }
    };
    contract(engine, &component).map_err(|what| (format!("{file} {what}"), hint()))?;
    let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
        (format!("{file} imports what this engine does not offer to a step: {e:#}"), Some(world_hint()))
    })?;
    let pre = StepPre::new(instance_pre)
        .map_err(|e| (format!("{file} does not export the kernel functions of {KERNEL_EXPORT}: {e:#}"), hint()))?;
    let invoke = component
        .get_export_index(None, KERNEL_EXPORT)
        .and_then(|kernel| component.get_export_index(Some(&kernel), "invoke"))
        .ok_or_else(|| (format!("{file} exports no `invoke` in {KERNEL_EXPORT}"), hint()))?;
    let description = match described.recalled(blob.digest()) {
        Some(description) => description,
        None => {
            let description = describe(engine, &pre, limits).map_err(|e| (format!("{file}: {e}"), None))?;
            described.remember(blob.digest(), &description);
            description
        }
    };
    let description = Arc::new(description);
    Ok(StepComponent { path: path.to_path_buf(), blob, pre, invoke, description, cache: cache_status })
}

fn hint() -> Option<String> {
    Some(BUILD_HINT.into())
}

fn world_hint() -> String {
    format!("a step may import WASI 0.2 and the interfaces of weft:step@{CONTRACT_VERSION} only; {BUILD_HINT}")
}

/// What `bytes` are when they are not a component: not WebAssembly at all, or a core module.
fn what_it_is(bytes: &[u8]) -> Result<(), String> {
    match bytes {
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => {
            Err("a core WebAssembly module (as built for wasm32-unknown-unknown or wasm32-wasip1)".into())
        }
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Ok(()),
        [0, b'a', b's', b'm', ..] => Err("WebAssembly of a version or layer this engine does not know".into()),
        _ if bytes.is_empty() => Err("an empty file".into()),
        _ => {
            let start: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            Err(format!("not WebAssembly at all (its first bytes are {start}, not \"\\0asm\")"))
        }
    }
}

/// Whether `component` was built against this engine's version of the contract and exports its kernel.
/// `Err` completes "FILE …".
fn contract(engine: &wasmtime::Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    let imports: Vec<&str> = ty.imports(engine).map(|(name, _)| name).collect();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    for (how, name) in imports.iter().map(|n| ("imports", n)).chain(exports.iter().map(|n| ("exports", n))) {
        let Some(rest) = name.strip_prefix("weft:step/") else { continue };
        let version = rest.split_once('@').map_or("with no version", |(_, v)| v);
        if version != CONTRACT_VERSION {
            return Err(format!(
                "targets weft:step@{version} (it {how} {name}); this engine offers weft:step@{CONTRACT_VERSION}"
            ));
        }
    }
    if exports.contains(&KERNEL_EXPORT) {
        return Ok(());
    }
    if exports.contains(&"describe") && exports.contains(&"invoke") {
        return Err(format!(
            "targets weft:step@0.1.0 (it exports `describe` and `invoke` outside an interface); this engine \
             offers weft:step@{CONTRACT_VERSION}"
        ));
    }
    let exported = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
    Err(format!("is a component of another world: it exports {exported}, and a step component exports {KERNEL_EXPORT}"))
}

fn describe(engine: &wasmtime::Engine, pre: &StepPre<HostState>, limits: &Limits) -> Result<StepDescription, String> {
    let owner = host::StoreOwner { process: "", instance: "", step: "describe" };
    let mut store = host::new_store(engine, owner, limits, &host::Grants::default());
    let step = pre.instantiate(&mut store).map_err(|e| format!("cannot instantiate: {e:#}"))?;
    let info = step.weft_step_kernel().call_describe(&mut store).map_err(|e| format!("`describe` trapped: {e:#}"))?;
    store.data_mut().end();
    StepDescription::from_guest(info).map_err(|e| format!("invalid description: {e}"))
}
