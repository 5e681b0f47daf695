//! Loading: a definition file → a validated definition → its components, compiled once and described →
//! a routing table. The result, a [`Process`], is everything the [runner](crate::runner) needs.

pub mod cache;
pub mod components;
pub mod description;
pub mod routing;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};
use weft_definitions::{DefinitionError, LoadedDefinition};

use crate::data::Json;
use crate::host::sandbox::{self, Limits};
use crate::host::{self, HostState};
pub use cache::{CacheStatus, CompiledCache};
pub use components::StepComponent;
pub use description::StepDescription;
pub use routing::{Delivery, Route, RoutingTable, Source};

/// Settings of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Root of the compiled-code cache; `None` turns it off. Default: [`CompiledCache::default_root`].
    pub cache_dir: Option<PathBuf>,
    /// Time and memory limits of every step instance.
    pub limits: Limits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig { cache_dir: CompiledCache::default_root(), limits: Limits::default() }
    }
}

/// One wasmtime engine and linker, and every component loaded so far, by canonical path.
/// Load many processes through one `Runtime` and a component they share is compiled and described once.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompiledCache,
    limits: Limits,
    /// One slot per canonical path; a slot's own lock is held while its component loads, so concurrent
    /// loads of one component compile it once (a Python component takes seconds).
    components: Mutex<HashMap<PathBuf, Slot>>,
}

/// Where one component, once loaded, is kept.
type Slot = Arc<Mutex<Option<Arc<StepComponent>>>>;

/// A loaded process: its definition, one loaded component per step, and its routing table.
pub struct Process {
    /// The validated definition with its source map.
    pub loaded: LoadedDefinition,
    /// Steps in definition order.
    pub steps: Vec<ProcessStep>,
    /// Resolved edges.
    pub routing: RoutingTable,
    /// Limits of its step instances.
    pub limits: Limits,
}

/// One step of a loaded process.
pub struct ProcessStep {
    /// Step id.
    pub id: String,
    /// Its component (possibly shared with other steps and processes).
    pub component: Arc<StepComponent>,
    /// State handed to its first invocation.
    pub initial_state: Option<Json>,
}

impl Runtime {
    /// A runtime with the engine settings Weft relies on.
    ///
    /// Errors: wasmtime's, if the engine cannot be built on this machine.
    pub fn new(config: RuntimeConfig) -> wasmtime::Result<Self> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true);
        // Steps are called synchronously; without the async machinery a component call costs about a third.
        wasm.concurrency_support(false);
        // Invocation deadlines (see host::sandbox).
        wasm.epoch_interruption(true);
        let engine = Engine::new(&wasm)?;
        sandbox::start_ticker(&engine);
        let linker = host::linker(&engine)?;
        let cache = CompiledCache::new(config.cache_dir, &engine);
        Ok(Runtime { engine, linker, cache, limits: config.limits, components: Mutex::default() })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Load the definition at `path` and every component it names.
    ///
    /// Errors: every problem found, each placed in the definition file: those of
    /// [`weft_definitions::load_file`], plus missing or invalid components and edges naming functions or
    /// parameters the components lack, or binding ambiguously.
    pub fn load_process(&self, path: &Path) -> Result<Process, DefinitionError> {
        let loaded = weft_definitions::load_file(path)?;
        let mut steps = Vec::with_capacity(loaded.definition.steps.len());
        let mut problems = Vec::new();
        for (i, step) in loaded.definition.steps.iter().enumerate() {
            let initial_state = match step.state.as_ref().map(Json::from_value).transpose() {
                Ok(state) => state,
                Err(e) => {
                    let message = format!("step \"{}\": state: {e}", step.id);
                    problems.push(loaded.diagnostic(&format!("/steps/{i}/state"), message, None));
                    None
                }
            };
            match self.component(&loaded.base_dir().join(&step.component)) {
                Ok(component) => steps.push(ProcessStep { id: step.id.clone(), component, initial_state }),
                Err((message, hint)) => {
                    let message = format!("step \"{}\": {message}", step.id);
                    problems.push(loaded.diagnostic(&format!("/steps/{i}/component"), message, hint));
                }
            }
        }
        if !problems.is_empty() {
            return Err(DefinitionError::Invalid(problems));
        }
        let descriptions: Vec<&StepDescription> = steps.iter().map(|s| &s.component.description).collect();
        let routing = RoutingTable::build(&loaded, &descriptions).map_err(DefinitionError::Invalid)?;
        Ok(Process { loaded, steps, routing, limits: self.limits })
    }

    /// The component at `path`, loaded (compiled, described) once per runtime.
    ///
    /// Errors: what is wrong with the file, and what would fix it, as one text.
    pub fn component_at(&self, path: &Path) -> Result<Arc<StepComponent>, String> {
        self.component(path).map_err(|(message, hint)| match hint {
            Some(hint) => format!("{message}\n  hint: {hint}"),
            None => message,
        })
    }

    /// The component at `path`, loaded once per runtime. Errors: a message and a hint.
    fn component(&self, path: &Path) -> Result<Arc<StepComponent>, (String, Option<String>)> {
        let canonical = path.canonicalize().map_err(|e| {
            (
                format!("component file {} not found ({e})", path.display()),
                Some("build the steps (scripts/build-steps) or fix the `component` path, which is relative to the definition file".into()),
            )
        })?;
        let slot = self.lock().entry(canonical.clone()).or_default().clone();
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let component = components::load(&self.engine, &self.linker, &self.cache, &self.limits, &canonical)
            .map_err(|e| (e, None))?;
        let component = Arc::new(component);
        tracing::info!(component = %canonical.display(), cache = ?component.cache, "loaded component");
        *slot = Some(component.clone());
        Ok(component)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Slot>> {
        // A panic while holding the lock cannot leave the map half-updated (insert is the only write).
        self.components.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Process {
    /// The process name.
    pub fn name(&self) -> &str {
        &self.loaded.definition.name
    }
}
