//! An instance's append-only history (docs/semantics.md, "Unrouted events", "Durability"): every event received, routed,
//! published or left unrouted, every invocation, every state change, every status change. The runner
//! produces these records as part of a superstep's [`Effects`](super::Effects); a store keeps them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::data::Json;
use crate::runner::failure::RunError;
use crate::runner::state::{SNAPSHOT_EVERY, Status};

/// One entry of a history: the superstep it belongs to (0 before the first) and what happened, as
/// `{"superstep": 3, "record": {"invoked": {...}}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The superstep in which it happened.
    pub superstep: u64,
    /// What happened.
    pub record: HistoryRecord,
}

/// What happened, named by its one key: `received`, `invoked`, `emitted`, `state-changed`, `status`.
/// (Externally tagged: event data is kept as raw JSON text, which serde cannot buffer for an internal
/// tag.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryRecord {
    /// An event from outside the process (an input event, or one sent to a waiting run).
    Received {
        /// Event type.
        event: String,
        /// Event data.
        data: Json,
        /// How many targets it was routed to.
        routes: usize,
    },
    /// One invocation of a kernel function.
    Invoked {
        /// The invocation id (also given to the guest, for idempotency keys).
        invocation: String,
        /// Step id.
        step: String,
        /// Kernel function.
        function: String,
        /// SHA-256 of the arguments (each parameter's name and JSON text), hex.
        args_digest: String,
        /// Attempt number, from 1.
        attempt: u32,
        /// Wall-clock duration in microseconds (the one field a re-run may change).
        duration_us: u64,
        /// The failure, when it failed; `None` when it succeeded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<RunError>,
    },
    /// An event a step emitted (its automatic `F.OnResult`/`F.OnError` events are not recorded: the
    /// invocation record accounts for them).
    Emitted {
        /// Event id (the CloudEvent `id` when it is published).
        id: String,
        /// Emitting step id.
        step: String,
        /// Event type.
        event: String,
        /// Event data.
        data: Json,
        /// Whether it was published (public).
        public: bool,
        /// How many edges' targets it was routed to; 0 and not public means it went nowhere (unrouted).
        routes: usize,
    },
    /// A step's state after an invocation changed it: the whole snapshot on the step's first change, every
    /// [`SNAPSHOT_EVERY`](super::state::SNAPSHOT_EVERY)-th change and whenever that is smaller; otherwise
    /// the change alone, as an RFC 6902 JSON Patch of the step's previous snapshot (so that a state that
    /// grows does not make the history grow with its square).
    StateChanged {
        /// Step id.
        step: String,
        /// The new snapshot, when recorded whole.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<Json>,
        /// The JSON Patch (RFC 6902) from the previous snapshot to the new one, when not recorded whole.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        patch: Option<Json>,
    },
    /// An edge opened an await of an external event.
    AwaitOpened {
        /// The awaited input event.
        event: String,
        /// When it times out, ms since the Unix epoch; none for never.
        deadline_ms: Option<u64>,
        /// Its correlation key, when the await has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// The run took event `seq` of its inbox (received with CloudEvent `source` and `id`): an event to
    /// deliver, or a cancel. When it was refused (not awaited any more, say), `refused` says why and the
    /// event changed nothing else.
    Taken {
        /// Its position in the inbox.
        seq: u64,
        /// Its CloudEvent `source`.
        source: String,
        /// Its CloudEvent `id`.
        id: String,
        /// Why it was refused, if it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<String>,
    },
    /// An await closed: the event came (`timed_out` false) or its time ran out.
    AwaitClosed {
        /// The awaited input event.
        event: String,
        /// Whether the timeout fired.
        timed_out: bool,
    },
    /// A durable timer was set: a delayed delivery, or a retry.
    TimerSet {
        /// When it fires, ms since the Unix epoch.
        due_ms: u64,
        /// Whether it retries a failed invocation.
        retry: bool,
    },
    /// A durable timer fired.
    TimerFired {
        /// When it was due, ms since the Unix epoch.
        due_ms: u64,
        /// Whether it retries a failed invocation.
        retry: bool,
    },
    /// Data was sent to an external topic (it is published after the commit, like a public event).
    ToTopic {
        /// The CloudEvent id it is published with.
        id: String,
        /// The topic.
        topic: String,
    },
    /// Edges fired by one event: their targets were given its data. Each edge is named by where it is
    /// declared: `inputs/0`, `edges/3`, `edges/5/allOf/1` (the arrival of member 1 of that all-of group;
    /// `edges/5` when the group fires), `onError`; inside a sub-process prefixed with its step's id
    /// (`kyc/edges/1`). `weft graph --run` counts these.
    Fired {
        /// The edges, in definition order.
        edges: Vec<Arc<str>>,
    },
    /// An all-of group had an arrival from every member and delivered their data as one object.
    AllOfFired {
        /// Index of its edge in the definition's `edges`.
        edge: usize,
    },
    /// The run was rebound to a new version of its process (`weft resume --upgrade`).
    Rebound {
        /// SHA-256 of the new definition text.
        definition_digest: String,
        /// The new components: `(step id, SHA-256)`.
        components: Vec<(String, String)>,
    },
    /// The run's status changed.
    Status {
        /// The new status.
        status: Status,
    },
}

impl HistoryEntry {
    /// This entry with its timing zeroed: what two runs of the same input must agree on.
    pub fn without_timing(&self) -> HistoryEntry {
        let mut entry = self.clone();
        if let HistoryRecord::Invoked { duration_us, .. } = &mut entry.record {
            *duration_us = 0;
        }
        entry
    }
}

/// How the history records step state `new` after `previous` as the step's change number `n` (from 0):
/// whole on the first change and every [`SNAPSHOT_EVERY`]-th, or when no smaller than its patch; else as
/// the RFC 6902 patch from `previous` (<https://www.rfc-editor.org/rfc/rfc6902>).
pub fn state_change(step: &str, previous: Option<&Json>, new: &Json, n: u64) -> HistoryRecord {
    let whole = || HistoryRecord::StateChanged { step: step.into(), state: Some(new.clone()), patch: None };
    let Some(previous) = previous.filter(|_| !n.is_multiple_of(SNAPSHOT_EVERY)) else { return whole() };
    let patch = json_patch::diff(&previous.to_value(), &new.to_value());
    match serde_json::to_value(&patch).ok().and_then(|p| Json::from_value(&p).ok()) {
        Some(patch) if patch.as_str().len() < new.as_str().len() => {
            HistoryRecord::StateChanged { step: step.into(), state: None, patch: Some(patch) }
        }
        _ => whole(),
    }
}
