//! Loading: a definition file → a validated definition → its components, compiled once and described →
//! a routing table. The result, a [`Process`], is everything the [runner](crate::runner) needs.

pub mod accepted;
pub mod cache;
pub mod components;
pub mod declared;
pub mod described;
pub mod description;
pub mod digests;
pub mod grants;
mod preload;
pub mod routing;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy};
use weft_definitions::tree::DefinitionTree;
use weft_definitions::{self as definition, DefinitionError, Diagnostic, LoadedDefinition};

use crate::blob::Blob;
use crate::data::Json;
use crate::host::sandbox::{self, Limits};
use crate::host::{self, HostState};
pub use cache::{CacheStatus, CompiledCache};
pub use components::StepComponent;
pub use description::{EventDescription, FunctionDescription, ParamDescription, StepDescription};
pub use grants::Environment;
pub use routing::{
    AllOfGroup, AwaitRoute, Delivery, EdgeGroup, Guard, GuardedEdge, Nested, RetryPolicy, Route, RoutingTable, Scope,
    Shape, Source,
};

/// Settings of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Root of the compiled-code cache; `None` turns it off. Default: [`CompiledCache::default_root`].
    pub cache_dir: Option<PathBuf>,
    /// Time and memory limits of every step instance.
    pub limits: Limits,
    /// Where a definition's `{ env: NAME }` config values and secrets are read. Default: the process's
    /// environment.
    pub environment: Environment,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: CompiledCache::default_root(),
            limits: Limits::default(),
            environment: Environment::default(),
        }
    }
}

/// One wasmtime engine and linker, and every component loaded so far, by content digest.
/// Load many processes through one `Runtime` and a component they share is compiled and described once.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompiledCache,
    /// The digests of component files read before (beside the cache).
    digests: digests::FileDigests,
    /// The definition texts the schema accepted before (beside the cache).
    accepted: accepted::AcceptedDefinitions,
    /// The descriptions components gave before (beside the cache).
    described: described::Descriptions,
    limits: Limits,
    environment: Environment,
    /// Whether instances come from the pool ([`sandbox::pooling`]) rather than one by one.
    pooled: bool,
    /// One slot per component digest (SHA-256 of its bytes, hex); a slot's own lock is held while its
    /// component loads, so concurrent loads of one component compile it once (a Python component takes
    /// seconds).
    components: Mutex<HashMap<String, Slot>>,
}

/// Where one component, once loaded, is kept.
type Slot = Arc<Mutex<Option<Arc<StepComponent>>>>;

/// A loaded process: its definition, its steps (its sub-processes' steps flattened in after its own),
/// and its routing table.
pub struct Process {
    /// The validated definition with its source map.
    pub loaded: LoadedDefinition,
    /// The definition's text, as loaded.
    pub text: String,
    /// SHA-256 of the text, hex.
    pub digest: String,
    /// The definition's steps in definition order (indices as in the definition), then, for each
    /// sub-process step in order, the sub-process's steps, flattened likewise, with ids `<step>/<id>`.
    pub steps: Vec<ProcessStep>,
    /// Resolved edges, over the flattened steps.
    pub routing: RoutingTable,
    /// Limits of its step instances.
    pub limits: Limits,
    /// Everything a durable run pins by key: each component (keyed by the step id that runs it) and each
    /// sub-process's definition text (keyed `process:<step id>`), in load order.
    pub pins: Vec<Pin>,
}

/// Bytes a run is pinned to, by key (see [`Process::pins`]).
#[derive(Clone)]
pub struct Pin {
    /// The step id (a component) or `process:<step id>` (a sub-process's definition text).
    pub key: String,
    /// The bytes and their SHA-256.
    pub blob: Blob,
}

/// The key under which the definition text of the process run by step `step` is pinned.
pub fn process_pin(step: &str) -> String {
    format!("process:{step}")
}

/// One step of a loaded process.
pub struct ProcessStep {
    /// Step id (`<sub-process step>/<id>` inside a sub-process).
    pub id: String,
    /// What runs when one of its kernel functions fires.
    pub kind: StepKind,
    /// Its kernel functions as routing sees them (none for a sub-process step).
    pub description: Arc<StepDescription>,
    /// State handed to its first invocation.
    pub initial_state: Option<Json>,
    /// The state-version of `initial_state`: the definition's `stateVersion`, else the component's.
    pub initial_state_version: u32,
    /// What one invocation may use: the runtime's limits with the step's `limits` applied.
    pub limits: Limits,
    /// What the definition grants it (`capabilities`), resolved; nothing for a sub-process step.
    pub grants: host::Grants,
}

/// What a step is.
pub enum StepKind {
    /// A component (possibly shared with other steps and processes).
    Component(Arc<StepComponent>),
    /// A sub-process: its steps follow in [`Process::steps`]; this step is never invoked, and its public
    /// events rise as this step's events.
    SubProcess,
    /// A map step.
    Map(Arc<MapStep>),
}

/// A map step: what runs once per item (docs/semantics.md, "Map steps").
pub struct MapStep {
    /// The component or process.
    pub over: Mapped,
    /// The state each item starts from (a component's).
    pub item_state: Option<Json>,
}

/// What a map step runs per item.
pub enum Mapped {
    /// A component: the kernel function the map was sent to, with the item as its one argument.
    Component(Arc<StepComponent>),
    /// A process, run to its end per item: the input event the map was sent to, with the item as data.
    Process(Arc<Process>),
}

impl ProcessStep {
    /// The component it runs: its own, or the one its map runs per item.
    pub fn component(&self) -> Option<&Arc<StepComponent>> {
        match &self.kind {
            StepKind::Component(c) => Some(c),
            StepKind::Map(m) => match &m.over {
                Mapped::Component(c) => Some(c),
                Mapped::Process(_) => None,
            },
            StepKind::SubProcess => None,
        }
    }
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
        let (engine, pooled) = match Engine::new(&pooled) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!("cannot reserve the instance pool ({e:#}); instances will be allocated one by one");
                (Engine::new(&wasm)?, false)
            }
        };
        sandbox::start_ticker(&engine);
        let linker = host::linker(&engine)?;
        let digests = digests::FileDigests::new(config.cache_dir.as_deref());
        let accepted = accepted::AcceptedDefinitions::new(config.cache_dir.as_deref());
        let described = described::Descriptions::new(config.cache_dir.as_deref());
        let cache = CompiledCache::new(config.cache_dir, &engine);
        Ok(Runtime {
            engine,
            linker,
            cache,
            digests,
            accepted,
            described,
            limits: config.limits,
            environment: config.environment,
            pooled,
            components: Mutex::default(),
        })
    }

    /// Whether instances come from the instance pool, which holds at most
    /// [`sandbox::POOLED_COMPONENT_INSTANCES`] at once (false where the machine would not reserve its
    /// address space: each instance then maps its own memory, without that bound).
    pub fn pooled(&self) -> bool {
        self.pooled
    }

    /// What one invocation may use when a step's definition sets no `limits:`.
    pub fn limits(&self) -> &Limits {
        &self.limits
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
        // A file several steps name is read once (and, being the same bytes, hashed once).
        let mut read: HashMap<std::path::PathBuf, Blob> = HashMap::new();
        self.load_from(
            path,
            text,
            &mut |key, file| {
                if key.starts_with("process:") {
                    return weft_definitions::tree::read_file(key, file)
                        .map(|t| Blob::new(Arc::from(t.into_bytes())))
                        .map_err(|m| (m, None));
                }
                if let Some(blob) = read.get(file) {
                    return Ok(blob.clone());
                }
                let blob = self.file_blob(file)?;
                read.insert(file.to_path_buf(), blob.clone());
                Ok(blob)
            },
            None,
        )
    }

    /// Load a process from definition `text` (reporting positions against `file`) and the component
    /// bytes `components` gives for each step id: what a run was pinned to, whatever the files on disk
    /// say now.
    ///
    /// Errors: as [`Runtime::load_process`]; a step `components` has no bytes for is reported at its
    /// `component` key.
    /// `config`, when given, holds each step's configuration values as the run pinned them (by step id):
    /// they are used as they are instead of being resolved again from the environment.
    pub fn load_pinned(
        &self,
        file: &Path,
        text: String,
        components: &dyn Fn(&str) -> Option<Blob>,
        config: Option<&PinnedConfig>,
    ) -> Result<Process, DefinitionError> {
        let mut fetch = |step: &str, _: &Path| {
            components(step).ok_or_else(|| (format!("the run has no pinned component for step \"{step}\""), None))
        };
        self.load_from(file, text, &mut fetch, config)
    }

    /// Load a process from `text`, taking each step's component bytes from `fetch(key, path)` (see
    /// [`Process::pins`] for the keys), sub-processes' definitions included.
    fn load_from(
        &self,
        file: &Path,
        text: String,
        fetch: &mut Fetch<'_>,
        config: Option<&PinnedConfig>,
    ) -> Result<Process, DefinitionError> {
        let mut read = |key: &str, path: &Path| {
            let bytes = fetch(&process_pin(key), path).and_then(|b| b.bytes().map_err(|m| (m, None)));
            let bytes = bytes.map_err(|(message, _)| message)?;
            String::from_utf8(bytes.to_vec()).map_err(|e| format!("{} is not UTF-8 text: {e}", path.display()))
        };
        let tree = weft_definitions::tree::load_tree_with(file, text, &mut read, &self.accepted)?;
        let mut components = Components { fetch, fetched: HashMap::new(), failed: HashMap::new() };
        components.preload(self, &tree);
        self.process_from(&tree, "", &mut components, config)
    }

    /// The process of `tree`, whose steps' pin keys start with `prefix` (empty for the root).
    fn process_from(
        &self,
        tree: &DefinitionTree,
        prefix: &str,
        fetch: &mut Components<'_, '_>,
        config: Option<&PinnedConfig>,
    ) -> Result<Process, DefinitionError> {
        let mut pins = Vec::new();
        let (steps, routing) =
            self.flatten(tree, prefix, "", fetch, &mut pins, config).map_err(DefinitionError::Invalid)?;
        let loaded = tree.loaded.clone();
        let digest = crate::data::sha256_hex(tree.text.as_bytes());
        Ok(Process { loaded, text: tree.text.clone(), digest, steps, routing, limits: self.limits, pins })
    }

    /// The steps and routing table of `tree`, its sub-processes flattened in; step ids start with
    /// `id_prefix` and pin keys with `pin_prefix`.
    fn flatten(
        &self,
        tree: &DefinitionTree,
        pin_prefix: &str,
        id_prefix: &str,
        fetch: &mut Components<'_, '_>,
        pins: &mut Vec<Pin>,
        config: Option<&PinnedConfig>,
    ) -> Result<(Vec<ProcessStep>, RoutingTable), Vec<Diagnostic>> {
        let loaded = &tree.loaded;
        let mut steps = Vec::with_capacity(loaded.definition.steps.len());
        let mut nested: Vec<Option<(Vec<ProcessStep>, RoutingTable)>> = Vec::new();
        let mut problems = Vec::new();
        for (i, step) in loaded.definition.steps.iter().enumerate() {
            let id = format!("{id_prefix}{}", step.id);
            let key = format!("{pin_prefix}{}", step.id);
            let state = |pointer: &str, state: Option<&serde_json::Value>, problems: &mut Vec<Diagnostic>| {
                state.map(Json::from_value).transpose().unwrap_or_else(|e| {
                    problems.push(loaded.diagnostic(pointer, format!("step \"{}\": state: {e}", step.id), None));
                    None
                })
            };
            let initial_state = state(&format!("/steps/{i}/state"), step.state.as_ref(), &mut problems);
            let pinned = config.map(|c| c.get(&id).cloned().unwrap_or_default());
            let grants = grants::resolve(&id, step.capabilities.as_ref(), loaded.base_dir(), &self.environment, pinned)
                .unwrap_or_else(|found| {
                    for (at, message, hint) in found {
                        problems.push(loaded.diagnostic(&format!("/steps/{i}/capabilities/{at}"), message, Some(hint)));
                    }
                    host::Grants::default()
                });
            let component = |relative: &str,
                             pointer: &str,
                             fetch: &mut Components<'_, '_>,
                             pins: &mut Vec<Pin>,
                             problems: &mut Vec<Diagnostic>| {
                let path = loaded.base_dir().join(relative);
                match fetch.component(self, &key, &path) {
                    Ok((c, blob)) => {
                        pins.push(Pin { key: key.clone(), blob });
                        Some(c)
                    }
                    Err((message, hint)) => {
                        problems.push(loaded.diagnostic(pointer, format!("step \"{}\": {message}", step.id), hint));
                        None
                    }
                }
            };
            let child = tree.child(i);
            if let Some(child) = child {
                pins.push(Pin { key: process_pin(&key), blob: Blob::new(Arc::from(child.text.as_bytes())) });
            }
            let (kind, description) = match (step.kind(), child) {
                (Some(definition::StepKind::Component(path)), _) => {
                    let Some(c) = component(path, &format!("/steps/{i}/component"), fetch, pins, &mut problems) else {
                        continue;
                    };
                    let description = c.description.clone();
                    (StepKind::Component(c), description)
                }
                (Some(definition::StepKind::Process(_)), Some(child)) => {
                    let pointer = format!("/steps/{i}/process");
                    let inner = self.flatten(child, &format!("{key}/"), &format!("{id}/"), fetch, pins, config);
                    match inner {
                        Ok((inner_steps, inner_routing)) => {
                            if inner_routing.stops_or_awaits() {
                                problems.push(loaded.diagnostic(
                                    &pointer,
                                    format!(
                                        "step \"{}\": the process {} stops or awaits, which a sub-process may not \
                                         do (it would stop or hold the whole run)",
                                        step.id,
                                        child.loaded.file.display()
                                    ),
                                    Some("emit a public event from the sub-process and let this process stop or await".into()),
                                ));
                            }
                            nested.resize_with(i, || None);
                            nested.push(Some((inner_steps, inner_routing)));
                        }
                        Err(mut found) => problems.append(&mut found),
                    }
                    (
                        StepKind::SubProcess,
                        Arc::new(StepDescription { functions: Vec::new(), events: Vec::new(), state_version: 0 }),
                    )
                }
                (Some(definition::StepKind::Map(map)), child) => {
                    let item_state = state(&format!("/steps/{i}/map/state"), map.state.as_ref(), &mut problems);
                    let over = match (&map.component, child) {
                        (Some(path), _) => {
                            let Some(c) =
                                component(path, &format!("/steps/{i}/map/component"), fetch, pins, &mut problems)
                            else {
                                continue;
                            };
                            Mapped::Component(c)
                        }
                        (None, Some(child)) => {
                            // A mapped process's configuration is resolved anew: the layout covers the run's own steps.
                            match self.process_from(child, &format!("{key}/"), fetch, None) {
                                Ok(p) => {
                                    pins.extend(p.pins.iter().cloned());
                                    let why = if !p.routing.awaits().is_empty() {
                                        Some("awaits, and a mapped process must run to its end within the map")
                                    } else if !p.routing.topics().is_empty() {
                                        Some(
                                            "sends to external topics, which a mapped process cannot (its items' public events are the map's output)",
                                        )
                                    } else {
                                        None
                                    };
                                    if let Some(why) = why {
                                        problems.push(loaded.diagnostic(
                                        &format!("/steps/{i}/map/process"),
                                        format!("step \"{}\": the process {} {why}", step.id, child.loaded.file.display()),
                                        Some("map a process without awaits or topics; emit public events instead".into()),
                                    ));
                                    }
                                    Mapped::Process(Arc::new(p))
                                }
                                Err(DefinitionError::Invalid(mut found)) => {
                                    problems.append(&mut found);
                                    continue;
                                }
                                Err(e) => {
                                    problems.push(loaded.diagnostic(
                                        &format!("/steps/{i}/map/process"),
                                        e.to_string(),
                                        None,
                                    ));
                                    continue;
                                }
                            }
                        }
                        (None, None) => continue,
                    };
                    let description = Arc::new(map_description(&over));
                    (StepKind::Map(Arc::new(MapStep { over, item_state })), description)
                }
                // Reported by the definition checks, or the sub-process did not load.
                _ => continue,
            };
            let initial_state_version = step.state_version.unwrap_or(description.state_version);
            let limits = step.limits.as_ref().map_or(self.limits, |l| self.limits.with(l));
            steps.push(ProcessStep { id, kind, description, initial_state, initial_state_version, limits, grants });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut offset = steps.len();
        let mut shapes = Vec::with_capacity(steps.len());
        for (i, ps) in steps.iter().enumerate() {
            shapes.push(match (&ps.kind, nested.get(i).and_then(Option::as_ref)) {
                (StepKind::SubProcess, Some((inner, routing))) => {
                    let shape = Shape::Nested(Nested { routing, offset });
                    offset += inner.len();
                    shape
                }
                (StepKind::Map(m), _) if matches!(m.over, Mapped::Process(_)) => Shape::MapProcess,
                (StepKind::Map(_), _) => Shape::MapComponent,
                _ => Shape::Component,
            });
        }
        let descriptions: Vec<&StepDescription> = steps.iter().map(|s| &*s.description).collect();
        let mut routing = RoutingTable::build(loaded, &descriptions, &shapes)?;
        for (i, inner) in nested.into_iter().enumerate() {
            let Some((inner_steps, inner_routing)) = inner else { continue };
            routing.append(&inner_routing, i, &loaded.definition.steps[i].id, steps.len());
            steps.extend(inner_steps);
        }
        Ok((steps, routing))
    }

    /// The component at `path`, loaded (compiled, described) once per runtime.
    ///
    /// Errors: what is wrong with the file, and what would fix it, as one text.
    pub fn component_at(&self, path: &Path) -> Result<Arc<StepComponent>, String> {
        self.file_blob(path).and_then(|blob| self.component(path, blob)).map_err(|(message, hint)| match hint {
            Some(hint) => format!("{message}\n  hint: {hint}"),
            None => message,
        })
    }

    /// The component file at `path` as a blob: not read when its digest is recorded (unchanged since an
    /// earlier read, [`digests`]) and its compiled form is at hand (loaded, or in the cache); else read
    /// and hashed now, and its digest recorded.
    fn file_blob(&self, path: &Path) -> Result<Blob, Problem> {
        let meta = std::fs::metadata(path).map_err(|e| unreadable(path, &e))?;
        if let Some(digest) = self.digests.recalled(path, &meta)
            && (self.lock().contains_key(&digest) || self.cache.contains(&digest))
        {
            return Ok(Blob::in_file(path.to_path_buf(), digest));
        }
        let bytes = read_component(path)?;
        let digest = crate::data::sha256_hex(&bytes);
        self.digests.remember(path, &meta, &digest);
        Ok(Blob::hashed(bytes, digest))
    }

    /// The component `blob` (read from `path`), loaded once per runtime and content digest.
    fn component(&self, path: &Path, blob: Blob) -> Result<Arc<StepComponent>, Problem> {
        let slot = self.lock().entry(blob.digest().to_owned()).or_default().clone();
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let component =
            components::load(&self.engine, &self.linker, &self.cache, &self.described, &self.limits, path, blob)?;
        let component = Arc::new(component);
        tracing::info!(component = %path.display(), cache = ?component.cache, "loaded component");
        *slot = Some(component.clone());
        Ok(component)
    }

    /// Whether the component of `digest` is loaded, or being loaded by another thread.
    fn holds(&self, digest: &str) -> bool {
        let slot = self.lock().get(digest).cloned();
        slot.is_some_and(|slot| slot.try_lock().map_or(true, |loaded| loaded.is_some()))
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

/// Each step's configuration values as a run pinned them, by step id (see [`Runtime::load_pinned`]).
pub type PinnedConfig = HashMap<String, BTreeMap<String, String>>;

/// A problem with a component: the message, and a hint that would fix it.
pub(crate) type Problem = (String, Option<String>);

/// Where one load takes its components from: `fetch` for the blobs (each hashed once by whoever made it).
struct Components<'f, 'a> {
    fetch: &'f mut Fetch<'a>,
    /// Blobs fetched ahead, by pin key ([`Components::preload`]).
    fetched: HashMap<String, Blob>,
    /// Why components failed to load ahead, by digest and file.
    failed: HashMap<(String, PathBuf), Problem>,
}

impl Components<'_, '_> {
    /// The component of pin `key` at `path`, loaded through `runtime` (once per digest), with the blob this
    /// load took it from: what the run pins (the runtime's component of the same digest may have come from
    /// another file, or a store, earlier).
    fn component(&mut self, runtime: &Runtime, key: &str, path: &Path) -> Result<(Arc<StepComponent>, Blob), Problem> {
        let blob = match self.fetched.remove(key) {
            Some(blob) => blob,
            None => (self.fetch)(key, path)?,
        };
        if let Some(problem) = self.failed.get(&(blob.digest().to_owned(), path.to_path_buf())) {
            return Err(problem.clone());
        }
        Ok((runtime.component(path, blob.clone())?, blob))
    }
}

/// Where a step's component comes from: `(step id, resolved path)` → its blob.
type Fetch<'a> = dyn FnMut(&str, &Path) -> Result<Blob, Problem> + 'a;

/// The bytes of the component file at `path`.
fn read_component(path: &Path) -> Result<Arc<[u8]>, Problem> {
    std::fs::read(path).map(Arc::from).map_err(|e| unreadable(path, &e))
}

/// The problem of a component file that cannot be read.
fn unreadable(path: &Path, e: &std::io::Error) -> Problem {
    (
        format!("component file {} not found or unreadable ({e})", path.display()),
        Some(
            "build the steps (scripts/build-steps) or fix the `component` path, which is relative to the definition \
             file"
                .into(),
        ),
    )
}

/// How routing sees a map step: the component's kernel functions, or one function per input event of the
/// mapped process, taking the item as its one parameter `item`.
fn map_description(over: &Mapped) -> StepDescription {
    match over {
        Mapped::Component(c) => {
            StepDescription { functions: c.description.functions.clone(), events: Vec::new(), state_version: 0 }
        }
        Mapped::Process(p) => {
            let events = p.routing.listened(Source::Input);
            let functions = events
                .into_iter()
                .map(|event| FunctionDescription {
                    name: event.to_string(),
                    description: Some(format!("runs process {} once per item, from input event {event}", p.name())),
                    params: vec![ParamDescription { name: "item".into(), required: true, schema: None }],
                })
                .collect();
            StepDescription { functions, events: Vec::new(), state_version: 0 }
        }
    }
}
