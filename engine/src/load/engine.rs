//! The wasmtime engine, the host linker and the compiled-code cache of a [`Runtime`](super::Runtime), built
//! on a thread of their own while the caller goes on (reading and checking the definition, hashing component
//! files), and waited for where a component is first loaded.
//!
//! Building them is most of a short command's own work: `Engine::new` reserves and indexes the instance pool
//! (~0.7 ms here, a fifth of it wasmtime asking the CPU count, which reads cgroup files, once per pool part)
//! and the linker defines every WASI and Weft host function (~0.3 ms). None of it depends on the definition.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy};

use super::CompiledCache;
use crate::host::{self, HostState, sandbox};

/// What loading a component needs from wasmtime.
pub struct Wasm {
    /// The engine: component model on, no async support, epoch interruption, instances from a pool.
    pub engine: Engine,
    /// Every host function a step may import (WASI and Weft's own).
    pub linker: Linker<HostState>,
    /// Compiled forms of components, keyed by this engine's settings.
    pub cache: CompiledCache,
}

/// A [`Wasm`] being built, or built.
pub struct Building {
    thread: Mutex<Option<JoinHandle<Result<Wasm, String>>>>,
    built: OnceLock<Result<Wasm, String>>,
}

impl Building {
    /// Start building, on a thread named `weft-engine`; in place if no thread can be started.
    pub fn start(cache_dir: Option<PathBuf>) -> Building {
        let (thread, built) = match std::thread::Builder::new().name("weft-engine".into()).spawn({
            let cache_dir = cache_dir.clone();
            move || build(cache_dir)
        }) {
            Ok(thread) => (Some(thread), OnceLock::new()),
            Err(_) => (None, OnceLock::from(build(cache_dir))),
        };
        Building { thread: Mutex::new(thread), built }
    }

    /// The engine, linker and cache, once built (waiting for the thread the first time).
    ///
    /// Errors: why the engine could not be built on this machine ("cannot start the WebAssembly engine:
    /// ..."), every time it is asked.
    pub fn get(&self) -> Result<&Wasm, &str> {
        let built = self.built.get_or_init(|| {
            let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
            match thread.map(JoinHandle::join) {
                Some(Ok(built)) => built,
                Some(Err(_)) => Err("cannot start the WebAssembly engine: its thread panicked".into()),
                // Only the first caller takes the thread, and it sets the value before any other returns.
                None => Err("cannot start the WebAssembly engine: it was never started".into()),
            }
        });
        built.as_ref().map_err(String::as_str)
    }
}

/// Build the engine with the settings Weft relies on, its epoch ticker, the linker and the cache.
fn build(cache_dir: Option<PathBuf>) -> Result<Wasm, String> {
    let failed = |e: wasmtime::Error| format!("cannot start the WebAssembly engine: {e:#}");
    let mut wasm = Config::new();
    wasm.wasm_component_model(true);
    // Steps are called synchronously; without the async machinery a component call costs about a third.
    wasm.concurrency_support(false);
    // Invocation deadlines (see host::sandbox).
    wasm.epoch_interruption(true);
    // Instances come from a pool of slots mapped once (see sandbox::pooling); where the machine will not
    // reserve the address space for it (a `ulimit -v`), each instance maps its own memory instead.
    let mut pooled = wasm.clone();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(sandbox::pooling()));
    let engine = match Engine::new(&pooled) {
        Ok(engine) => engine,
        Err(e) => {
            tracing::warn!("cannot reserve the instance pool ({e:#}); instances will be allocated one by one");
            Engine::new(&wasm).map_err(failed)?
        }
    };
    sandbox::start_ticker(&engine);
    let linker = host::linker(&engine).map_err(failed)?;
    let cache = CompiledCache::new(cache_dir, &engine);
    Ok(Wasm { engine, linker, cache })
}
