//! The executor of a map step (docs/semantics.md, "Map steps"): the kernel function a map is sent to runs
//! once per item of the array it gets — a component's function with the item as its one argument, or a
//! whole run of a process from the input event of that name — and the map gives back one event per event
//! type, whose data holds one entry per item, in input order.
//!
//! Items run on up to [`MAX_WORKERS`] threads (as many as the machine has cores), each with its own
//! instance; which thread ran an item changes nothing a step can see. Each item of a map over a component
//! is its own call, with its own invocation id (`<instance>:<step>:<n>/<item>`) and random numbers, so an
//! item can pass its id to an outside system as an idempotency key. A map runs within one invocation,
//! so it has no state between supersteps: after a crash, the superstep that ran it runs again.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::value::RawValue;

use crate::data::Json;
use crate::host::{Emitted, StoreOwner};
use crate::load::{FunctionDescription, MapStep, Mapped, Process};
use crate::runner::failure::{ErrorKind, Failure};
use crate::runner::instances::{Call, ComponentSlot, Invoked};
use crate::runner::{Run, Status};
use crate::sinks::EventSink;

/// Most threads one map uses.
pub const MAX_WORKERS: usize = 8;

/// Most items one map invocation takes; more is a `bad-argument` error of the invocation.
pub const MAX_ITEMS: usize = 100_000;

/// A map step's live state: one component instance per worker thread (none for a map over a process,
/// whose every item is a fresh run).
pub struct MapExecutor {
    step: Arc<MapStep>,
    /// The event types edges from the map step listen to, sorted (each is emitted once, even when no
    /// item emitted it).
    listened: Vec<String>,
    slots: Vec<ComponentSlot>,
}

/// What one item gave: its return value (for a process, an object of its public events by type), and
/// its events in order.
struct ItemOutput {
    result: Json,
    events: Vec<Emitted>,
}

impl MapExecutor {
    /// No instances yet, for the map step whose outgoing edges listen to `listened` (see
    /// [`RoutingTable::listened`](crate::load::RoutingTable::listened)).
    pub fn new(step: Arc<MapStep>, listened: Vec<&str>) -> Self {
        MapExecutor { step, listened: listened.into_iter().map(str::to_owned).collect(), slots: Vec::new() }
    }

    /// Instances created since the last call.
    pub fn take_created(&mut self) -> u64 {
        self.slots.iter_mut().map(ComponentSlot::take_created).sum()
    }

    /// Run `f` once per item of the array in `args[0]`.
    ///
    /// Errors: the argument is not an array, or has more than [`MAX_ITEMS`] items (`bad-argument`); the
    /// first item (by index) that failed, its error kept and its index named; an item that emitted one
    /// event type twice (`invalid-output`).
    pub fn invoke(
        &mut self,
        process: &Process,
        call: Call<'_>,
        f: &FunctionDescription,
        args: Vec<Option<Json>>,
    ) -> Result<Invoked, Failure> {
        let items = items(args.first().and_then(Option::as_ref))?;
        let workers = cores().min(items.len()).max(1);
        if let Mapped::Component(_) = self.step.over
            && self.slots.len() < workers
        {
            self.slots.resize_with(workers, ComponentSlot::default);
        }
        let step = &self.step;
        let run_item = |slot: Option<&mut ComponentSlot>, j: usize, item: &RawValue| -> Result<ItemOutput, Failure> {
            match (&step.over, slot) {
                (Mapped::Component(component), Some(slot)) => {
                    let ps = &process.steps[call.step];
                    let owner = StoreOwner { process: process.name(), instance: call.instance, step: &ps.id };
                    let state = step.item_state.as_ref().map(Json::as_str);
                    let version = component.description.state_version;
                    // One parameter, checked when the edges were bound (routing's `Shape::MapComponent`).
                    let param = f.params.first().ok_or_else(|| {
                        Failure::new(ErrorKind::BadArgument, format!("kernel function \"{}\" takes no item", f.name))
                    })?;
                    // Each item is its own call: its own invocation id and random numbers.
                    let call = Call { item: Some(j), ..call };
                    let out = slot.call(component, owner, ps, call, f, &[(&param.name, item.get())], state, version)?;
                    Ok(ItemOutput { result: out.result, events: out.events })
                }
                (Mapped::Process(mapped), _) => run_process(mapped, call, j, &f.name, item),
                (Mapped::Component(_), None) => Err(Failure::new(ErrorKind::Trap, "no instance for a map item")),
            }
        };
        let outputs = in_parallel(&items, &mut self.slots, workers, &run_item);
        let mut done = Vec::with_capacity(items.len());
        for (j, output) in outputs.into_iter().enumerate() {
            done.push(
                output
                    .map_err(|e| Failure::new(e.kind, format!("item {j} of {} failed: {}", items.len(), e.message)))?,
            );
        }
        collect(done, &self.listened)
    }
}

/// Worker threads a map may use: the machine's cores (read once; on Linux it reads cgroup files), at
/// most [`MAX_WORKERS`].
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_WORKERS))
}

/// The items of a map's argument.
fn items(arg: Option<&Json>) -> Result<Vec<Box<RawValue>>, Failure> {
    let text = arg.map_or("null", Json::as_str);
    let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(|_| {
        let shown: String = text.chars().take(60).collect();
        Failure::new(ErrorKind::BadArgument, format!("a map step takes an array of items, and was sent {shown}"))
    })?;
    if items.len() > MAX_ITEMS {
        let message = format!("a map step takes at most {MAX_ITEMS} items, and was sent {}", items.len());
        return Err(Failure::new(ErrorKind::BadArgument, message));
    }
    Ok(items)
}

/// `run_item(slot, index, item)` for every item, on `workers` threads, each taking a contiguous run of
/// items with its own slot; the outputs in input order.
fn in_parallel<T: Send>(
    items: &[Box<RawValue>],
    slots: &mut [ComponentSlot],
    workers: usize,
    run_item: &(dyn Fn(Option<&mut ComponentSlot>, usize, &RawValue) -> T + Sync),
) -> Vec<T> {
    let chunk = items.len().div_ceil(workers).max(1);
    let run_chunk = |start: usize, part: &[Box<RawValue>], mut slot: Option<&mut ComponentSlot>| -> Vec<T> {
        part.iter().enumerate().map(|(k, item)| run_item(slot.as_deref_mut(), start + k, item)).collect()
    };
    if workers <= 1 || items.len() <= 1 {
        return run_chunk(0, items, slots.first_mut());
    }
    let mut slots = slots.iter_mut();
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let slot = slots.next();
                let run_chunk = &run_chunk;
                scope.spawn(move || run_chunk(c * chunk, part, slot))
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// Run `mapped` for item `j`, from input event `event` with the item as data, to its end; its public
/// events are the item's events.
///
/// Errors: the run failed (its error), or ended waiting (a map item must finish within its superstep).
fn run_process(
    mapped: &Arc<Process>,
    call: Call<'_>,
    j: usize,
    event: &str,
    item: &RawValue,
) -> Result<ItemOutput, Failure> {
    let data = Json::parse(item.get().to_string()).map_err(|e| Failure::new(ErrorKind::BadArgument, e.to_string()))?;
    let instance = format!("{}:{}:{}:{j}", call.instance, call.step, call.invocation);
    let mut run = Run::starting_at(mapped.clone(), instance, call.time_ms);
    run.send(event, data).map_err(|e| Failure::new(ErrorKind::BadArgument, e.to_string()))?;
    let mut published = Collected::default();
    match run.run_to_end(&mut published) {
        Status::Completed | Status::Stopped => {}
        Status::Failed { error } => {
            let at = error.step.as_deref().map(|s| format!(" at step \"{s}\"")).unwrap_or_default();
            return Err(Failure::new(error.kind, format!("process {}{at}: {}", mapped.name(), error.message)));
        }
        other => {
            let message = format!(
                "process {} ended {} (a delay, retry or await), and a map item must finish within its superstep",
                mapped.name(),
                other.name()
            );
            return Err(Failure::new(ErrorKind::Failed, message));
        }
    }
    // An item that published one type twice is refused by `collect`; its object does not matter.
    let by_type = published.0.iter().map(|e| (e.event_type.as_str(), &e.data));
    let result = Json::object(by_type).unwrap_or_else(|_| Json::null());
    Ok(ItemOutput { result, events: published.0 })
}

/// The public events of a mapped run.
#[derive(Default)]
struct Collected(Vec<Emitted>);

impl EventSink for Collected {
    fn publish(&mut self, _process: &str, _instance: &str, event: &crate::runner::EventRecord) {
        if event.topic.is_none() {
            self.0.push(Emitted { event_type: event.event_type.clone(), data: event.data.clone(), public: true });
        }
    }
}

/// The map's result and events from its items' outputs: one internal event per type that an edge from the
/// map listens to or an item emitted (in that order of first appearance), each holding one entry per item,
/// the item's data or `null`. None is public, whether or not the items' events were, so that a map over
/// an empty array and one with items publish the same: nothing.
///
/// Errors: an item emitted one type twice.
fn collect(done: Vec<ItemOutput>, listened: &[String]) -> Result<Invoked, Failure> {
    let n = done.len();
    let mut types: Vec<String> = listened.to_vec();
    let mut index: HashMap<String, usize> = types.iter().enumerate().map(|(i, t)| (t.clone(), i)).collect();
    let mut columns: Vec<Vec<Option<Json>>> = vec![vec![None; n]; types.len()];
    let mut results = Vec::with_capacity(n);
    for (j, item) in done.into_iter().enumerate() {
        results.push(item.result);
        for e in item.events {
            let i = *index.entry(e.event_type.clone()).or_insert_with(|| {
                types.push(e.event_type.clone());
                columns.push(vec![None; n]);
                types.len() - 1
            });
            if columns[i][j].is_some() {
                let message = format!(
                    "item {j} emitted \"{}\" twice; a map collects one event of each type per item",
                    e.event_type
                );
                return Err(Failure::new(ErrorKind::InvalidOutput, message));
            }
            columns[i][j] = Some(e.data);
        }
    }
    let output = |e: crate::data::JsonError| Failure::new(ErrorKind::InvalidOutput, format!("the map's output: {e}"));
    let mut events = Vec::with_capacity(types.len());
    for (event_type, column) in types.into_iter().zip(columns) {
        // A map publishes nothing, with items or without: what it collects is the map step's internal event.
        events.push(Emitted {
            event_type,
            data: Json::array(column.iter().map(Option::as_ref)).map_err(output)?,
            public: false,
        });
    }
    Ok(Invoked { result: Json::array(results.iter().map(Some)).map_err(output)?, state: None, events })
}
