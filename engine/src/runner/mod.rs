//! The superstep runner (docs/semantics.md, "Events and routing", "Errors", "Ending and statuses", "State").
//!
//! One superstep: deliver every message queued in the previous one into its parameter queue; then, for each
//! step in definition order and each of its kernel functions in declaration order, invoke the function as
//! long as it has a complete set of arguments; route what the invocations emit, in emission order, into the
//! queue of the next superstep.
//!
//! A superstep changes only the run's plain data ([`RunState`]) and returns its [`Effects`]: the public
//! events to publish and the history records. It publishes nothing itself: the driver decides what to do
//! with the effects — [`Run::run_to_end`] hands public events straight to a sink; a durable driver
//! ([`crate::durable`]) commits the checkpoint and the effects in one transaction, and only then
//! publishes. The wasmtime instances live apart in [`StepInstances`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use weft_engine::{load::{Runtime, RuntimeConfig}, runner::Run, data::Json};
//! # let runtime = Runtime::new(RuntimeConfig::default())?;
//! let process = Arc::new(runtime.load_process("examples/account-opening/process.yaml".as_ref())?);
//! let mut run = Run::new(process, "instance-1");
//! run.send("NewApplication", Json::parse(r#"{"name":"Ada"}"#.into())?)?;
//! while !run.state().status.is_final() {
//!     let effects = run.superstep();
//!     // commit run.state() and effects.history; then publish effects.published
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod clock;
pub mod conditions;
pub mod failure;
pub mod history;
pub mod instances;
pub mod layout;
pub mod map;
pub mod rebind;
pub mod state;
pub mod warm;

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::data::Json;
use crate::host::Emitted;
use crate::load::{EdgeGroup, Process, Route, RoutingTable, Source};
use crate::runner::conditions::Chosen;
use crate::sinks::EventSink;
pub use clock::{Clock, FixedClock, SystemClock};
pub use failure::{ErrorKind, Failure, RunError};
pub use history::{HistoryEntry, HistoryRecord};
pub use instances::StepInstances;
pub use state::{
    EventRecord, Fire, MAX_UNROUTED_KEPT, Message, OpenAwait, RetryCall, RunState, STATUS_NAMES, Status, Timer,
    status_name,
};

/// Most messages that may wait for the next superstep; more fails the run (a cycle that multiplies events
/// would otherwise exhaust memory).
pub const MAX_QUEUED_MESSAGES: usize = 1_000_000;

/// A run of a loaded process: its state, the process it belongs to, and its live step instances.
pub struct Run {
    process: Arc<Process>,
    state: RunState,
    instances: StepInstances,
    log: Log,
    /// The kernel functions, as `(step, function)`, whose queues the superstep under way filled: the only
    /// ones that can have become ready to fire (see [`Run::fire_ready`]). Never longer than `functions`.
    touched: Vec<(usize, usize)>,
    /// Whether the next superstep looks at every function's queues instead of `touched`: the first one
    /// of a run does, as `state` came from outside, and one that delivered more messages than the
    /// process has functions (a wide fan-out) does, instead of sorting them all.
    scan_all: bool,
    /// How many kernel functions the process's steps have, all together.
    functions: usize,
}

/// The effects a run collects until the driver takes them, and whether it records history.
#[derive(Default)]
struct Log {
    effects: Effects,
    history: bool,
    /// The most values a parameter queue or an all-of member may hold (`limits.maxQueuedValues`).
    max_queued: usize,
    /// The first queue that went past `max_queued` since the last superstep ended.
    over: Option<Over>,
    /// The first correlation key that could not be worked out since the last superstep ended: the run
    /// fails with it.
    fault: Option<RunError>,
}

/// A queue that holds more values than the process allows.
#[derive(Debug, Clone, Copy)]
enum Over {
    /// Parameter `param` of kernel function `function` of step `step`.
    Param { step: usize, function: usize, param: usize },
    /// Member `member` of all-of group `group`.
    Member { group: usize, member: usize },
}

impl Log {
    fn record(&mut self, superstep: u64, record: HistoryRecord) {
        if self.history {
            self.effects.history.push(HistoryEntry { superstep, record });
        }
    }
}

/// What a superstep (or a [`Run::send`]) produced besides the run's new state, for the driver to act on
/// after it has saved the state.
#[derive(Debug, Default)]
pub struct Effects {
    /// Public events to publish, in emission order.
    pub published: Vec<EventRecord>,
    /// History records, in order (empty unless the run records history, see [`Run::record_history`]).
    pub history: Vec<HistoryEntry>,
}

/// An event sent to a run that does not await it.
#[derive(Debug, thiserror::Error)]
#[error("process instance \"{instance}\" does not await \"{event}\"; it awaits: {awaited}")]
pub struct NotAwaited {
    /// Instance id.
    pub instance: String,
    /// The event type given.
    pub event: String,
    /// What it awaits, comma-separated, with deadlines (`nothing` when it awaits nothing).
    pub awaited: String,
}

/// An input event the process does not declare.
#[derive(Debug, thiserror::Error)]
#[error("process \"{process}\" has no input event \"{event}\"; it accepts: {accepted}")]
pub struct UnknownInput {
    /// Process name.
    pub process: String,
    /// The event type given.
    pub event: String,
    /// Declared input events, comma-separated.
    pub accepted: String,
}

impl Run {
    /// A new run of `process` with instance id `instance_id`, its logical time the machine's clock;
    /// nothing happens until [`Run::send`].
    pub fn new(process: Arc<Process>, instance_id: impl Into<String>) -> Self {
        Run::starting_at(process, instance_id, SystemClock.now_ms())
    }

    /// A new run whose logical time starts at `time_ms` (ms since the Unix epoch).
    pub fn starting_at(process: Arc<Process>, instance_id: impl Into<String>, time_ms: u64) -> Self {
        let state = RunState::new(&process, instance_id.into(), time_ms);
        Run::resume(process, state).expect("a fresh state fits its process")
    }

    /// A run that goes on from `state`, e.g. read back from a checkpoint.
    ///
    /// Errors: the state does not fit `process` (see [`RunState::fits`]).
    pub fn resume(process: Arc<Process>, mut state: RunState) -> Result<Self, String> {
        state.fits(&process)?;
        // A checkpoint written before the count existed.
        state.unrouted_total = state.unrouted_total.max(state.unrouted.len() as u64);
        // A checkpoint written before state changes were counted.
        state.state_changes.resize(process.steps.len(), 0);
        let instances = StepInstances::new(process.steps.len());
        let max_queued = usize::try_from(process.loaded.definition.max_queued_values()).unwrap_or(usize::MAX);
        let log = Log { max_queued, ..Log::default() };
        let functions = process.steps.iter().map(|ps| ps.description.functions.len()).sum();
        Ok(Run { process, state, instances, log, touched: Vec::new(), scan_all: true, functions })
    }

    /// Record history entries in the effects (off by default: an in-memory run does not pay for them).
    pub fn record_history(&mut self, on: bool) {
        self.log.history = on;
    }

    /// Make the instances of the process's components ahead of need, on a thread of their own
    /// ([`warm`]), but not those of the steps the next superstep invokes at once (its messages' steps,
    /// its retries', those ready to fire): for a command that runs this one instance and ends. Asked
    /// again, does nothing.
    pub fn warm_up(&mut self) {
        if self.instances.warm_asked() {
            return;
        }
        // The steps this superstep's messages go to, its retries are of, and those ready to fire already
        // (a resumed run's).
        let queues = &self.state.queues;
        let mut now: Vec<bool> = (self.process.steps.iter().enumerate())
            .map(|(s, ps)| ps.description.functions.iter().enumerate().any(|(f, d)| queues[s][f].is_ready(d)))
            .collect();
        for step in self.state.pending.iter().map(|m| m.to.step).chain(self.state.retries_due.iter().map(|r| r.step)) {
            now[step] = true;
        }
        self.instances.warm(&self.process, &self.state.instance_id, &now);
    }

    /// Instances its steps took that were made ahead of need ([`Run::warm_up`]; counted in
    /// [`Run::instances_created`] too).
    pub fn instances_warmed(&self) -> u64 {
        self.instances.warmed()
    }

    /// Wait until the instances [`Run::warm_up`] is making are made: for tests.
    pub fn settle_warming(&self) {
        self.instances.settle_warming();
    }

    /// The run's state.
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// The process it runs.
    pub fn process(&self) -> &Arc<Process> {
        &self.process
    }

    /// Step instances created during this run: instances are reused across invocations of a step, taken
    /// over by steps of the same component and grants ([`instances`]), and made anew after a trap or after
    /// going [`instances::IDLE_SUPERSTEPS`] supersteps uninvoked.
    pub fn instances_created(&self) -> u64 {
        self.instances.created()
    }

    /// Move the run's logical time forward to `time_ms` (it never goes back). A durable driver calls this
    /// before each checkpoint, so that the next superstep sees the checkpoint's time.
    pub fn advance_time(&mut self, time_ms: u64) {
        self.state.time_ms = self.state.time_ms.max(time_ms);
    }

    /// Take the effects produced since the last call.
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.log.effects)
    }

    /// Queue input event `event_type` with `data` for the next superstep (docs/semantics.md, "Input events").
    ///
    /// Errors: [`UnknownInput`] when the process declares no such input event.
    pub fn send(&mut self, event_type: &str, data: Json) -> Result<(), UnknownInput> {
        let process = self.process.clone();
        let group = process.routing.routes(Source::Input, event_type);
        if group.is_empty() {
            let accepted = self.process.routing.listened(Source::Input);
            return Err(UnknownInput {
                process: self.process.name().into(),
                event: event_type.into(),
                accepted: accepted.join(", "),
            });
        }
        // Inputs have no conditions: every edge fires.
        let routes = group.unconditional().unwrap_or_default();
        let record = HistoryRecord::Received { event: event_type.into(), data: data.clone(), routes: routes.len() };
        self.record(record);
        let chosen = Chosen::All(routes, group.guarded());
        let stop = deliver_edges(&mut self.state, &process.routing, &chosen, &data, "", &mut self.log);
        if stop {
            self.set_status(Status::Stopped);
        }
        Ok(())
    }

    /// Deliver `event_type` with `data` to a run that awaits it: the oldest await of that event closes and
    /// the event is routed like an input event; a waiting run runs again.
    ///
    /// Errors: [`NotAwaited`], listing what the run does await, when no open await is for `event_type`.
    pub fn send_awaited(&mut self, event_type: &str, data: Json) -> Result<(), NotAwaited> {
        let i = self.state.awaited(event_type, None)?;
        self.state.awaits.remove(i);
        self.record(HistoryRecord::AwaitClosed { event: event_type.into(), timed_out: false });
        self.send(event_type, data).map_err(|e| NotAwaited {
            instance: self.state.instance_id.clone(),
            event: e.event,
            awaited: e.accepted,
        })?;
        self.wake();
        Ok(())
    }

    /// Mark the run's inbox taken through its first event, the one that started it (delivered by
    /// [`Run::send`] and kept in the inbox so that a duplicate of it is recognised).
    pub fn started_from_inbox(&mut self) {
        self.state.inbox_taken = self.state.inbox_taken.max(1);
    }

    /// Take event `seq` of the run's inbox, received with CloudEvent `source` and `id`: deliver the awaited
    /// event `event_type` with `data` (JSON text), or, when `event` is `None`, cancel the run. The history
    /// records it, with why it was refused when it was (then it changed nothing else); the run's
    /// `inbox_taken` moves to `seq` either way. Returns the refusal.
    pub fn take_inbox(&mut self, seq: u64, source: &str, id: &str, event: Option<(&str, &str)>) -> Option<String> {
        self.state.inbox_taken = self.state.inbox_taken.max(seq);
        // Decided first, so that the history says what was taken before what it did.
        let taking = match event {
            None if self.state.status.is_final() => {
                Err(format!("process instance \"{}\" has already ended", self.state.instance_id))
            }
            None => Ok(None),
            Some((event_type, data)) => match Json::parse(data.to_owned()) {
                Err(e) => Err(format!("its data is not JSON: {e}")),
                Ok(data) => match self.state.awaited(event_type, None) {
                    Err(e) => Err(e.to_string()),
                    Ok(_) => Ok(Some((event_type, data))),
                },
            },
        };
        let refused = taking.as_ref().err().cloned();
        self.record(HistoryRecord::Taken { seq, source: source.into(), id: id.into(), refused: refused.clone() });
        match taking {
            Ok(None) => self.cancel(),
            Ok(Some((event_type, data))) => {
                // Awaited, as checked just now; and an awaited event is an input event (checked at load).
                let sent = self.send_awaited(event_type, data);
                debug_assert!(sent.is_ok(), "{sent:?}");
            }
            Err(_) => {}
        }
        refused
    }

    /// Fire every timer due and time out every await whose deadline has passed at `now_ms` (which also
    /// becomes the run's time, see [`Run::advance_time`]), in order of due time; a waiting run with
    /// something to do runs again. Returns whether anything fired.
    pub fn fire_due(&mut self, now_ms: u64) -> bool {
        if self.state.status.is_final() {
            return false;
        }
        self.advance_time(now_ms);
        if self.state.timers.is_empty() && self.state.awaits.is_empty() {
            return false;
        }
        let now = self.state.time_ms;
        let mut fired = false;
        let (mut due, later): (Vec<Timer>, Vec<Timer>) =
            std::mem::take(&mut self.state.timers).into_iter().partition(|t| t.due_ms <= now);
        self.state.timers = later;
        due.sort_by_key(|t| t.due_ms);
        for timer in due {
            fired = true;
            let retry = matches!(timer.fire, Fire::Retry(_));
            self.record(HistoryRecord::TimerFired { due_ms: timer.due_ms, retry });
            match timer.fire {
                Fire::Deliver(m) => self.state.pending.push(m),
                Fire::Retry(call) => self.state.retries_due.push(call),
            }
        }
        let (expired, open): (Vec<OpenAwait>, Vec<OpenAwait>) =
            std::mem::take(&mut self.state.awaits).into_iter().partition(|a| a.deadline_ms.is_some_and(|d| d <= now));
        self.state.awaits = open;
        let process = self.process.clone();
        for a in expired {
            fired = true;
            self.record(HistoryRecord::AwaitClosed { event: a.event.clone(), timed_out: true });
            let routes = &process.routing.awaits()[a.route].on_timeout;
            if deliver(&mut self.state, &process.routing, routes, &a.data, "", &mut self.log) {
                self.set_status(Status::Stopped);
                return true;
            }
        }
        self.wake();
        fired
    }

    /// A waiting run with messages or retries to deliver runs again; so does one left with nothing to
    /// wait for (its next superstep completes it).
    fn wake(&mut self) {
        let work = !self.state.pending.is_empty() || !self.state.retries_due.is_empty();
        let nothing_awaited = self.state.awaits.is_empty() && self.state.timers.is_empty();
        if self.state.status == Status::Waiting && (work || nothing_awaited) {
            self.set_status(Status::Running);
        }
    }

    /// Cancel the run: it ends as [`Status::Cancelled`] and nothing of it runs afterwards. A run that has
    /// already ended keeps its status.
    pub fn cancel(&mut self) {
        if !self.state.status.is_final() {
            self.set_status(Status::Cancelled);
        }
    }

    /// Run supersteps until the run ends or waits, handing public events to `sink` after each superstep.
    /// Timers fire only when due at the run's own time (so a delay leaves the run waiting).
    pub fn run_to_end(&mut self, sink: &mut dyn EventSink) -> &Status {
        loop {
            while self.state.status == Status::Running {
                let effects = self.superstep();
                for event in &effects.published {
                    sink.publish(self.process.name(), &self.state.instance_id, event);
                }
            }
            if !self.fire_due(self.state.time_ms) {
                break;
            }
        }
        &self.state.status
    }

    /// Run one superstep (or end the run if nothing is left to do) and return its effects, together with
    /// any produced by [`Run::send`] since the last superstep.
    pub fn superstep(&mut self) -> Effects {
        if self.state.status == Status::Running {
            self.superstep_inner();
        }
        self.take_effects()
    }

    fn superstep_inner(&mut self) {
        let nothing_due = self.state.pending.is_empty() && self.state.retries_due.is_empty();
        if nothing_due && self.scan_all && !self.state.any_ready(&self.process) {
            self.scan_all = false; // and no set can become complete without a message
        }
        if nothing_due && !self.scan_all {
            self.rest();
            return;
        }
        let limit = self.process.loaded.definition.max_supersteps();
        if self.state.superstep >= limit {
            let queued = match self.state.pending.len() {
                0 => "a kernel function ready to fire".to_owned(),
                n => format!("{n} messages still queued"),
            };
            let message = format!(
                "the run reached the superstep limit of {limit} with {queued}; raise `limits.maxSupersteps` in \
                 the definition, or give the cycle an exit"
            );
            let error = RunError { kind: ErrorKind::SuperstepLimit, message, step: None, function: None };
            self.set_status(Status::Failed { error });
            return;
        }
        self.state.superstep += 1;
        // Drained in place, so that the next superstep's messages reuse the allocation.
        let mut pending = std::mem::take(&mut self.state.pending);
        for m in pending.drain(..) {
            let to = (m.to.step, m.to.function);
            if !self.scan_all && self.touched.last() != Some(&to) {
                if self.touched.len() < self.functions {
                    self.touched.push(to);
                } else {
                    self.scan_all = true;
                }
            }
            let queued = self.state.queue_mut(m.to.step, m.to.function).push(m.to.param, m.data);
            if let Some(param) = m.to.param.filter(|_| queued > self.log.max_queued) {
                self.log.over.get_or_insert(Over::Param { step: m.to.step, function: m.to.function, param });
            }
        }
        self.state.pending = pending;
        let mut stop = false;
        for call in std::mem::take(&mut self.state.retries_due) {
            let Some(stopped) = self.invoke_or_fail(call.step, call.function, call.args, call.attempt) else { return };
            stop |= stopped;
        }
        let Some(stopped) = self.fire_ready() else { return };
        stop |= stopped;
        self.instances.release_idle(self.state.superstep);
        if let Some(error) = self.log.fault.take().or_else(|| self.over_bound()) {
            self.set_status(Status::Failed { error });
        } else if stop {
            self.set_status(Status::Stopped);
        } else if self.state.pending.is_empty()
            && self.state.retries_due.is_empty()
            && self.log.effects.published.is_empty()
        {
            // Every function fired all it could, so none is ready: with no message for the next
            // superstep, the run rests now, in this superstep's checkpoint, rather than in one more. Not
            // when the superstep published events: a driver stopped before its sinks acknowledged them
            // must leave a checkpoint that another driver picks up (a running one), and the commit that
            // ends the run then carries their acknowledgements.
            self.rest();
        }
    }

    /// End a running run with nothing left to deliver: `waiting` with an await open or a timer set, else
    /// `completed` (docs/semantics.md, "Ending and statuses").
    fn rest(&mut self) {
        let waits = !self.state.awaits.is_empty() || !self.state.timers.is_empty();
        self.set_status(if waits { Status::Waiting } else { Status::Completed });
    }

    /// Invoke every kernel function whose queues hold a complete set of arguments, as often as they do, in
    /// step order and then function order (docs/semantics.md, "Supersteps"): `Some(stopped)`, or `None`
    /// when the run failed.
    ///
    /// Only the functions this superstep's messages went to are looked at: a function's queues change
    /// only when a message is delivered or when it fires, and every superstep fires all it can, so a
    /// function no message reached is not ready. A run of n steps thus pays for what it delivers, not
    /// O(n) per superstep (500-step chain: ~13% of the run). The first superstep of a run looks at every
    /// function, as its state came from outside (a checkpoint, a rebinding), and so does one whose
    /// messages went to more places than the process has functions: the list stays that short.
    fn fire_ready(&mut self) -> Option<bool> {
        let mut touched = std::mem::take(&mut self.touched);
        if self.scan_all {
            touched.clear();
            for (step, ps) in self.process.steps.iter().enumerate() {
                touched.extend((0..ps.description.functions.len()).map(|function| (step, function)));
            }
            self.scan_all = false;
        }
        touched.sort_unstable();
        touched.dedup();
        let mut stop = false;
        for &(step, function) in &touched {
            loop {
                // Borrowed field by field, so that no `Arc` is cloned on the hot path.
                let f = &self.process.steps[step].description.functions[function];
                // Looked at before it is written to, so that a step's shared queues are not copied for
                // nothing (see `RunState::queue_mut`); `take_ready` then takes what is ready.
                if !self.state.queues[step][function].is_ready(f) {
                    break;
                }
                let Some(args) = self.state.queue_mut(step, function).take_ready(f) else { break };
                // A failed run has no next superstep: its list is dropped with it.
                stop |= self.invoke_or_fail(step, function, args, 1)?;
            }
        }
        // Kept, emptied, so that the next superstep's list reuses the allocation.
        touched.clear();
        self.touched = touched;
        Some(stop)
    }

    /// The error for the first parameter queue or all-of member that went past `limits.maxQueuedValues`
    /// since the last superstep ended (checked where values are queued, so the hot path pays one
    /// comparison): values that never form a complete set would otherwise pile up in every checkpoint.
    fn over_bound(&mut self) -> Option<RunError> {
        let max = self.log.max_queued;
        match self.log.over.take()? {
            Over::Param { step, function, param } => {
                let name = &self.process.steps[step].description.functions[function].params[param].name;
                let message = format!(
                    "more than {max} values wait in the queue of parameter \"{name}\", never forming a complete \
                     set of arguments; send its other parameters, or raise `limits.maxQueuedValues`"
                );
                Some(self.error_at(step, function, ErrorKind::MessageLimit, message))
            }
            Over::Member { group, member } => {
                let group = &self.process.routing.all_of()[group];
                let message = format!(
                    "more than {max} arrivals from {} wait for the rest of the all-of group of /edges/{}; raise \
                     `limits.maxQueuedValues`, or make the group's members arrive as often as each other",
                    group.keys[member], group.edge
                );
                Some(RunError { kind: ErrorKind::MessageLimit, message, step: None, function: None })
            }
        }
    }

    /// [`Run::invoke`], failing the run on an unhandled failure: `Some(stopped)`, or `None` when the run
    /// failed.
    fn invoke_or_fail(&mut self, step: usize, function: usize, args: Vec<Option<Json>>, attempt: u32) -> Option<bool> {
        match self.invoke(step, function, args, attempt) {
            Ok(stopped) => Some(stopped),
            Err(error) => {
                self.set_status(Status::Failed { error });
                None
            }
        }
    }

    fn set_status(&mut self, status: Status) {
        self.state.status = status.clone();
        self.record(HistoryRecord::Status { status });
    }

    fn record(&mut self, record: HistoryRecord) {
        self.log.record(self.state.superstep, record);
    }

    /// Invoke one function (attempt `attempt`, from 1) and route what it emitted. `Ok(true)` when a `stop`
    /// edge fired; `Err` when it failed for the last time and no `OnError` edge handles the failure.
    fn invoke(
        &mut self,
        step: usize,
        function: usize,
        args: Vec<Option<Json>>,
        attempt: u32,
    ) -> Result<bool, RunError> {
        self.state.invocations += 1;
        let call = instances::Call {
            instance: &self.state.instance_id,
            step,
            function,
            time_ms: self.state.time_ms,
            superstep: self.state.superstep,
            invocation: self.state.invocations,
            item: None,
        };
        let ps = &self.process.steps[step];
        let started = self.log.history.then(|| (std::time::Instant::now(), args_digest(ps, function, &args)));
        let retry = self.process.routing.retry(step, function).filter(|p| attempt < p.attempts);
        let kept_args = retry.map(|_| args.clone());
        let state = self.state.step_states[step].as_ref();
        let version = self.state.state_versions[step];
        let outcome = self.instances.invoke(&self.process, call, args, state, version);
        let failure = outcome.as_ref().err().map(|f| self.error_at(step, function, f.kind, f.message.clone()));
        if let Some((started, args_digest)) = started {
            let (step_id, function_name) = self.names(step, function);
            let record = HistoryRecord::Invoked {
                invocation: crate::host::replay::invocation_id(
                    &self.state.instance_id,
                    &step_id,
                    self.state.invocations,
                    None,
                ),
                step: step_id,
                function: function_name,
                args_digest,
                attempt,
                duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                error: failure.clone(),
            };
            self.record(record);
        }
        let invoked = match (outcome, retry, kept_args) {
            (Ok(invoked), _, _) => invoked,
            (Err(_), Some(policy), Some(args)) => {
                let due_ms = self.state.time_ms.saturating_add(policy.delay_ms(attempt));
                let call = RetryCall { step, function, args, attempt: attempt + 1 };
                self.state.timers.push(Timer { due_ms, fire: Fire::Retry(call) });
                self.record(HistoryRecord::TimerSet { due_ms, retry: true });
                return Ok(false);
            }
            (Err(_), _, _) => return self.route_error(step, function, failure.expect("set for every failure")),
        };
        if self.log.history
            && invoked.state != self.state.step_states[step]
            && let Some(state) = &invoked.state
        {
            let n = self.state.state_changes[step];
            self.state.state_changes[step] += 1;
            let previous = self.state.step_states[step].as_ref();
            self.record(history::state_change(&self.process.steps[step].id, previous, state, n));
        }
        self.state.step_states[step] = invoked.state;
        self.state.state_versions[step] = self.process.steps[step].description.state_version;
        let mut stop = false;
        for event in invoked.events {
            stop |= self.route(step, event)?;
        }
        let process = &self.process;
        let group = process.routing.result_routes(step, function);
        let event_type = || weft_definitions::on_result(&process.steps[step].description.functions[function].name);
        let chosen = choose(&self.state, process, group, step, Event::Automatic(event_type), &invoked.result)?;
        let from = &process.steps[step].id;
        stop |= deliver_edges(&mut self.state, &process.routing, &chosen, &invoked.result, from, &mut self.log);
        if self.state.pending.len() > MAX_QUEUED_MESSAGES {
            let message = format!(
                "more than {MAX_QUEUED_MESSAGES} messages are queued for the next superstep; look for an edge that \
                 multiplies events in a cycle"
            );
            return Err(self.error_at(step, function, ErrorKind::MessageLimit, message));
        }
        Ok(stop)
    }

    /// Step id and kernel function name of `(step, function)`.
    fn names(&self, step: usize, function: usize) -> (String, String) {
        let ps = &self.process.steps[step];
        (ps.id.clone(), ps.description.functions[function].name.clone())
    }

    /// A failure of `kind` saying `message`, placed at `(step, function)`.
    fn error_at(&self, step: usize, function: usize, kind: ErrorKind, message: String) -> RunError {
        let (step, function) = self.names(step, function);
        RunError { kind, message, step: Some(step), function: Some(function) }
    }

    /// Route a failure of function `function` of step `step` (docs/semantics.md, "Errors"): to the step's `error`
    /// edge for the function (one whose condition, if any, matched), else to the process's error handler
    /// (unless the failing step is one of the handler's own targets, at once, later or on a timeout,
    /// which could loop), else fail the run. `Ok(true)` when a `stop` edge fired.
    fn route_error(&mut self, step: usize, function: usize, error: RunError) -> Result<bool, RunError> {
        let data =
            json!({"type": error.kind, "message": error.message, "step": error.step, "function": error.function});
        let data = Json::from_value(&data).expect("a flat object of strings is within the depth limit");
        let process = &self.process;
        let group = process.routing.error_routes(step, function);
        let event_type = || weft_definitions::on_error(&process.steps[step].description.functions[function].name);
        let chosen = choose(&self.state, process, group, step, Event::Automatic(event_type), &data)?;
        // An error that no `error` edge took (none declared, or none whose condition matched) goes on.
        let from = &process.steps[step].id;
        if chosen.routes().any(|routes| !routes.is_empty()) {
            return Ok(deliver_edges(&mut self.state, &process.routing, &chosen, &data, from, &mut self.log));
        }
        let Some(handler) = process.routing.error_handler(step) else { return Err(error) };
        if reaches_step(&process.routing, &handler.error_handler, step) {
            return Err(error);
        }
        if self.log.history {
            self.log.record(self.state.superstep, HistoryRecord::Fired { edges: vec![handler.error_path.clone()] });
        }
        Ok(deliver(&mut self.state, &process.routing, &handler.error_handler, &data, from, &mut self.log))
    }

    /// Queue an event a step emitted for every edge that fires on it (docs/semantics.md, "Conditional
    /// edges"); publish it if public; keep it in the run's unrouted list if it would otherwise vanish:
    /// internal, and no edge fired ("Unrouted events"). Returns whether a `stop` edge fired.
    ///
    /// Errors: an edge's condition failed on the event.
    fn route(&mut self, step: usize, event: Emitted) -> Result<bool, RunError> {
        // Fields are borrowed one by one (no `&mut self` call) so that `chosen` can borrow the process.
        let process = &self.process;
        let group = process.routing.routes(Source::Step(step), &event.event_type);
        // Every emitted event takes a number, so ids do not depend on whether history is recorded.
        self.state.next_event += 1;
        let event_type = || event.event_type.clone();
        let chosen = choose(&self.state, process, group, step, Event::Emitted(event_type), &event.data)?;
        let routes: usize = chosen.routes().map(<[Route]>::len).sum();
        let unrouted = routes == 0 && !event.public;
        if event.public || unrouted || self.log.history {
            let record = EventRecord {
                id: self.state.event_id(),
                event_type: event.event_type.clone(),
                step: process.steps[step].id.clone(),
                superstep: self.state.superstep,
                data: event.data.clone(),
                time_ms: self.state.time_ms,
                topic: None,
            };
            let emitted = HistoryRecord::Emitted {
                id: record.id.clone(),
                step: record.step.clone(),
                event: record.event_type.clone(),
                data: record.data.clone(),
                public: event.public,
                routes,
            };
            self.log.record(self.state.superstep, emitted);
            if unrouted {
                self.state.unrouted_total += 1;
                let over = (self.state.unrouted.len() + 1).saturating_sub(state::MAX_UNROUTED_KEPT);
                self.state.unrouted.drain(..over);
                self.state.unrouted.push(record.clone());
            }
            if event.public {
                self.log.effects.published.push(record);
            }
        }
        let from = &process.steps[step].id;
        let mut stop = deliver_edges(&mut self.state, &process.routing, &chosen, &event.data, from, &mut self.log);
        // A public event rises out of each sub-process around its step, as an event of the sub-process's
        // step (docs/semantics.md, "Sub-processes").
        let mut inner = step;
        while event.public
            && let Some(outer) = process.routing.rises_to(inner)
        {
            let group = process.routing.routes(Source::Step(outer), &event.event_type);
            let event_type = || event.event_type.clone();
            let chosen = choose(&self.state, process, group, outer, Event::Emitted(event_type), &event.data)?;
            let from = &process.steps[outer].id;
            stop |= deliver_edges(&mut self.state, &process.routing, &chosen, &event.data, from, &mut self.log);
            inner = outer;
        }
        Ok(stop)
    }
}

/// The event [`choose`] routes, by its type (worked out only when a condition needs it): an automatic
/// `F.OnResult`/`F.OnError`, whose id is the invocation's, or an emitted event, whose id is the run's
/// latest event id.
enum Event<T> {
    Automatic(T),
    Emitted(T),
}

/// The routes of `group` that fire for an event from step `step` with `data`; see [`conditions::select`].
/// Its type (`event_type`) and attributes are worked out only when some edge has a condition; its id is
/// the one [`Run::route`] gives it (for `F.OnResult` and `F.OnError`, the invocation's id).
///
/// Errors: a condition that failed, as a run error naming the edge, the expression and the event.
fn choose<'p>(
    state: &RunState,
    process: &'p Process,
    group: &'p EdgeGroup,
    step: usize,
    event: Event<impl FnOnce() -> String>,
    data: &Json,
) -> Result<conditions::Chosen<'p>, RunError> {
    let step_id = &process.steps[step].id;
    let attributes = || {
        let (event_type, id) = match event {
            Event::Automatic(event_type) => {
                (event_type(), crate::host::replay::invocation_id(&state.instance_id, step_id, state.invocations, None))
            }
            Event::Emitted(event_type) => (event_type(), state.event_id()),
        };
        conditions::Attributes {
            source: format!("/processes/{}/instances/{}/steps/{step_id}", process.name(), state.instance_id),
            id,
            event_type,
            time_ms: state.time_ms,
        }
    };
    conditions::select(group, attributes, data).map_err(|f| RunError {
        kind: ErrorKind::ConditionFailed,
        message: format!(
            "the condition `{}` of edge /edges/{} failed on event \"{}\" from step \"{step_id}\": {}",
            f.expression, f.edge, f.event_type, f.message
        ),
        step: Some(step_id.clone()),
        function: None,
    })
}

/// SHA-256 (hex) of an invocation's arguments: each given parameter's name and JSON text.
fn args_digest(ps: &crate::load::ProcessStep, function: usize, args: &[Option<Json>]) -> String {
    let mut hasher = Sha256::new();
    for (param, arg) in ps.description.functions[function].params.iter().zip(args) {
        if let Some(arg) = arg {
            hasher.update(param.name.as_bytes());
            hasher.update([0]);
            hasher.update(arg.as_str().as_bytes());
            hasher.update([0]);
        }
    }
    format!("{:x}", hasher.finalize())
}

/// Record which edges of `chosen` fire (when the run records history), then [`deliver`] `data` along
/// each; true when one of them is `stop`.
fn deliver_edges(
    state: &mut RunState,
    routing: &RoutingTable,
    chosen: &Chosen<'_>,
    data: &Json,
    from: &str,
    log: &mut Log,
) -> bool {
    if log.history {
        let edges: Vec<Arc<str>> = chosen.edges().map(|e| e.path.clone()).collect();
        if !edges.is_empty() {
            log.record(state.superstep, HistoryRecord::Fired { edges });
        }
    }
    let mut stop = false;
    for routes in chosen.routes() {
        stop |= deliver(state, routing, routes, data, from, log);
    }
    stop
}

/// Queue `data` for every delivery in `routes` (each target gets its own copy, docs/semantics.md, "Fan-out"), set a
/// timer for each delayed one and open each await; true when one of them is `stop`.
///
/// `from` is the step whose event it is (empty for an input event, a timeout or an all-of group): the
/// source of what goes to an external topic.
fn deliver(
    state: &mut RunState,
    routing: &RoutingTable,
    routes: &[Route],
    data: &Json,
    from: &str,
    log: &mut Log,
) -> bool {
    let mut stop = false;
    for route in routes {
        match *route {
            Route::Stop => stop = true,
            Route::Deliver(to) => state.pending.push(Message { to, data: data.clone() }),
            Route::Later { to, delay_ms } => {
                let due_ms = state.time_ms.saturating_add(delay_ms);
                state.timers.push(Timer { due_ms, fire: Fire::Deliver(Message { to, data: data.clone() }) });
                log.record(state.superstep, HistoryRecord::TimerSet { due_ms, retry: false });
            }
            Route::Topic(i) => {
                // Every event takes a number, like an emitted one, so ids stay unique in the instance.
                state.next_event += 1;
                let topic = routing.topics()[i].clone();
                let record = EventRecord {
                    id: state.event_id(),
                    event_type: topic.clone(),
                    step: from.to_string(),
                    superstep: state.superstep,
                    data: data.clone(),
                    time_ms: state.time_ms,
                    topic: Some(topic.clone()),
                };
                log.record(state.superstep, HistoryRecord::ToTopic { id: record.id.clone(), topic });
                log.effects.published.push(record);
            }
            Route::Arrive { group, member } => {
                state.arrivals[group][member].push_back(data.clone());
                if let Some(object) = complete(&mut state.arrivals[group], &routing.all_of()[group].keys) {
                    let fired = &routing.all_of()[group];
                    log.record(state.superstep, HistoryRecord::AllOfFired { edge: fired.edge });
                    if log.history {
                        log.record(state.superstep, HistoryRecord::Fired { edges: vec![fired.path.clone()] });
                    }
                    stop |= deliver(state, routing, &routing.all_of()[group].routes, &object, "", log);
                } else if state.arrivals[group][member].len() > log.max_queued {
                    log.over.get_or_insert(Over::Member { group, member });
                }
            }
            Route::Await(i) => {
                let spec = &routing.awaits()[i];
                let deadline_ms = spec.timeout_ms.map(|t| state.time_ms.saturating_add(t));
                let event = spec.event.clone();
                let key = spec.correlate.as_ref().and_then(|expression| {
                    let input = format!(r#"{{"data":{}}}"#, data.as_str());
                    expression.key(&input).unwrap_or_else(|message| {
                        let message = format!(
                            "the correlation key `{}` of the await of \"{event}\" at /{} failed: {message}",
                            expression.text(),
                            spec.path
                        );
                        let error = RunError { kind: ErrorKind::ConditionFailed, message, step: None, function: None };
                        log.fault.get_or_insert(error);
                        None
                    })
                });
                let opened = HistoryRecord::AwaitOpened { event: event.clone(), deadline_ms, key: key.clone() };
                log.record(state.superstep, opened);
                state.awaits.push(OpenAwait { route: i, event, deadline_ms, data: data.clone(), key });
            }
        }
    }
    stop
}

/// Whether one of `routes` delivers to step `step`: at once, after a delay, or when an await it opens
/// times out.
fn reaches_step(routing: &RoutingTable, routes: &[Route], step: usize) -> bool {
    routes.iter().any(|r| match *r {
        Route::Deliver(d) | Route::Later { to: d, .. } => d.step == step,
        Route::Await(i) => reaches_step(routing, &routing.awaits()[i].on_timeout, step),
        Route::Stop | Route::Arrive { .. } | Route::Topic(_) => false,
    })
}

/// When every member of an all-of group has an arrival: the oldest of each, taken, as one object keyed by
/// `keys` (`{"credit.Approved": ..., "fraud.Cleared": ...}`).
///
/// A member's data nested [`crate::data::MAX_DEPTH`] deep would make the object one level too deep: the
/// object then holds each member's data as the string of its JSON text instead, so nothing is lost.
fn complete(arrivals: &mut [VecDeque<Json>], keys: &[String]) -> Option<Json> {
    if arrivals.iter().any(VecDeque::is_empty) {
        return None;
    }
    let members: Vec<(&String, Json)> = keys.iter().zip(arrivals.iter_mut().filter_map(VecDeque::pop_front)).collect();
    Json::object(members.iter().map(|(key, data)| (key.as_str(), data))).ok().or_else(|| {
        let texts = members.iter().map(|(key, data)| ((*key).clone(), serde_json::Value::from(data.as_str())));
        Json::from_value(&serde_json::Value::Object(texts.collect())).ok()
    })
}
