//! The whole state of a run as plain, serialisable data, apart from the wasmtime objects: a checkpoint
//! of this after a superstep is enough to resume the run (SEMANTICS.md, "Durability").

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::data::Json;
use crate::load::{Delivery, Process};

/// Everything a run knows between supersteps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    /// Process instance id.
    pub instance_id: String,
    /// Supersteps run so far.
    pub superstep: u64,
    /// Kernel-function invocations so far.
    pub invocations: u64,
    /// Sequence number of the next event (event ids are `<instance>-<n>`).
    pub next_event: u64,
    /// Messages to deliver in the next superstep, in delivery order.
    pub pending: Vec<Message>,
    /// Parameter queues: `queues[step][function]`.
    pub queues: Vec<Vec<FunctionQueue>>,
    /// Each step's state snapshot, by step index.
    pub step_states: Vec<Option<Json>>,
    /// Internal events that no edge listened to (SEMANTICS.md rule 8), in emission order. (A public event
    /// nobody inside listens to is not lost: it went to the sink.)
    pub unrouted: Vec<EventRecord>,
    /// How the run ended, once it has.
    pub ending: Option<Ending>,
}

/// Data on its way to a parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    /// Where it goes.
    pub to: Delivery,
    /// The event's data.
    pub data: Json,
}

/// One FIFO queue per parameter (SEMANTICS.md rule 5), and a count of triggers for a function without
/// parameters (rule 7).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FunctionQueue {
    /// `params[i]` holds values for parameter `i`, oldest first.
    pub params: Vec<VecDeque<Json>>,
    /// Messages waiting to fire a function that has no parameters.
    pub triggers: u64,
}

/// An event as recorded in a run's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// How a run ended (SEMANTICS.md, "Ending").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Ending {
    /// No messages were left to deliver.
    Completed,
    /// An edge to `stop` fired.
    Stopped,
    /// An error no edge or error handler took, or the superstep or message limit.
    Failed {
        /// What failed.
        error: RunError,
    },
}

/// An unhandled failure, with where it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunError {
    /// Kind: from a step, `failed`, `bad-argument`, `bad-state`, `unknown-function`, `trap`, `timeout`,
    /// `memory-limit`, `invalid-output` or `message-limit`; from the run, `superstep-limit`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable reason.
    pub message: String,
    /// Step id, when a step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Kernel function, when one failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.step, &self.function) {
            (Some(s), Some(func)) => write!(f, "step \"{s}\", function \"{func}\": {} ({})", self.message, self.kind),
            _ => write!(f, "{} ({})", self.message, self.kind),
        }
    }
}

impl RunState {
    /// A fresh state for `process`: empty queues, initial step states from the definition.
    pub fn new(process: &Process, instance_id: String) -> Self {
        let queues = process
            .steps
            .iter()
            .map(|s| s.component.description.functions.iter().map(|f| FunctionQueue::new(f.params.len())).collect())
            .collect();
        RunState {
            instance_id,
            superstep: 0,
            invocations: 0,
            next_event: 0,
            pending: Vec::new(),
            queues,
            step_states: process.steps.iter().map(|s| s.initial_state.clone()).collect(),
            unrouted: Vec::new(),
            ending: None,
        }
    }

    /// A new event id, `<instance>-<n>`.
    pub fn event_id(&mut self) -> String {
        self.next_event += 1;
        format!("{}-{}", self.instance_id, self.next_event)
    }

    /// Parameters still holding values that never formed a complete set, as
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

impl FunctionQueue {
    /// Empty queues for a function with `params` parameters.
    pub fn new(params: usize) -> Self {
        FunctionQueue { params: vec![VecDeque::new(); params], triggers: 0 }
    }

    /// Queue one message: a value for parameter `param`, or a trigger for a function without parameters.
    pub fn push(&mut self, param: Option<usize>, data: Json) {
        match param.and_then(|p| self.params.get_mut(p)) {
            Some(queue) => queue.push_back(data),
            None => self.triggers += 1,
        }
    }

    /// If the function can fire, take its arguments: the head of every non-empty queue, by parameter index.
    ///
    /// It can fire when every required parameter holds a value and at least one value or trigger is
    /// waiting (SEMANTICS.md rules 5 and 7).
    pub fn take_ready(
        &mut self,
        description: &crate::load::description::FunctionDescription,
    ) -> Option<Vec<Option<Json>>> {
        if self.params.is_empty() {
            if self.triggers == 0 {
                return None;
            }
            self.triggers -= 1;
            return Some(Vec::new());
        }
        let complete = description.params.iter().zip(&self.params).all(|(p, q)| !p.required || !q.is_empty());
        if !complete || self.params.iter().all(VecDeque::is_empty) {
            return None;
        }
        Some(self.params.iter_mut().map(VecDeque::pop_front).collect())
    }
}
