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
use wasmtime::{Config, Engine, InstanceAllocationStrategy};
use weft_definitions::{DefinitionError, LoadedDefinition};

use crate::data::Json;
use crate::host::sandbox::{self, Limits};
use crate::host::{self, HostState};
pub use cache::{CacheStatus, CompiledCache};
pub use components::StepComponent;
pub use description::StepDescription;
pub use routing::{
    AllOfGroup, AwaitRoute, Delivery, EdgeGroup, Guard, GuardedEdge, RetryPolicy, Route, RoutingTable, Source,
};

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

/// One wasmtime engine and linker, and every component loaded so far, by content digest.
/// Load many processes through one `Runtime` and a component they share is compiled and described once.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompiledCache,
    limits: Limits,
    /// One slot per component digest (SHA-256 of its bytes, hex); a slot's own lock is held while its
    /// component loads, so concurrent loads of one component compile it once (a Python component takes
    /// seconds).
    components: Mutex<HashMap<String, Slot>>,
}

/// Where one component, once loaded, is kept.
type Slot = Arc<Mutex<Option<Arc<StepComponent>>>>;

/// A loaded process: its definition, one loaded component per step, and its routing table.
pub struct Process {
    /// The validated definition with its source map.
    pub loaded: LoadedDefinition,
    /// The definition's text, as loaded.
    pub text: String,
    /// SHA-256 of the text, hex.
    pub digest: String,
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
    /// The state-version of `initial_state`: the definition's `stateVersion`, else the component's.
    pub initial_state_version: u32,
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
        // Instances come from a pool of slots mapped once (see sandbox::pooling); where the machine will not
        // reserve the address space for it (a `ulimit -v`), each instance maps its own memory instead.
        let mut pooled = wasm.clone();
        pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(sandbox::pooling()));
        let engine = match Engine::new(&pooled) {
            Ok(engine) => engine,
            Err(e) => {
                tracing::warn!("cannot reserve the instance pool ({e:#}); instances will be allocated one by one");
                Engine::new(&wasm)?
            }
        };
        sandbox::start_ticker(&engine);
        let linker = host::linker(&engine)?;
        let cache = CompiledCache::new(config.cache_dir, &engine);
        Ok(Runtime { engine, linker, cache, limits: config.limits, components: Mutex::default() })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Load the definition at `path` and every component it names, from the files on disk.
    ///
    /// Errors: every problem found, each placed in the definition file: those of
    /// [`weft_definitions::load_file`], plus missing or invalid components and edges naming functions or
    /// parameters the components lack, or binding ambiguously.
    pub fn load_process(&self, path: &Path) -> Result<Process, DefinitionError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| DefinitionError::Io { file: path.to_path_buf(), source })?;
        self.load_from(path, text, &mut |_, component| read_component(component))
    }

    /// Load a process from definition `text` (reporting positions against `file`) and the component
    /// bytes `components` gives for each step id: what a run was pinned to, whatever the files on disk
    /// say now.
    ///
    /// Errors: as [`Runtime::load_process`]; a step `components` has no bytes for is reported at its
    /// `component` key.
    pub fn load_pinned(
        &self,
        file: &Path,
        text: String,
        components: &dyn Fn(&str) -> Option<Arc<[u8]>>,
    ) -> Result<Process, DefinitionError> {
        self.load_from(file, text, &mut |step, _| {
            components(step).ok_or_else(|| (format!("the run has no pinned component for step \"{step}\""), None))
        })
    }

    /// Load a process from `text`, taking each step's component bytes from `fetch(step id, path)`.
    fn load_from(&self, file: &Path, text: String, fetch: &mut Fetch<'_>) -> Result<Process, DefinitionError> {
        let loaded = weft_definitions::load_str(&text, file)?;
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
            let path = loaded.base_dir().join(&step.component);
            match fetch(&step.id, &path).and_then(|bytes| self.component(&path, bytes)) {
                Ok(component) => {
                    let initial_state_version = step.state_version.unwrap_or(component.description.state_version);
                    steps.push(ProcessStep { id: step.id.clone(), component, initial_state, initial_state_version })
                }
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
        let digest = crate::data::sha256_hex(text.as_bytes());
        Ok(Process { loaded, text, digest, steps, routing, limits: self.limits })
    }

    /// The component at `path`, loaded (compiled, described) once per runtime.
    ///
    /// Errors: what is wrong with the file, and what would fix it, as one text.
    pub fn component_at(&self, path: &Path) -> Result<Arc<StepComponent>, String> {
        read_component(path).and_then(|bytes| self.component(path, bytes)).map_err(|(message, hint)| match hint {
            Some(hint) => format!("{message}\n  hint: {hint}"),
            None => message,
        })
    }

    /// The component in `bytes` (read from `path`), loaded once per runtime and content digest.
    fn component(&self, path: &Path, bytes: Arc<[u8]>) -> Result<Arc<StepComponent>, Problem> {
        let digest = crate::data::sha256_hex(&bytes);
        let slot = self.lock().entry(digest.clone()).or_default().clone();
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let component = components::load(&self.engine, &self.linker, &self.cache, &self.limits, path, bytes, digest)
            .map_err(|e| (e, None))?;
        let component = Arc::new(component);
        tracing::info!(component = %path.display(), cache = ?component.cache, "loaded component");
        *slot = Some(component.clone());
        Ok(component)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
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

/// A problem with a component: the message, and a hint that would fix it.
type Problem = (String, Option<String>);

/// Where a step's component bytes come from: `(step id, resolved path)` → bytes.
type Fetch<'a> = dyn FnMut(&str, &Path) -> Result<Arc<[u8]>, Problem> + 'a;

/// The bytes of the component file at `path`.
fn read_component(path: &Path) -> Result<Arc<[u8]>, Problem> {
    std::fs::read(path).map(Arc::from).map_err(|e| {
        (
            format!("component file {} not found or unreadable ({e})", path.display()),
            Some(
                "build the steps (scripts/build-steps) or fix the `component` path, which is relative to the \
                 definition file"
                    .into(),
            ),
        )
    })
}
