//! The executors of a run's steps, the seam between the runner and wasmtime: a component step has one
//! live instance, reused across invocations (instantiating a Python guest costs ~0.6 ms; making and
//! dropping a Rust guest's ~26 µs, much of it the kernel's page faults and `madvise`); a map step has its own
//! ([`crate::runner::map`]). A step with no instance takes over the one of another step of the run that
//! runs the same component under the same limits and grants and was not invoked in this superstep
//! ([`StepInstances::invoke`]): nothing the host gives the guest differs between the two but the step's
//! name, which the instance's host state is told ([`crate::host::HostState::hand_to`]), so a chain of
//! steps of one component runs on one instance (1,000-step chain: 40 → 14 µs per extra step). Only
//! otherwise is an instance made. Correctness never depends on reuse: a step's state comes only from its
//! snapshot, an instance that traps is dropped and made anew next time, and one that has gone
//! [`IDLE_SUPERSTEPS`] supersteps uninvoked is dropped ([`StepInstances::release_idle`]).

use std::sync::Arc;

use smallvec::SmallVec;
use wasmtime::Store;
use wasmtime::component::{ComponentType, Func, Lower, TypedFunc};

use weft_definitions::limits::human;

use crate::data::Json;
use crate::host::sandbox::trap_kind;
use crate::host::{self, Emitted, HostState, Outcome, StepError, StoreOwner};
use crate::load::{FunctionDescription, Process, ProcessStep, Source, StepComponent, StepKind};
use crate::runner::failure::{ErrorKind, Failure};
use crate::runner::map::MapExecutor;
use crate::runner::warm::Warming;

/// What a successful invocation gave.
#[derive(Debug)]
pub struct Invoked {
    /// The return value (`null` for none).
    pub result: Json,
    /// The new state snapshot.
    pub state: Option<Json>,
    /// Events emitted, in order.
    pub events: Vec<Emitted>,
}

/// Which call this is, for what the guest sees (see [`host::replay`]).
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Process instance id.
    pub instance: &'a str,
    /// Step index.
    pub step: usize,
    /// Kernel function index.
    pub function: usize,
    /// The run's logical time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The superstep.
    pub superstep: u64,
    /// The run's invocation number (from 1).
    pub invocation: u64,
    /// The item of a map this call runs (from 0); none outside a map.
    pub item: Option<usize>,
}

/// The WIT `invocation` record, lowered straight from borrowed text: the host copies each argument and the
/// state into guest memory once, with no owned copy on the way (`bindgen!`'s own `Invocation` would need
/// one allocation per string).
#[derive(ComponentType, Lower)]
#[component(record)]
struct InvocationRef<'a> {
    function: &'a str,
    args: &'a [(&'a str, &'a str)],
    state: Option<&'a str>,
    #[component(name = "state-version")]
    state_version: u32,
}

/// The type of the world's `invoke` export, with the arguments borrowed for `'a`.
type InvokeFn<'a> = TypedFunc<(InvocationRef<'a>,), (Result<Outcome, StepError>,)>;

/// One live instance of a component, made on first use and anew after a trap.
#[derive(Default)]
pub struct ComponentSlot {
    live: Option<Live>,
    /// Instances made since the last [`ComponentSlot::take_created`].
    created: u64,
}

/// A live instance and its `invoke` export.
pub(crate) struct Live {
    pub(crate) store: Store<HostState>,
    /// The instance's `invoke` export, its type checked against [`InvokeFn`] when instantiated.
    pub(crate) invoke: Func,
}

impl ComponentSlot {
    /// Call kernel function `f` of `component` (instantiated for `owner` under `step`'s limits and grants
    /// if there is no live instance) with `args` (`(parameter name, JSON text)`, absent optional
    /// parameters left out) and `state`, written under `state_version`. The step's secrets are redacted
    /// from its result, state, events and error message.
    ///
    /// Errors: the guest's typed error, a trap (the instance is dropped), or output that is not JSON.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &mut self,
        component: &StepComponent,
        owner: StoreOwner<'_>,
        step: &ProcessStep,
        call: Call<'_>,
        f: &FunctionDescription,
        args: &[(&str, &str)],
        state: Option<&str>,
        state_version: u32,
    ) -> Result<Invoked, Failure> {
        let invocation = InvocationRef { function: &f.name, args, state, state_version };
        let out = self.invoke_live(component, owner, step, call, invocation);
        let secrets = &step.grants.secrets;
        if secrets.is_empty() {
            return out;
        }
        out.map_err(|mut failure| {
            failure.message = secrets.redact(std::mem::take(&mut failure.message)).into_owned();
            failure
        })
    }

    /// [`ComponentSlot::call`], but the failure's message not yet redacted (its many `?` share that).
    fn invoke_live(
        &mut self,
        component: &StepComponent,
        owner: StoreOwner<'_>,
        step: &ProcessStep,
        call: Call<'_>,
        invocation: InvocationRef<'_>,
    ) -> Result<Invoked, Failure> {
        let limits = &step.limits;
        let live = match &mut self.live {
            Some(live) => live,
            None => {
                let mut store = host::new_store(component.pre.engine(), owner, limits, &step.grants);
                self.created += 1;
                let invoke = instantiate(component, &mut store)?;
                self.live.insert(Live { store, invoke })
            }
        };
        let host = live.store.data_mut();
        host.begin(invocation.function, call.time_ms, call.superstep, call.invocation, call.item);
        limits.arm(&mut live.store);
        // SAFETY: `instantiate` checked this export's type against `InvokeFn<'static>`, which differs from
        // `InvokeFn<'_>` only in the lifetime of the borrowed arguments (what `bindgen!` itself does).
        let invoke: InvokeFn<'_> = unsafe { TypedFunc::new_unchecked(live.invoke) };
        let returned = invoke.call(&mut live.store, (invocation,)).map(|(r,)| r);
        let host = live.store.data_mut();
        host.end();
        let events = host.events.take();
        let outcome = match returned {
            Ok(outcome) => outcome,
            Err(trap) => {
                let kind = trap_kind(&trap, &mut live.store.data_mut().limiter);
                // The instance may be mid-way through anything: drop it; the next call makes a new one.
                self.live = None;
                // Stopped for emitting past a limit: that is the reason, not the trap.
                events?;
                let message = match kind {
                    ErrorKind::Timeout => limits.timeout_message(),
                    ErrorKind::MemoryLimit => format!("{}: {trap:#}", limits.memory_message()),
                    _ => format!("the component trapped: {trap:#}"),
                };
                return Err(Failure::new(kind, message));
            }
        };
        let outcome = outcome.map_err(guest_error)?;
        let events = events?;
        let secrets = &step.grants.secrets;
        let result = match outcome.result {
            Some(text) => {
                output(secrets.redact(text).into_owned(), "result", limits.max_event_bytes, "limits.maxEventSize")?
            }
            None => Json::null(),
        };
        let state = outcome
            .state
            .map(|text| {
                output(secrets.redact(text).into_owned(), "state", limits.max_state_bytes, "limits.maxStateSize")
            })
            .transpose()?;
        Ok(Invoked { result, state, events })
    }

    /// Instances made since the last call (one on first use, one after each trap).
    pub fn take_created(&mut self) -> u64 {
        std::mem::take(&mut self.created)
    }

    /// From the next call on, the live instance (if any) serves step `step` (see [`HostState::hand_to`]).
    fn hand_to(&mut self, step: &str) {
        if let Some(live) = &mut self.live {
            live.store.data_mut().hand_to(step);
        }
    }
}

/// Supersteps a step's instance may go uninvoked before [`StepInstances::release_idle`] drops it, if no
/// other step has taken it over: a step in a cycle of up to this many steps keeps an instance for the run
/// (making a Python guest's anew costs ~0.6 ms, a Rust guest's ~26 µs).
pub const IDLE_SUPERSTEPS: u64 = 8;

/// What runs a step's kernel functions: the seam between the runner and wasmtime (a component, a map;
/// a sub-process has no executor, its steps have their own).
enum Executor {
    Component(ComponentSlot),
    Map(MapExecutor),
}

/// Live executors of a run's steps.
pub struct StepInstances {
    slots: Vec<Option<Executor>>,
    /// The superstep of each step's latest invocation, by step index.
    invoked_in: Vec<u64>,
    /// The steps with a live component executor, in the order they were made.
    releasable: Vec<usize>,
    created: u64,
    /// Instances being made ahead of need, if asked for ([`StepInstances::warm`]).
    warming: Option<Warming>,
    /// Whether [`StepInstances::warm`] was asked (it starts at most one thread per run).
    warm_asked: bool,
    /// Instances taken from `warming`.
    warmed: u64,
}

impl StepInstances {
    /// No instances yet for a process of `steps` steps.
    pub fn new(steps: usize) -> Self {
        StepInstances {
            slots: (0..steps).map(|_| None).collect(),
            invoked_in: vec![0; steps],
            releasable: Vec::new(),
            created: 0,
            warming: None,
            warm_asked: false,
            warmed: 0,
        }
    }

    /// From now on, make an instance for the first step of each of `process`'s components but those of
    /// the steps `now` marks on a thread of its own, for run `instance` ([`crate::runner::warm`]); each
    /// such step takes it when first invoked. Asked again, does nothing.
    pub fn warm(&mut self, process: &Arc<Process>, instance: &str, now: &[bool]) {
        if !std::mem::replace(&mut self.warm_asked, true) {
            self.warming = Warming::start(process, instance, now);
        }
    }

    /// At the end of superstep `superstep`: drop the instances of component steps not invoked in the last
    /// [`IDLE_SUPERSTEPS`] supersteps, so that their slots in the instance pool, whose component's memory
    /// image stays mapped, go to the instances made next. A chain of n steps then holds a few instances at
    /// a time instead of n, each new one in a slot that need not be mapped afresh (its pages are still
    /// faulted in as the guest touches them). A map step keeps its instances.
    pub fn release_idle(&mut self, superstep: u64) {
        let (slots, invoked_in) = (&mut self.slots, &self.invoked_in);
        self.releasable.retain(|&step| {
            let idle = superstep.saturating_sub(invoked_in[step]) >= IDLE_SUPERSTEPS;
            if idle {
                slots[step] = None;
            }
            !idle
        });
    }

    /// Whether [`StepInstances::warm`] was asked.
    pub fn warm_asked(&self) -> bool {
        self.warm_asked
    }

    /// Instances steps took that were made ahead of need ([`StepInstances::warm`]; counted in
    /// [`StepInstances::created`] too).
    pub fn warmed(&self) -> u64 {
        self.warmed
    }

    /// Wait until the instances being made ahead of need are made ([`Warming::settle`]); at once if none.
    pub fn settle_warming(&self) {
        if let Some(w) = &self.warming {
            w.settle();
        }
    }

    /// Component instances created so far (one per step used that took over no other step's instance,
    /// plus one per trap and one per invocation of a step whose instance was released as idle and not
    /// taken over; a map's count in). An instance made ahead of need counts when a step takes it, not
    /// before: one never taken is not counted.
    pub fn created(&self) -> u64 {
        self.created
    }

    /// Make `call` with `args` (by parameter index) and `state`, written under `state_version`, on the
    /// step's instance: the one it has, or one taken over from another step (see the module
    /// documentation), or a new one.
    ///
    /// Errors: the guest's typed error, a trap (the instance is dropped), output that is not JSON; for a
    /// map, the first item that failed, by index.
    pub fn invoke(
        &mut self,
        process: &Process,
        call: Call<'_>,
        args: Vec<Option<Json>>,
        state: Option<&Json>,
        state_version: u32,
    ) -> Result<Invoked, Failure> {
        let ps = &process.steps[call.step];
        let f = &ps.description.functions[call.function];
        let executor = match self.slots[call.step].take() {
            Some(e) => e,
            None => match &ps.kind {
                StepKind::Component(component) => {
                    let mut slot = self.take_idle(process, call, component);
                    if slot.live.is_none() {
                        slot = self.take_warmed(process, call.step, component).unwrap_or(slot);
                    }
                    self.releasable.push(call.step);
                    Executor::Component(slot)
                }
                StepKind::Map(m) => {
                    let listened = process.routing.listened(Source::Step(call.step));
                    Executor::Map(MapExecutor::new(m.clone(), listened))
                }
                StepKind::SubProcess => {
                    return Err(Failure::new(ErrorKind::UnknownFunction, "a sub-process step is never invoked"));
                }
            },
        };
        self.invoked_in[call.step] = call.superstep;
        let executor = self.slots[call.step].insert(executor);
        match (executor, &ps.kind) {
            (Executor::Component(slot), StepKind::Component(component)) => {
                let owner = StoreOwner { process: process.name(), instance: call.instance, step: &ps.id };
                let args: SmallVec<[(&str, &str); 4]> = f
                    .params
                    .iter()
                    .zip(&args)
                    .filter_map(|(p, a)| a.as_ref().map(|a| (p.name.as_str(), a.as_str())))
                    .collect();
                let state = state.map(Json::as_str);
                let out = slot.call(component, owner, ps, call, f, &args, state, state_version);
                self.created += slot.take_created();
                out
            }
            (Executor::Map(map), _) => {
                let out = map.invoke(process, call, f, args);
                self.created += map.take_created();
                out
            }
            _ => Err(Failure::new(ErrorKind::Trap, "the step's executor does not match its kind")),
        }
    }

    /// For step `step`, which has no executor and found no idle instance to take over: the instance made
    /// ahead of need for it, or for another step of the same component, limits and grants (handed to this
    /// one, as [`StepInstances::take_idle`] hands one over), if any was made or is being made.
    fn take_warmed(&mut self, process: &Process, step: usize, component: &Arc<StepComponent>) -> Option<ComponentSlot> {
        let ps = &process.steps[step];
        let (live, made_for) = self.warming.as_ref()?.take(|other| alike(ps, component, &process.steps[other]))?;
        self.warmed += 1;
        let mut slot = ComponentSlot { live: Some(live), created: 1 };
        if made_for != step {
            slot.hand_to(&ps.id);
        }
        Some(slot)
    }

    /// For `call`'s step, which has no executor: the live instance of `component` that another step of
    /// the run holds, granted the same under the same limits and not invoked in this superstep (the least
    /// lately invoked such), taken from that step and handed to this one; else an empty slot.
    fn take_idle(&mut self, process: &Process, call: Call<'_>, component: &Arc<StepComponent>) -> ComponentSlot {
        let ps = &process.steps[call.step];
        let live = |other: usize| matches!(&self.slots[other], Some(Executor::Component(s)) if s.live.is_some());
        let donor = (self.releasable.iter().enumerate())
            .filter(|&(_, &other)| {
                self.invoked_in[other] < call.superstep && live(other) && alike(ps, component, &process.steps[other])
            })
            .min_by_key(|&(_, &other)| self.invoked_in[other]);
        let Some((at, &other)) = donor else { return ComponentSlot::default() };
        self.releasable.remove(at);
        match self.slots[other].take() {
            Some(Executor::Component(mut slot)) => {
                slot.hand_to(&ps.id);
                slot
            }
            _ => ComponentSlot::default(),
        }
    }
}

/// Whether an instance of step `ps`, which runs `component`, may serve step `other`: `other` runs the same
/// component under the same limits and grants, so nothing the host gives the guest differs but the step's
/// name (the rule of a take-over, see the module documentation).
fn alike(ps: &ProcessStep, component: &Arc<StepComponent>, other: &ProcessStep) -> bool {
    matches!(&other.kind, StepKind::Component(c) if Arc::ptr_eq(c, component))
        && other.limits == ps.limits
        && other.grants == ps.grants
}

/// Instantiate `component` in `store` and find its `invoke` export, its type checked.
///
/// Errors: the guest trapped while starting, its memory at start is past the step's `limits.memory`
/// ([`ErrorKind::MemoryLimit`]), or (a bug in Weft, as the component was checked at load) its `invoke`
/// export is missing or of another type.
pub(crate) fn instantiate(component: &StepComponent, store: &mut Store<HostState>) -> Result<Func, Failure> {
    let cannot = |e: wasmtime::Error, store: &mut Store<HostState>| {
        let limiter = &mut store.data_mut().limiter;
        match trap_kind(&e, limiter) {
            ErrorKind::MemoryLimit => Failure::new(
                ErrorKind::MemoryLimit,
                format!("cannot instantiate: {} at its start: {e:#}", limiter.message()),
            ),
            kind => Failure::new(kind, format!("cannot instantiate: {e:#}")),
        }
    };
    let instance = component.pre.instance_pre().instantiate(&mut *store).map_err(|e| cannot(e, store))?;
    store.data_mut().end();
    let invoke = instance
        .get_func(&mut *store, component.invoke)
        .ok_or_else(|| Failure::new(ErrorKind::Trap, "the component exports no `invoke` function"))?;
    invoke.typed::<(InvocationRef<'static>,), (Result<Outcome, StepError>,)>(&*store).map_err(|e| cannot(e, store))?;
    Ok(invoke)
}

/// A result or state the guest returned, checked.
/// The guest's `what` (result or state) as JSON, if it is no larger than `max` bytes (the limit `key`).
fn output(text: String, what: &str, max: usize, key: &str) -> Result<Json, Failure> {
    if text.len() > max {
        let (size, max) = (human(text.len() as u64), human(max as u64));
        return Err(Failure::new(
            ErrorKind::OutputLimit,
            format!("returned a {what} of {size}, over its limit of {max} ({key})"),
        ));
    }
    Json::parse(text).map_err(|e| Failure::new(ErrorKind::InvalidOutput, format!("returned an unusable {what}: {e}")))
}

fn guest_error(e: StepError) -> Failure {
    match e {
        StepError::UnknownFunction(f) => {
            Failure::new(ErrorKind::UnknownFunction, format!("the component has no kernel function \"{f}\""))
        }
        StepError::BadArgument(a) => {
            Failure::new(ErrorKind::BadArgument, format!("parameter \"{}\": {}", a.parameter, a.message))
        }
        StepError::BadState(m) => Failure::new(ErrorKind::BadState, m),
        StepError::Failed(m) => Failure::new(ErrorKind::Failed, m),
    }
}
