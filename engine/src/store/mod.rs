//! Where durable runs are kept (docs/semantics.md, "Durability"): the [`Store`] trait, its typed errors, and
//! the embedded SQLite backend ([`sqlite`]). A PostgreSQL backend will sit behind the same trait; the
//! conformance suite in `tests/` runs against any backend, so keep what a backend must do in the trait's
//! documentation, not in one backend's code.
//!
//! What a store holds per process instance:
//! - its **checkpoint**: the run's whole [`RunState`] as JSON after the last committed superstep, with a
//!   revision number that every save must name (optimistic concurrency: two writers never both advance
//!   one instance);
//! - what it is **pinned** to: the definition text and every component, by SHA-256 digest, kept once per
//!   digest as blobs;
//! - its append-only **history** ([`HistoryEntry`]) and its **outbox** of public events (CloudEvents JSON)
//!   with whether each was published;
//! - who **holds** it: the driver that may advance it now.

pub mod sqlite;

use serde::{Deserialize, Serialize};

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
    /// Each step's pinned component: `(step id, SHA-256)`, in definition order.
    pub components: Vec<(String, String)>,
    /// Revision of the checkpoint: 1 when created, one more per commit.
    pub revision: u64,
    /// When it was created and last changed, ms since the Unix epoch (the driver's clock).
    pub created_ms: u64,
    /// Last change, ms since the Unix epoch.
    pub updated_ms: u64,
    /// Who holds it, if anyone.
    pub owner: Option<String>,
}

/// A new instance: its pinned sources and its first checkpoint.
#[derive(Debug)]
pub struct NewInstance<'a> {
    /// What it is.
    pub info: &'a InstanceInfo,
    /// The definition text (stored as a blob under `info.definition_digest`).
    pub definition: &'a [u8],
    /// Each component's bytes, by digest (stored once per digest).
    pub blobs: Vec<(&'a str, &'a [u8])>,
    /// The first checkpoint and its effects.
    pub commit: Commit<'a>,
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
    /// Each step's component: `(step id, SHA-256)`, in definition order.
    pub components: &'a [(String, String)],
    /// The components' bytes, by digest (stored once per digest).
    pub blobs: Vec<(&'a str, &'a [u8])>,
}

/// One public event waiting in the outbox: its CloudEvent `id` and its CloudEvents JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Position in the instance's outbox, from 1.
    pub seq: u64,
    /// The CloudEvent `id`.
    pub id: String,
    /// The CloudEvent as JSON text (structured mode), exactly as it is published every time.
    pub json: String,
}

/// What one superstep commits, in one transaction.
#[derive(Debug)]
pub struct Commit<'a> {
    /// The run state after the superstep.
    pub state: &'a RunState,
    /// Its history records.
    pub history: &'a [HistoryEntry],
    /// Its public events (CloudEvents JSON), in order; each gets the next outbox position.
    pub outbox: &'a [(String, String)],
    /// Outbox positions up to this one have been published (marked in the same transaction).
    pub published_through: u64,
    /// The driver's clock, ms since the Unix epoch.
    pub now_ms: u64,
    /// The owner making the commit; it must hold the instance.
    pub owner: &'a str,
}

/// An instance read back: what it is and its last checkpoint.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What it is.
    pub info: InstanceInfo,
    /// Its last committed state.
    pub state: RunState,
    /// How many events its outbox holds (the last position given).
    pub outbox_len: u64,
}

/// Why a store operation failed, by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No instance has that id: check the id (`weft list` shows them).
    #[error("no process instance has the id \"{0}\" in this store; `weft list` shows the instances it has")]
    NotFound(String),
    /// The id is taken: choose another.
    #[error("a process instance with the id \"{0}\" already exists in this store; choose another --instance-id")]
    AlreadyExists(String),
    /// Someone else advanced the instance since it was read: read it again.
    #[error("process instance \"{instance}\" changed under us (expected revision {expected}); read it again")]
    Conflict {
        /// Instance id.
        instance: String,
        /// The revision the caller expected.
        expected: u64,
    },
    /// Another driver holds the instance: wait for it, or stop it.
    #[error("process instance \"{instance}\" is held by {owner}; wait for it to finish, or stop that process")]
    Held {
        /// Instance id.
        instance: String,
        /// Who holds it.
        owner: String,
    },
    /// The file is not a Weft store, or is from a newer Weft, or is damaged: it was left untouched.
    #[error("{0}")]
    Unusable(String),
    /// The database failed (I/O, disk full, locked for too long): the operation may succeed if retried.
    #[error("the store failed: {0}")]
    Backend(String),
    /// A stored record could not be read back: the store is damaged.
    #[error("the store is damaged: {0}")]
    Damaged(String),
}

/// A durable store of process instances. Every method is one transaction: it happens whole or not at
/// all. Implementations are shared between threads.
pub trait Store: Send + Sync {
    /// Create an instance held by `new.commit.owner`, store its blobs (each once per digest), its first
    /// checkpoint at revision 1, its history and outbox.
    ///
    /// Errors: [`StoreError::AlreadyExists`]; [`StoreError::Backend`].
    fn create(&self, new: &NewInstance<'_>) -> Result<(), StoreError>;

    /// The instance `id` and its last checkpoint.
    ///
    /// Errors: [`StoreError::NotFound`]; [`StoreError::Damaged`] when the checkpoint cannot be read.
    fn load(&self, id: &str) -> Result<Loaded, StoreError>;

    /// Save `commit` as the checkpoint after `expected_revision`, append its history and outbox, and mark
    /// outbox positions through `commit.published_through` published. Returns the new revision.
    ///
    /// Errors: [`StoreError::Conflict`] when the revision is not `expected_revision`; [`StoreError::Held`]
    /// when another owner holds the instance; [`StoreError::NotFound`].
    fn commit(&self, id: &str, expected_revision: u64, commit: &Commit<'_>) -> Result<u64, StoreError>;

    /// Pin instance `id` to `pinned` instead of what it was pinned to, and save `commit` (the run state
    /// carried over to it) as its checkpoint, as [`Store::commit`] does, in one transaction.
    ///
    /// Errors: as [`Store::commit`].
    fn repin(
        &self,
        id: &str,
        expected_revision: u64,
        pinned: &Pinned<'_>,
        commit: &Commit<'_>,
    ) -> Result<u64, StoreError>;

    /// Take hold of instance `id` for `owner`. A holder for which `gone(holder)` is true (its process
    /// ended without letting go) is taken over.
    ///
    /// Errors: [`StoreError::Held`] naming the live holder; [`StoreError::NotFound`].
    fn acquire(&self, id: &str, owner: &str, gone: &dyn Fn(&str) -> bool) -> Result<(), StoreError>;

    /// Let go of instance `id` if `owner` holds it, marking outbox positions through `published_through`
    /// published.
    fn release(&self, id: &str, owner: &str, published_through: u64) -> Result<(), StoreError>;

    /// The outbox events of `id` not yet marked published, in order.
    fn unpublished(&self, id: &str) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Every outbox event of `id`, in order, published or not.
    fn outbox(&self, id: &str) -> Result<Vec<OutboxEvent>, StoreError>;

    /// The published outbox events of `id` sent to one of the external `topics` whose delivery was never
    /// recorded with [`Store::delivered`], in order (for topics whose sink delivers later, a webhook).
    fn undelivered(&self, id: &str, topics: &[&str]) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Record that the outbox events of `id` with these CloudEvent ids were delivered (acknowledged by
    /// their webhook). Recording one twice is no error.
    ///
    /// Errors: [`StoreError::Backend`] (the events are then delivered again by the next driver).
    fn delivered(&self, id: &str, event_ids: &[String]) -> Result<(), StoreError>;

    /// The history of `id`, in order.
    fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, StoreError>;

    /// The instances, newest first; only those with status `status` when given.
    fn list(&self, status: Option<&str>) -> Result<Vec<InstanceInfo>, StoreError>;

    /// The blob stored under `digest`, if any.
    fn blob(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError>;
}
