//! The records a [`Store`](super::Store) reads and writes: what an instance is ([`InstanceInfo`]), the one
//! value every change of a run ends in ([`Checkpoint`], committed as a [`Commit`]), outbox events, leases,
//! dead letters, and the filters and cursors of paginated reads.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::blob::Blob;
use crate::runner::{HistoryEntry, RunState};

/// A process instance as a store lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Instance id.
    pub id: String,
    /// Process name.
    pub process: String,
    /// Process version.
    pub version: String,
    /// Status name (`running`, `waiting`, `completed`, `stopped`, `failed`, `cancelled`).
    pub status: String,
    /// The definition file the run was started from (for messages and `--upgrade`).
    pub definition_file: String,
    /// SHA-256 of the pinned definition text.
    pub definition_digest: String,
    /// Each step's pinned component and each sub-process's definition text: `(key, SHA-256)`, in load
    /// order (see [`crate::load::Process::pins`]).
    pub components: Vec<(String, String)>,
    /// SHA-256 of the pinned [`Layout`](crate::runner::layout::Layout) (what `weft status` needs to read a
    /// checkpoint without loading components); none for a run started before layouts were pinned.
    pub layout_digest: Option<String>,
    /// Revision of the checkpoint: 1 when created, one more per commit.
    pub revision: u64,
    /// The lease epoch: 1 when created, one more per takeover.
    pub epoch: u64,
    /// When it was created, ms since the Unix epoch (the driver's logical clock).
    pub created_ms: u64,
    /// Last change, ms since the Unix epoch (the driver's logical clock).
    pub updated_ms: u64,
    /// When it next needs a driver, ms since the Unix epoch: the run's time while it runs, its earliest
    /// timer or deadline while it waits; none when it has ended or waits with no deadline.
    pub next_due_ms: Option<u64>,
    /// Who holds its lease, if anyone.
    pub holder: Option<Holder>,
}

/// The holder of an instance's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The holder's owner id.
    pub owner: String,
    /// When its lease runs out unless renewed, ms since the Unix epoch (real time).
    pub until_ms: u64,
}

/// A held lease: the proof a driver shows at every commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder's owner id (random per driver).
    pub owner: String,
    /// The epoch it was taken at; a takeover bumps it, fencing every older holder.
    pub epoch: u64,
}

/// What an inbox event asks of its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboxKind {
    /// Deliver an event the run awaits.
    Event,
    /// Cancel the run.
    Cancel,
}

impl InboxKind {
    /// Its name in the store: `event` or `cancel`.
    pub fn name(self) -> &'static str {
        match self {
            InboxKind::Event => "event",
            InboxKind::Cancel => "cancel",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<InboxKind> {
        match name {
            "event" => Some(InboxKind::Event),
            "cancel" => Some(InboxKind::Cancel),
            _ => None,
        }
    }
}

/// An event on its way into an instance, as it is appended to the instance's inbox before anything runs:
/// its CloudEvent identity (`source` + `id`, what makes a duplicate: CloudEvents 1.0.2, section 3.1.1),
/// what it asks, its type and data, and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// The CloudEvent `source`.
    pub source: &'a str,
    /// The CloudEvent `id`.
    pub id: &'a str,
    /// What it asks.
    pub kind: InboxKind,
    /// The event type (empty for a cancel).
    pub event_type: &'a str,
    /// The event's data, JSON text (`null` for a cancel).
    pub data: &'a str,
    /// When it arrived, ms since the Unix epoch (the receiver's logical clock).
    pub received_ms: u64,
}

impl<'a> Inbound<'a> {
    /// An event of type `event_type` with JSON text `data` and CloudEvent `source` and `id`, arriving at
    /// `received_ms`.
    pub fn event(source: &'a str, id: &'a str, event_type: &'a str, data: &'a str, received_ms: u64) -> Self {
        Inbound { source, id, kind: InboxKind::Event, event_type, data, received_ms }
    }

    /// A cancel request with CloudEvent `source` and `id`, arriving at `received_ms`.
    pub fn cancel(source: &'a str, id: &'a str, received_ms: u64) -> Self {
        Inbound { source, id, kind: InboxKind::Cancel, event_type: "", data: "null", received_ms }
    }
}

/// One event in an instance's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    /// Its position in the inbox, from 1.
    pub seq: u64,
    /// The CloudEvent `source`.
    pub source: String,
    /// The CloudEvent `id`.
    pub id: String,
    /// What it asks.
    pub kind: InboxKind,
    /// The event type.
    pub event_type: String,
    /// The event's data, JSON text.
    pub data: String,
    /// When it arrived, ms since the Unix epoch.
    pub received_ms: u64,
}

/// What appending to an inbox did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// The event is in the inbox at this position.
    New(u64),
    /// An event with the same `source` and `id` was received before, by this instance at this position:
    /// nothing was appended.
    Duplicate {
        /// The instance that received it.
        instance: String,
        /// Its position in that instance's inbox.
        seq: u64,
    },
}

/// A new instance: its pinned sources and its first checkpoint.
#[derive(Debug)]
pub struct NewInstance<'a> {
    /// What it is (`revision`, `epoch` and `holder` are set by the store).
    pub info: &'a InstanceInfo,
    /// The definition text (stored as a blob under `info.definition_digest`).
    pub definition: &'a [u8],
    /// Every other pinned blob (components, sub-process texts, the layout), by digest, each stored once.
    pub blobs: Vec<&'a Blob>,
    /// The event that starts it, kept as the first event of its inbox (taken: the checkpoint says so) so
    /// that the same event received again is recognised as a duplicate; none for a start without one.
    pub received: Option<Inbound<'a>>,
    /// The driver that will hold it.
    pub lease_owner: &'a str,
    /// Until when, ms since the Unix epoch (real time).
    pub lease_until_ms: u64,
    /// The first checkpoint.
    pub checkpoint: Checkpoint<'a>,
}

impl NewInstance<'_> {
    /// Every blob the run is pinned to: its definition text (as the blob a store keeps under
    /// `info.definition_digest`), then `blobs`.
    pub fn pinned_blobs(&self) -> Vec<Blob> {
        pinned_blobs(self.definition, &self.info.definition_digest, &self.blobs)
    }
}

/// What a run is pinned to after `weft resume --upgrade`: a new definition and its components.
#[derive(Debug)]
pub struct Pinned<'a> {
    /// The definition file it came from.
    pub definition_file: &'a str,
    /// The process version the new definition declares.
    pub version: &'a str,
    /// SHA-256 of the definition text.
    pub definition_digest: &'a str,
    /// The definition text.
    pub definition: &'a [u8],
    /// Each pin: `(key, SHA-256)`, in load order.
    pub components: &'a [(String, String)],
    /// SHA-256 of the new layout.
    pub layout_digest: &'a str,
    /// Every other blob (components, sub-process texts, the layout), by digest, each stored once.
    pub blobs: Vec<&'a Blob>,
}

impl Pinned<'_> {
    /// Every blob the run is pinned to: its definition text (as the blob a store keeps under
    /// `definition_digest`), then `blobs`.
    pub fn pinned_blobs(&self) -> Vec<Blob> {
        pinned_blobs(self.definition, self.definition_digest, &self.blobs)
    }
}

/// The definition text `definition` (SHA-256 `digest`) as a blob, then `blobs`.
fn pinned_blobs(definition: &[u8], digest: &str, blobs: &[&Blob]) -> Vec<Blob> {
    let text = Blob::hashed(Arc::from(definition), digest.to_owned());
    std::iter::once(text).chain(blobs.iter().map(|b| (*b).clone())).collect()
}

/// One event in an outbox: where it stands in the outbox, its CloudEvent `id`, the topic and sink it goes
/// to, and its CloudEvents JSON text, exactly as it is published every time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Position in the instance's outbox, from 1.
    pub seq: u64,
    /// The CloudEvent `id`.
    pub id: String,
    /// The external topic it was sent to; none for a public event.
    pub topic: Option<String>,
    /// The sink that publishes it: [`DEFAULT_SINK`] (the command's output), or `topic:<name>` for a topic
    /// with a sink of its own (a file or a webhook). Each sink has its own cursor.
    pub sink: String,
    /// Structured-mode CloudEvents JSON.
    pub json: String,
}

/// The sink of public events and of topics without a sink of their own: the driving command's output.
pub const DEFAULT_SINK: &str = "default";

/// The value every change of a run ends in — a superstep, a start, a delivered event, a wake-up, a
/// rebind, a cancel: its state and what the change produced. The store takes exactly this.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint<'a> {
    /// The run state after the change.
    pub state: &'a RunState,
    /// Its history records, in order.
    pub history: &'a [HistoryEntry],
    /// Its outbox events, in order, numbered on from the instance's last outbox position.
    pub outbox: &'a [OutboxEvent],
    /// Sinks that acknowledged events since the last commit: `(sink, up to this outbox position)`.
    pub acks: &'a [(String, u64)],
    /// The driver's logical clock, ms since the Unix epoch.
    pub now_ms: u64,
    /// The state and history already encoded as a store writes them (by the thread that made them, so that
    /// the writer of a batch of commits does not encode them all itself); encoded by the store when none.
    pub encoded: Option<&'a Encoded>,
}

/// A checkpoint's run state and history records as JSON text, the form a store keeps them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The run state.
    pub state: String,
    /// The history records (a JSON array), none when there are none.
    pub history: Option<String>,
}

impl Encoded {
    /// `state` and `history` encoded.
    ///
    /// Errors: [`StoreError::Backend`] when one cannot be encoded (a bug: both are plain data).
    pub fn of(state: &RunState, history: &[HistoryEntry]) -> Result<Encoded, super::StoreError> {
        let failed = |e: serde_json::Error| super::StoreError::Backend(format!("cannot write the checkpoint: {e}"));
        let history = match history {
            [] => None,
            records => Some(serde_json::to_string(records).map_err(failed)?),
        };
        Ok(Encoded { state: serde_json::to_string(state).map_err(failed)?, history })
    }
}

/// A checkpoint of one instance, fenced: committed only while `lease` holds and the revision is still
/// `expected_revision`.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// Instance id.
    pub id: &'a str,
    /// The lease it is committed under.
    pub lease: &'a Lease,
    /// The revision it follows.
    pub expected_revision: u64,
    /// What to commit.
    pub checkpoint: Checkpoint<'a>,
}

/// An instance read back: what it is and its last checkpoint.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What it is.
    pub info: InstanceInfo,
    /// Its last committed state.
    pub state: RunState,
    /// The last outbox position given (0 for none).
    pub outbox_len: u64,
    /// The last inbox position given (0 for none); the run has taken those up to its state's
    /// `inbox_taken`.
    pub inbox_len: u64,
}

/// What a commit did: the new revision, and how long the inbox is now (events appended since the run last
/// looked are taken at its next superstep boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The new revision.
    pub revision: u64,
    /// The last inbox position given.
    pub inbox_len: u64,
}

/// An event a sink refused for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Its outbox position.
    pub seq: u64,
    /// The sink that refused it.
    pub sink: String,
    /// Why, as the sink said.
    pub reason: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
}

/// Which instances [`Store::list`](super::Store::list) gives.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this process.
    pub process: Option<String>,
}

/// Where a page of [`Store::list`](super::Store::list) ended: the last instance's creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    /// Its `created_ms`.
    pub created_ms: u64,
    /// Its id.
    pub id: String,
}

impl From<&InstanceInfo> for ListCursor {
    fn from(info: &InstanceInfo) -> Self {
        ListCursor { created_ms: info.created_ms, id: info.id.clone() }
    }
}

/// What [`Store::prune`](super::Store::prune) deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Instances, with their history, outbox, cursors and dead letters.
    pub instances: Vec<String>,
    /// Blobs no remaining instance was pinned to.
    pub blobs: usize,
}

/// A deployed version of a process ([`Store::deploy`](super::Store::deploy)): what new instances of the
/// process started by `weft serve` are pinned to, as long as it is the process's latest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// Process name.
    pub process: String,
    /// Its number among the process's deployments: 1, 2, … in the order they were made.
    pub number: u64,
    /// The process version its definition declares.
    pub version: String,
    /// The definition file it was deployed from (for messages).
    pub definition_file: String,
    /// SHA-256 of the definition text.
    pub definition_digest: String,
    /// Each pin: `(key, SHA-256)`, in load order (as [`InstanceInfo::components`]).
    pub components: Vec<(String, String)>,
    /// SHA-256 of its layout (its resolved configuration).
    pub layout_digest: String,
    /// When it was deployed, ms since the Unix epoch.
    pub deployed_ms: u64,
}

impl Deployment {
    /// Deployment `number` of `process`: the version `pinned`, deployed at `now_ms`.
    pub fn of(process: &str, number: u64, pinned: &Pinned<'_>, now_ms: u64) -> Deployment {
        Deployment {
            process: process.into(),
            number,
            version: pinned.version.into(),
            definition_file: pinned.definition_file.into(),
            definition_digest: pinned.definition_digest.into(),
            components: pinned.components.to_vec(),
            layout_digest: pinned.layout_digest.into(),
            deployed_ms: now_ms,
        }
    }

    /// Whether `pinned` is this deployment's version: the same definition, components and layout.
    pub fn pins_same(&self, pinned: &Pinned<'_>) -> bool {
        self.definition_digest == pinned.definition_digest
            && self.components == pinned.components
            && self.layout_digest == pinned.layout_digest
    }

    /// Whether instance `info` is pinned to this deployment's version.
    pub fn pins_instance(&self, info: &InstanceInfo) -> bool {
        self.definition_digest == info.definition_digest
            && self.components == info.components
            && info.layout_digest.as_deref() == Some(self.layout_digest.as_str())
    }

    /// What an instance pinned to this deployment records of it, as [`InstanceInfo`] fields: `(file,
    /// definition digest, components, layout digest)`.
    pub fn pin_key(&self) -> (String, String, Vec<(String, String)>, Option<String>) {
        (
            self.definition_file.clone(),
            self.definition_digest.clone(),
            self.components.clone(),
            Some(self.layout_digest.clone()),
        )
    }
}

/// What [`Store::deploy`](super::Store::deploy) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployed {
    /// A new deployment, now the process's latest.
    New(Deployment),
    /// The process's latest deployment already is this version: nothing was written.
    Unchanged(Deployment),
}

impl Deployed {
    /// The deployment, new or not.
    pub fn deployment(&self) -> &Deployment {
        match self {
            Deployed::New(d) | Deployed::Unchanged(d) => d,
        }
    }
}

/// One write of a batch ([`Store::write_many`](super::Store::write_many)).
pub enum Write<'a> {
    /// [`Store::create`](super::Store::create).
    Create(NewInstance<'a>),
    /// [`Store::commit`](super::Store::commit).
    Commit(Commit<'a>),
    /// [`Store::acquire`](super::Store::acquire).
    Acquire {
        /// Instance id.
        id: &'a str,
        /// The driver taking it.
        owner: &'a str,
        /// Now, ms since the Unix epoch (real time).
        now_ms: u64,
        /// Until when, ms since the Unix epoch (real time).
        until_ms: u64,
    },
    /// [`Store::release`](super::Store::release).
    Release {
        /// Instance id.
        id: &'a str,
        /// The lease let go of.
        lease: &'a Lease,
    },
}

/// What a [`Write`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Created, held under this lease.
    Created(Lease),
    /// A commit's result.
    Committed(Committed),
    /// The lease taken.
    Acquired(Lease),
    /// Let go of.
    Released,
}
