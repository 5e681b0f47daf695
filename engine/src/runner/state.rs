//! The whole state of a run as plain, serialisable data, apart from the wasmtime objects: a checkpoint
//! of this after a superstep is enough to resume the run (docs/semantics.md, "Durability").

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::data::Json;
use crate::load::{Delivery, Process};
use crate::runner::NotAwaited;
use crate::runner::failure::RunError;

/// Most unrouted events a run keeps in its state (the latest ones): a checkpoint stays bounded however
/// long a run emits events nobody listens to.
pub const MAX_UNROUTED_KEPT: usize = 100;

/// The checkpoint format this Weft writes: the version of [`RunState`]'s JSON. A checkpoint without the
/// field is format 1 (what Weft wrote before it was versioned); format 3 added `inbox_taken`, format 4 an
/// await's correlation `key`. A newer
/// format is refused rather than read in part: an older Weft would drop what it does not know at its next
/// commit.
pub const CHECKPOINT_FORMAT: u32 = 4;

/// Everything a run knows between supersteps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunState {
    /// The checkpoint format it was written in ([`CHECKPOINT_FORMAT`]).
    #[serde(default = "format_one")]
    pub format: u32,
    /// Process instance id.
    pub instance_id: String,
    /// Supersteps run so far.
    pub superstep: u64,
    /// Kernel-function invocations so far.
    pub invocations: u64,
    /// Events emitted so far; the n-th has the id `<instance>-<n>`.
    pub next_event: u64,
    /// The run's logical time, in milliseconds since the Unix epoch: when its last checkpoint was taken.
    /// Every guest of the next superstep sees this as the wall-clock time, so that a superstep re-run
    /// after a crash sees the same time (docs/semantics.md, "Durability").
    pub time_ms: u64,
    /// Messages to deliver in the next superstep, in delivery order.
    pub pending: Vec<Message>,
    /// Parameter queues: `queues[step][function]`. Each step's are shared, so that a copy of the state
    /// (an in-memory store's committed one) shares what a superstep did not touch; write through
    /// [`RunState::queue_mut`], which copies a step's queues only while a copy shares them.
    pub queues: Vec<Arc<Vec<FunctionQueue>>>,
    /// Each step's state snapshot, by step index.
    pub step_states: Vec<Option<Json>>,
    /// The state-version each snapshot was written under, by step index.
    #[serde(default)]
    pub state_versions: Vec<u32>,
    /// The latest internal events that no edge listened to (docs/semantics.md, "Unrouted events"), in emission order, at
    /// most [`MAX_UNROUTED_KEPT`] (every one is in the history of a run that records it). A public event
    /// nobody inside listens to is not lost: it went to the sink.
    pub unrouted: Vec<EventRecord>,
    /// How many internal events went unrouted in all, kept or not.
    #[serde(default)]
    pub unrouted_total: u64,
    /// `arrivals[group][member]`: data that reached member `member` of all-of group `group` and waits for
    /// the rest of the group, oldest first.
    #[serde(default)]
    pub arrivals: Vec<Vec<VecDeque<Json>>>,
    /// Where the run stands.
    pub status: Status,
    /// Awaits of external events, oldest first.
    #[serde(default)]
    pub awaits: Vec<OpenAwait>,
    /// Durable timers: deliveries after a delay and retries of failed invocations, in the order set.
    #[serde(default)]
    pub timers: Vec<Timer>,
    /// Retries whose timer fired: invoked first in the next superstep, in order.
    #[serde(default)]
    pub retries_due: Vec<RetryCall>,
    /// How many state changes the history recorded per step, by step index (every
    /// [`SNAPSHOT_EVERY`]-th is recorded whole, the others as a patch).
    #[serde(default)]
    pub state_changes: Vec<u64>,
    /// How far the run has taken its inbox: every event up to this position was delivered, refused or
    /// acted on (docs/durability.md, "The inbox").
    #[serde(default)]
    pub inbox_taken: u64,
}

fn format_one() -> u32 {
    1
}

/// The history records a step's whole state on its first change and every this many changes after; the
/// others are RFC 6902 patches of the state before.
pub const SNAPSHOT_EVERY: u64 = 100;

/// An await an edge opened (docs/semantics.md, "Waiting, timers and retries").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAwait {
    /// Index of its [`AwaitRoute`](crate::load::AwaitRoute) in the routing table.
    pub route: usize,
    /// The awaited input event.
    pub event: String,
    /// When it times out, ms since the Unix epoch (run time); `None` for never.
    pub deadline_ms: Option<u64>,
    /// The data of the event that opened it (goes to the timeout's targets).
    pub data: Json,
    /// Its correlation key (the await's `correlate` on that data), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A durable timer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timer {
    /// When it fires, ms since the Unix epoch (run time).
    pub due_ms: u64,
    /// What it does then.
    pub fire: Fire,
}

/// What a timer does when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fire {
    /// Queue a message (an edge with a `delay`).
    Deliver(Message),
    /// Invoke a kernel function again (a retry).
    Retry(RetryCall),
}

/// One more attempt of a failed invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryCall {
    /// Step index.
    pub step: usize,
    /// Function index.
    pub function: usize,
    /// The same arguments, by parameter index.
    pub args: Vec<Option<Json>>,
    /// The attempt this will be (2 for the first retry).
    pub attempt: u32,
}

/// Data on its way to a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Where it goes.
    pub to: Delivery,
    /// The event's data.
    pub data: Json,
}

/// One FIFO queue per parameter (docs/semantics.md, "Parameter queues"), and a count of triggers for a
/// function without parameters ("Functions without parameters").
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionQueue {
    /// `params[i]` holds values for parameter `i`, oldest first.
    pub params: Vec<VecDeque<Json>>,
    /// Messages waiting to fire a function that has no parameters.
    pub triggers: u64,
}

/// An event as recorded in a run's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    /// Unique id within the instance.
    pub id: String,
    /// Event type.
    pub event_type: String,
    /// Emitting step id.
    pub step: String,
    /// Superstep in which it was emitted.
    pub superstep: u64,
    /// Event data.
    pub data: Json,
    /// The run's logical time when it was emitted (ms since the Unix epoch): the CloudEvent's `time`.
    pub time_ms: u64,
    /// The external topic it was sent to (its `event_type` is then the topic's name); none for a public
    /// event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// Where a run stands (docs/semantics.md, "Ending and statuses"). Serialised as `{"status": "failed", "error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    /// Supersteps are running (or will, when the run is next driven).
    Running,
    /// No messages are left, but the run awaits an external event or a timer.
    Waiting,
    /// No messages were left to deliver and nothing was awaited.
    Completed,
    /// An edge to `stop` fired.
    Stopped,
    /// An error no edge or error handler took, or the superstep or message limit.
    Failed {
        /// What failed.
        error: RunError,
    },
    /// Someone cancelled the run.
    Cancelled,
}

/// The names of every status, as [`Status::name`] gives them.
pub const STATUS_NAMES: [&str; 6] = ["running", "waiting", "completed", "stopped", "failed", "cancelled"];

/// `name` when it names a status (what a list may be filtered by).
///
/// Errors: that there is no such status, with the names there are.
pub fn status_name(name: &str) -> Result<String, String> {
    match STATUS_NAMES.contains(&name) {
        true => Ok(name.to_owned()),
        false => Err(format!("there is no status \"{name}\": give one of {}", STATUS_NAMES.join(", "))),
    }
}

/// The names of the statuses in which a run has ended (see [`Status::is_final`]).
pub const FINAL_STATUS_NAMES: [&str; 4] = ["completed", "stopped", "failed", "cancelled"];

impl Status {
    /// Whether the run has ended: completed, stopped, failed or cancelled. Nothing of it runs again.
    pub fn is_final(&self) -> bool {
        !matches!(self, Status::Running | Status::Waiting)
    }

    /// The status's name: `running`, `waiting`, `completed`, `stopped`, `failed` or `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Waiting => "waiting",
            Status::Completed => "completed",
            Status::Stopped => "stopped",
            Status::Failed { .. } => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

impl RunState {
    /// Make this a copy of `source`, keeping the allocations it has: what an in-memory store does at each
    /// commit. A whole `clone` there allocated every step's queues again at every superstep, so that a run
    /// of n steps paid O(n) allocations per superstep; this allocates only where `source` has grown.
    /// Parameter queues are shared per step, and step snapshots and all-of arrivals that are the very
    /// values they were (the same shared [`Json`]) are left alone, so that what a superstep did not touch
    /// costs a pointer comparison: a 1,000-step chain spent 15% of its run copying (or comparing) every
    /// step's queues at every commit.
    pub fn assign_from(&mut self, source: &RunState) {
        // Destructured whole, so that a field added to the state cannot be left out of the copy.
        let RunState {
            format,
            instance_id,
            superstep,
            invocations,
            next_event,
            time_ms,
            pending,
            queues,
            step_states,
            state_versions,
            unrouted,
            unrouted_total,
            arrivals,
            status,
            awaits,
            timers,
            retries_due,
            state_changes,
            inbox_taken,
        } = source;
        self.format = *format;
        self.instance_id.clone_from(instance_id);
        self.superstep = *superstep;
        self.invocations = *invocations;
        self.next_event = *next_event;
        self.time_ms = *time_ms;
        self.pending.clone_from(pending);
        assign_each(&mut self.queues, queues, |mine, theirs| {
            if !Arc::ptr_eq(mine, theirs) {
                mine.clone_from(theirs);
            }
        });
        assign_each(&mut self.step_states, step_states, |mine, theirs| {
            if !matches!((&*mine, theirs), (Some(a), Some(b)) if a.same(b)) {
                mine.clone_from(theirs);
            }
        });
        self.state_versions.clone_from(state_versions);
        self.unrouted.clone_from(unrouted);
        self.unrouted_total = *unrouted_total;
        assign_each(&mut self.arrivals, arrivals, |mine, theirs| assign_each(mine, theirs, assign_values));
        self.status.clone_from(status);
        self.awaits.clone_from(awaits);
        self.timers.clone_from(timers);
        self.retries_due.clone_from(retries_due);
        self.state_changes.clone_from(state_changes);
        self.inbox_taken = *inbox_taken;
    }

    /// The id of the run's latest event, `<instance>-<n>` with `n` = [`RunState::next_event`] (the
    /// CloudEvent `id` it is published with).
    pub fn event_id(&self) -> String {
        format!("{}-{}", self.instance_id, self.next_event)
    }

    /// The queues of kernel function `function` of step `step`, to change: the step's queues are copied
    /// first if a copy of this state shares them. Panics on indices the process does not have (the
    /// runner's own, checked by [`RunState::fits`]).
    pub fn queue_mut(&mut self, step: usize, function: usize) -> &mut FunctionQueue {
        &mut Arc::make_mut(&mut self.queues[step])[function]
    }

    /// Empty parameter queues for every kernel function of `process`'s steps, shaped as their
    /// descriptions say: `[step][function]`, one queue per parameter.
    pub fn empty_queues(process: &Process) -> Vec<Arc<Vec<FunctionQueue>>> {
        let step = |s: &crate::load::ProcessStep| {
            Arc::new(s.description.functions.iter().map(|f| FunctionQueue::new(f.params.len())).collect())
        };
        process.steps.iter().map(step).collect()
    }

    /// A fresh state for `process`: empty queues, initial step states from the definition.
    pub fn new(process: &Process, instance_id: String, time_ms: u64) -> Self {
        let queues = RunState::empty_queues(process);
        RunState {
            format: CHECKPOINT_FORMAT,
            instance_id,
            superstep: 0,
            invocations: 0,
            next_event: 0,
            time_ms,
            pending: Vec::new(),
            queues,
            step_states: process.steps.iter().map(|s| s.initial_state.clone()).collect(),
            state_versions: process.steps.iter().map(|s| s.initial_state_version).collect(),
            unrouted: Vec::new(),
            unrouted_total: 0,
            arrivals: process.routing.no_arrivals(),
            status: Status::Running,
            awaits: Vec::new(),
            timers: Vec::new(),
            retries_due: Vec::new(),
            state_changes: vec![0; process.steps.len()],
            inbox_taken: 0,
        }
    }

    /// Read a checkpoint's text back.
    ///
    /// Errors: a checkpoint of a newer format than [`CHECKPOINT_FORMAT`] (saying which), or one that is not
    /// a run state (unknown fields included: never drop what a newer Weft wrote).
    pub fn from_checkpoint(text: &str) -> Result<RunState, String> {
        #[derive(Deserialize)]
        struct Format {
            #[serde(default = "format_one")]
            format: u32,
        }
        let format = serde_json::from_str::<Format>(text).map_err(|e| e.to_string())?.format;
        if format > CHECKPOINT_FORMAT {
            return Err(format!(
                "it was written by a newer Weft (checkpoint format {format}; this Weft reads up to \
                 {CHECKPOINT_FORMAT}); use that Weft or a newer one"
            ));
        }
        let mut state: RunState = serde_json::from_str(text).map_err(|e| e.to_string())?;
        state.format = CHECKPOINT_FORMAT;
        Ok(state)
    }

    /// When the run next needs a driver, ms since the Unix epoch: its own time while it runs (at once),
    /// its earliest timer or await deadline while it waits; none when it has ended or waits with no
    /// deadline.
    pub fn next_due_ms(&self) -> Option<u64> {
        match self.status {
            Status::Running => Some(self.time_ms),
            Status::Waiting => {
                let timers = self.timers.iter().map(|t| t.due_ms);
                timers.chain(self.awaits.iter().filter_map(|a| a.deadline_ms)).min()
            }
            _ => None,
        }
    }

    /// The index of the oldest open await of `event_type`: one still open at `now_ms` (its deadline, if it
    /// has one, after it) when given, else any open one.
    ///
    /// Errors: [`NotAwaited`], listing what the run awaits (with deadlines), when there is none; a run that
    /// has ended awaits nothing.
    pub fn awaited(&self, event_type: &str, now_ms: Option<u64>) -> Result<usize, NotAwaited> {
        let open = |a: &OpenAwait| match (a.deadline_ms, now_ms) {
            (Some(deadline), Some(now)) => deadline > now,
            _ => true,
        };
        let ended = self.status.is_final();
        let found = self.awaits.iter().position(|a| !ended && a.event == event_type && open(a));
        found.ok_or_else(|| {
            let awaited: Vec<String> = self
                .awaits
                .iter()
                .filter(|a| !ended && open(a))
                .map(|a| match a.deadline_ms {
                    Some(d) => format!("{} (until {})", a.event, crate::runner::clock::format_time(d)),
                    None => a.event.clone(),
                })
                .collect();
            NotAwaited {
                instance: self.instance_id.clone(),
                event: event_type.into(),
                awaited: if awaited.is_empty() { "nothing".into() } else { awaited.join(", ") },
            }
        })
    }

    /// Parameter values left over: parameters still holding values that never formed a complete set, as
    /// `(step index, function index, parameter index, count)`.
    pub fn leftovers(&self) -> Vec<(usize, usize, usize, usize)> {
        let mut out = Vec::new();
        for (s, functions) in self.queues.iter().enumerate() {
            for (f, q) in functions.iter().enumerate() {
                for (p, values) in q.params.iter().enumerate() {
                    if !values.is_empty() {
                        out.push((s, f, p, values.len()));
                    }
                }
            }
        }
        out
    }
}

/// Make `mine` a copy of `theirs`: the elements both have with `assign` (which keeps an element's
/// allocations, or leaves an unchanged one alone), the rest dropped or cloned.
fn assign_each<T: Clone>(mine: &mut Vec<T>, theirs: &[T], assign: impl Fn(&mut T, &T)) {
    mine.truncate(theirs.len());
    let kept = mine.len();
    for (m, t) in mine.iter_mut().zip(theirs) {
        assign(m, t);
    }
    mine.extend_from_slice(&theirs[kept..]);
}

/// Make queue `mine` a copy of `theirs`, unless it holds the same shared values in the same order.
fn assign_values(mine: &mut VecDeque<Json>, theirs: &VecDeque<Json>) {
    let same = mine.len() == theirs.len() && mine.iter().zip(theirs).all(|(a, b)| a.same(b));
    if !same {
        mine.clone_from(theirs);
    }
}

impl FunctionQueue {
    /// Empty queues for a function with `params` parameters.
    pub fn new(params: usize) -> Self {
        FunctionQueue { params: vec![VecDeque::new(); params], triggers: 0 }
    }

    /// Queue one message: a value for parameter `param`, or a trigger for a function without parameters.
    /// Returns how many values the parameter's queue holds now (0 for a trigger).
    pub fn push(&mut self, param: Option<usize>, data: Json) -> usize {
        match param.and_then(|p| self.params.get_mut(p)) {
            Some(queue) => {
                queue.push_back(data);
                queue.len()
            }
            None => {
                self.triggers += 1;
                0
            }
        }
    }

    /// If the function can fire, take its arguments: the head of every non-empty queue, by parameter index.
    ///
    /// It can fire when every required parameter holds a value and at least one value or trigger is
    /// waiting (docs/semantics.md, "Parameter queues" and "Functions without parameters").
    pub fn take_ready(
        &mut self,
        description: &crate::load::description::FunctionDescription,
    ) -> Option<Vec<Option<Json>>> {
        if !self.is_ready(description) {
            return None;
        }
        if self.params.is_empty() {
            self.triggers -= 1;
            return Some(Vec::new());
        }
        Some(self.params.iter_mut().map(VecDeque::pop_front).collect())
    }

    /// Whether the function can fire ([`FunctionQueue::take_ready`] would take arguments).
    pub fn is_ready(&self, description: &crate::load::description::FunctionDescription) -> bool {
        if self.params.is_empty() {
            return self.triggers > 0;
        }
        description.params.iter().zip(&self.params).all(|(p, q)| !p.required || !q.is_empty())
            && self.params.iter().any(|q| !q.is_empty())
    }
}

impl RunState {
    /// Whether any kernel function's queues hold a complete set of arguments for `process`. Between
    /// supersteps only a state made outside the run can hold one (a rebinding whose new version made the
    /// parameter a queued function waited for optional, or removed it), as every superstep fires all it can.
    pub fn any_ready(&self, process: &Process) -> bool {
        let queues = self.queues.iter().zip(&process.steps);
        queues.flat_map(|(qs, ps)| qs.iter().zip(&ps.description.functions)).any(|(q, f)| q.is_ready(f))
    }

    /// Check that this state (e.g. read back from a checkpoint) fits `process`: as many steps, functions
    /// and parameters as its components describe, and every queued or delayed message, every retry and
    /// every await addressed within them.
    ///
    /// Errors: what does not fit, as text. A state that fails this must not be run against `process`.
    pub fn fits(&self, process: &Process) -> Result<(), String> {
        let steps = process.steps.len();
        let (queues, states, versions) = (self.queues.len(), self.step_states.len(), self.state_versions.len());
        if (queues, states, versions) != (steps, steps, steps) {
            return Err(format!(
                "the process has {steps} steps, and the checkpoint parameter queues for {queues}, states for \
                 {states} and state versions for {versions}"
            ));
        }
        for (step, (functions, ps)) in self.queues.iter().zip(&process.steps).enumerate() {
            let described = &ps.description.functions;
            let shapes_match = functions.len() == described.len()
                && functions.iter().zip(described).all(|(q, f)| q.params.len() == f.params.len());
            if !shapes_match {
                return Err(format!("step {step} (\"{}\"): the checkpoint's kernel functions differ", ps.id));
            }
        }
        let timed = self.timers.iter().filter_map(|t| match &t.fire {
            Fire::Deliver(m) => Some(m),
            Fire::Retry(_) => None,
        });
        for m in self.pending.iter().chain(timed) {
            let fits =
                self.queues.get(m.to.step).and_then(|f| f.get(m.to.function)).is_some_and(|q| match m.to.param {
                    Some(p) => p < q.params.len(),
                    None => q.params.is_empty(),
                });
            if !fits {
                return Err(format!("a queued message is addressed to {:?}, which the process lacks", m.to));
            }
        }
        let retried = self.timers.iter().filter_map(|t| match &t.fire {
            Fire::Retry(r) => Some(r),
            Fire::Deliver(_) => None,
        });
        for r in retried.chain(&self.retries_due) {
            let params = self.queues.get(r.step).and_then(|f| f.get(r.function)).map(|q| q.params.len());
            if params != Some(r.args.len()) {
                return Err(format!(
                    "a retry is addressed to step {} function {}, which the process lacks",
                    r.step, r.function
                ));
            }
        }
        let awaits = process.routing.awaits();
        if let Some(a) = self.awaits.iter().find(|a| awaits.get(a.route).is_none_or(|r| r.event != a.event)) {
            return Err(format!("the run awaits \"{}\", which the process's awaits do not match", a.event));
        }
        let groups: Vec<usize> = process.routing.all_of().iter().map(|g| g.keys.len()).collect();
        let arrivals: Vec<usize> = self.arrivals.iter().map(Vec::len).collect();
        if groups != arrivals {
            return Err(format!("the checkpoint has all-of groups of {arrivals:?} members, the process {groups:?}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint of two steps with one function of one parameter each, step 1's holding `"kept"`, and
    /// an all-of group of two members.
    fn two_steps() -> RunState {
        RunState::from_checkpoint(
            r#"{"instance_id":"i","superstep":1,"invocations":0,"next_event":0,"time_ms":0,"pending":[],
                "queues":[[{"params":[[]],"triggers":0}],[{"params":[["kept"]],"triggers":0}]],
                "step_states":[{"n":1},null],"unrouted":[],"arrivals":[[[],[]]],"status":{"status":"running"}}"#,
        )
        .expect("a checkpoint")
    }

    /// The lists of status names are the runner's: every status's name, in declaration order, and the
    /// final ones exactly those `is_final` says.
    #[test]
    fn the_status_name_lists_are_the_statuses() {
        let error = crate::runner::failure::RunError {
            kind: crate::runner::failure::ErrorKind::Failed,
            message: String::new(),
            step: None,
            function: None,
        };
        let all = [
            Status::Running,
            Status::Waiting,
            Status::Completed,
            Status::Stopped,
            Status::Failed { error },
            Status::Cancelled,
        ];
        assert_eq!(all.iter().map(Status::name).collect::<Vec<_>>(), STATUS_NAMES);
        let ended: Vec<&str> = all.iter().filter(|s| s.is_final()).map(Status::name).collect();
        assert_eq!(ended, FINAL_STATUS_NAMES);
    }

    #[test]
    fn a_copy_shares_what_was_not_touched_and_keeps_what_was() {
        let mut run = two_steps();
        let mut committed = two_steps();
        committed.assign_from(&run);
        assert!(Arc::ptr_eq(&committed.queues[0], &run.queues[0]), "an untouched step's queues are shared");

        run.queue_mut(0, 0).push(Some(0), Json::parse("\"new\"".into()).unwrap());
        assert_eq!(committed.queues[0][0].params[0].len(), 0, "the copy does not see a later change");
        assert!(Arc::ptr_eq(&committed.queues[1], &run.queues[1]), "the other step is still shared");

        run.step_states[0] = Some(Json::parse(r#"{"n":2}"#.into()).unwrap());
        run.arrivals[0][1].push_back(Json::parse("\"arrived\"".into()).unwrap());
        committed.assign_from(&run);
        assert_eq!(committed.arrivals[0][1].len(), 1, "a new arrival is copied");
        run.arrivals[0][1].push_back(Json::parse("\"later\"".into()).unwrap());
        assert_eq!(committed.arrivals[0][1].len(), 1, "the copy does not see a later arrival");
        run.arrivals[0][1].pop_front();
        committed.assign_from(&run);
        assert_eq!(committed.arrivals[0][1][0].as_str(), "\"later\"", "a queue as long as before, of other values");
        assert_eq!(committed.queues[0][0].params[0].len(), 1);
        assert_eq!(committed.step_states[0].as_ref().map(Json::as_str), Some(r#"{"n":2}"#));
        assert_eq!(committed.queues[1][0].params[0][0].as_str(), "\"kept\"");
        assert_eq!(serde_json::to_string(&committed).unwrap(), serde_json::to_string(&run).unwrap());
    }
}
