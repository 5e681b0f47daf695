//! Where durable runs are kept (docs/durability.md): the [`Store`] trait, the records it reads and writes
//! ([`records`]), its typed errors, and two backends: the embedded SQLite store ([`sqlite`]) and an
//! in-memory one ([`memory`], for `weft run --in-memory` and as the trait's executable model). A
//! PostgreSQL backend will sit behind the same trait; the conformance suite in `tests/` runs against
//! every backend, so what a backend must do is written here, not in one backend's code.
//!
//! What a store holds per process instance:
//! - its **checkpoint**: the run's whole [`RunState`](crate::runner::RunState) after the last committed
//!   superstep, with a revision that every commit names (optimistic concurrency);
//! - its **lease**: who may advance it now, until when, and the epoch (fencing token) bumped at every
//!   takeover. Every commit is fenced on the holder's epoch and the revision it follows, so a driver that
//!   lost its lease (paused past its expiry, then taken over) can never write again;
//! - what it is **pinned** to: the definition text, every component and its layout, by SHA-256 digest,
//!   kept once per digest as blobs;
//! - its append-only **history** and its **outbox** of CloudEvents, each with its topic and the sink it
//!   goes to, and a **cursor per sink** saying up to which outbox position that sink acknowledged;
//! - its **inbox**: every event for it (a sent event, a cancel request, the event that started it), appended
//!   before anything runs and keyed by CloudEvent `source` + `id` across the store, so that a duplicate is
//!   recognised; the run takes them in order at superstep boundaries, and its checkpoint says how far;
//! - **dead letters**: events a sink refused for good, kept with the reason until redelivered;
//! - `next_due`: when it next needs a driver (now for a running run, the earliest timer or deadline for a
//!   waiting one), so that ready instances are found without reading checkpoints.
//!
//! ```no_run
//! # use weft_engine::store::{Store, memory::MemoryStore};
//! let store = MemoryStore::new();
//! let page = store.list(&Default::default(), None, 50)?;
//! # Ok::<(), weft_engine::store::StoreError>(())
//! ```

pub mod memory;
pub mod records;
pub mod sqlite;
pub mod tenure;

pub use records::{
    Appended, Checkpoint, Commit, Committed, DeadLetter, Deployed, Deployment, Encoded, Holder, Inbound, InboxEvent,
    InboxKind, InstanceInfo, Lease, ListCursor, ListFilter, Loaded, NewInstance, OutboxEvent, Pinned, Pruned, Write,
    Written,
};

use crate::runner::HistoryEntry;

/// Why a store operation failed, by what the caller can do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// No instance has that id: check the id (`weft list` shows them).
    #[error("no process instance has the id \"{0}\" in this store; `weft list` shows the instances it has")]
    NotFound(String),
    /// The id is taken: choose another.
    #[error("a process instance with the id \"{0}\" already exists in this store; choose another --instance-id")]
    AlreadyExists(String),
    /// The instance moved on since it was read (another revision): read it again.
    #[error("process instance \"{instance}\" changed under us (expected revision {expected}); read it again")]
    Conflict {
        /// Instance id.
        instance: String,
        /// The revision the caller expected.
        expected: u64,
    },
    /// Another driver holds the instance's lease: wait for it to let go, or for its lease to run out.
    #[error(
        "process instance \"{instance}\" is held by {owner} (its lease runs until {}); wait for it to finish, or \
         stop that process: its hold lapses when its lease runs out",
        crate::runner::clock::format_time(*until_ms)
    )]
    Held {
        /// Instance id.
        instance: String,
        /// Who holds it.
        owner: String,
        /// When its lease runs out unless renewed, ms since the Unix epoch.
        until_ms: u64,
    },
    /// This driver's lease was taken over (it stopped renewing it for longer than the lease): it must stop
    /// driving the instance; what it did not commit is redone by the new holder.
    #[error(
        "process instance \"{0}\" was taken over by another driver after this one's lease ran out; nothing more \
         of it is written from here"
    )]
    LeaseLost(String),
    /// An event with this CloudEvent `source` and `id` was received before: nothing was done again.
    #[error(
        "an event with source \"{event_source}\" and id \"{id}\" was received before, by process instance \
         \"{instance}\"; nothing was done again"
    )]
    Duplicate {
        /// The event's `source`.
        event_source: String,
        /// The event's `id`.
        id: String,
        /// The instance that received it.
        instance: String,
    },
    /// The instance has ended: an event for it is refused, and nothing was appended.
    #[error("process instance \"{instance}\" has already ended ({status}); nothing of it runs again")]
    Ended {
        /// Instance id.
        instance: String,
        /// Its final status.
        status: String,
    },
    /// The instance has not ended: cancel it first.
    #[error("process instance \"{instance}\" has not ended ({status}); cancel it first (`weft cancel {instance}`)")]
    NotEnded {
        /// Instance id.
        instance: String,
        /// Its status.
        status: String,
    },
    /// The file is not a Weft store, or is from a newer Weft, or is damaged: it was left untouched.
    #[error("{0}")]
    Unusable(String),
    /// The database failed (I/O, disk full, busy for too long): the operation may succeed if retried.
    #[error("the store failed: {0}")]
    Backend(String),
    /// A stored record could not be read back: the store is damaged, or was written by a newer Weft.
    #[error("the store is damaged: {0}")]
    Damaged(String),
    /// Content to be stored could not be read: a component file that was not read when it was loaded
    /// (see [`crate::blob`]) became unreadable or changed since. Nothing was stored.
    #[error("{0}")]
    Unreadable(String),
}

/// A durable store of process instances. Every method is one transaction: it happens whole or not at
/// all. Implementations are shared between threads; reads never wait for a writer's disk flush.
///
/// Times (`now_ms`) are the caller's clock, ms since the Unix epoch: the run's logical clock for
/// `updated_ms`, the machine's real clock for leases.
pub trait Store: Send + Sync {
    /// Create an instance held by `new.lease_owner` at epoch 1 until `new.lease_until_ms`, store its blobs
    /// (each once per digest), its first checkpoint at revision 1, its history and outbox, and the event
    /// that started it as the first of its inbox.
    ///
    /// Errors: [`StoreError::Duplicate`] when the starting event's `source` and `id` were received before
    /// (nothing is created), checked first: a sender retrying a start is answered as a duplicate whatever
    /// instance id it names; [`StoreError::AlreadyExists`]; [`StoreError::Backend`].
    fn create(&self, new: &NewInstance<'_>) -> Result<Lease, StoreError>;

    /// [`Store::create`] for each of `news`, in order, in one transaction (one fsync), stopping at the
    /// first that fails (a [`StoreError::Duplicate`] creates nothing but does not stop the others): the
    /// results of those tried (the last is the failure, if one failed; nothing after it is created). A
    /// transaction the store gives up fails them all.
    fn create_many(&self, news: &[NewInstance<'_>]) -> Vec<Result<Lease, StoreError>> {
        let mut results = Vec::with_capacity(news.len());
        for new in news {
            let result = self.create(new);
            let failed = ends_a_batch(&result);
            results.push(result);
            if failed {
                break;
            }
        }
        results
    }

    /// The instance `id` and its last checkpoint.
    ///
    /// Errors: [`StoreError::NotFound`]; [`StoreError::Damaged`] when the checkpoint cannot be read or was
    /// written by a newer Weft.
    fn load(&self, id: &str) -> Result<Loaded, StoreError>;

    /// Commit each of `commits` in one transaction (one disk flush), each fenced on its own: a commit
    /// whose lease or revision does not hold fails alone and the others are kept. Each commit saves its
    /// checkpoint after `expected_revision`, appends its history and outbox, and moves the sink cursors
    /// it acknowledges. Returns, per commit, the new revision and the inbox's length.
    ///
    /// Per-commit errors: [`StoreError::LeaseLost`] when the lease's epoch or owner is no longer the
    /// instance's; [`StoreError::Conflict`] when the revision is not `expected_revision`;
    /// [`StoreError::NotFound`]. When the transaction itself fails, every commit gets
    /// [`StoreError::Backend`].
    fn commit_many(&self, commits: &[Commit<'_>]) -> Vec<Result<Committed, StoreError>>;

    /// Each of `writes` (creations, commits, lease acquisitions and releases of any instances), in order, in one
    /// transaction (one fsync), each on its own: one refused does not undo the others. A transaction the
    /// store gives up fails them all. What group commit writes.
    fn write_many(&self, writes: &[Write<'_>]) -> Vec<Result<Written, StoreError>> {
        writes
            .iter()
            .map(|w| match w {
                Write::Create(new) => self.create(new).map(Written::Created),
                Write::Commit(c) => self.commit(c).map(Written::Committed),
                Write::Acquire { id, owner, now_ms, until_ms } => {
                    self.acquire(id, owner, *now_ms, *until_ms).map(Written::Acquired)
                }
                Write::Release { id, lease } => self.release(id, lease).map(|()| Written::Released),
            })
            .collect()
    }

    /// [`Store::commit_many`] of one commit.
    fn commit(&self, commit: &Commit<'_>) -> Result<Committed, StoreError> {
        self.commit_many(std::slice::from_ref(commit))
            .pop()
            .unwrap_or_else(|| Err(StoreError::Backend("the store returned no result for a commit".into())))
    }

    /// Pin instance `commit.id` to `pinned` instead of what it was pinned to, and save `commit` (the run
    /// state carried over to it), in one transaction.
    ///
    /// Errors: as [`Store::commit`].
    fn repin(&self, pinned: &Pinned<'_>, commit: &Commit<'_>) -> Result<Committed, StoreError>;

    /// Deploy `pinned` as the latest version of process `process` at `now_ms`: store its blobs (each once per
    /// digest, kept as long as the deployment: deployments are never deleted) and record it as the
    /// process's next deployment, in one transaction; unless the process's latest deployment already is
    /// this version ([`Deployment::pins_same`]): then nothing is written.
    ///
    /// Errors: [`StoreError::Backend`].
    fn deploy(&self, process: &str, pinned: &Pinned<'_>, now_ms: u64) -> Result<Deployed, StoreError>;

    /// The deployments of `process`, or of every process, by process name then number (oldest first).
    fn deployments(&self, process: Option<&str>) -> Result<Vec<Deployment>, StoreError>;

    /// Append `event` to the inbox of instance `id`, in one transaction, unless an event with the same
    /// `source` and `id` was received before by any instance: then nothing is appended, and where it went
    /// is said. Needs no lease: whoever holds the instance takes it at its next superstep boundary.
    ///
    /// Errors: [`StoreError::NotFound`]; [`StoreError::Ended`] when its last commit ended the run (checked
    /// in the same transaction, so an event never waits in the inbox of a run that ended before it came:
    /// nobody would take it).
    fn append_inbox(&self, id: &str, event: &Inbound<'_>) -> Result<Appended, StoreError>;

    /// The instance and inbox position that received an event with CloudEvent `source` and `id`, if any.
    fn received(&self, source: &str, id: &str) -> Result<Option<(String, u64)>, StoreError>;

    /// The instances of process `process` with an open await of `event` whose correlation key is `key`, at
    /// most `limit` (two tell that the key is not unique).
    fn correlated(&self, process: &str, event: &str, key: &str, limit: usize) -> Result<Vec<String>, StoreError>;

    /// The inbox of `id` after position `after`, in order, at most `limit` events.
    fn inbox(&self, id: &str, after: u64, limit: usize) -> Result<Vec<InboxEvent>, StoreError>;

    /// Take hold of instance `id` for `owner` until `until_ms`. An instance nobody holds, or whose
    /// holder's lease ran out before `now_ms`, is taken: its epoch goes up by one (a takeover fences the
    /// previous holder). An owner that already holds it keeps its epoch and extends its lease.
    ///
    /// Errors: [`StoreError::Held`] naming the holder and its lease; [`StoreError::NotFound`].
    fn acquire(&self, id: &str, owner: &str, now_ms: u64, until_ms: u64) -> Result<Lease, StoreError>;

    /// Extend to `until_ms` the lease of every instance `owner` holds (one statement, however many):
    /// the heartbeat of a driver. Returns how many it renewed; a lease taken over is not renewed.
    fn renew(&self, owner: &str, until_ms: u64) -> Result<usize, StoreError>;

    /// Let go of instance `id` if `lease` still holds it; nothing otherwise.
    fn release(&self, id: &str, lease: &Lease) -> Result<(), StoreError>;

    /// The outbox events of `id` after position `after` that their sink has not acknowledged, in outbox
    /// order, at most `limit` (a dead letter counts as acknowledged).
    fn unacked(&self, id: &str, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Record that sink `sink` of `id` acknowledged every one of its events up to outbox position `seq`.
    /// A cursor only moves forward; acknowledging again is no error. A store may commit it without
    /// waiting for the disk (the SQLite store does): a power loss may lose it, and the events are then
    /// published again, as after any crash before an acknowledgement (docs/durability.md, "Publishing").
    fn ack(&self, id: &str, sink: &str, seq: u64) -> Result<(), StoreError>;

    /// Record that sink `sink` refused outbox event `seq` of `id` for good, saying `reason`: it becomes a
    /// dead letter, and the sink's cursor moves past it so that its later events are delivered.
    fn dead_letter(&self, id: &str, sink: &str, seq: u64, reason: &str, now_ms: u64) -> Result<(), StoreError>;

    /// The dead letters of `id`, in outbox order.
    fn dead_letters(&self, id: &str) -> Result<Vec<DeadLetter>, StoreError>;

    /// Forget dead letter `seq` of `id` (its sink took it on redelivery).
    fn redelivered(&self, id: &str, seq: u64) -> Result<(), StoreError>;

    /// The outbox of `id` after position `after`, in order, at most `limit` events.
    fn outbox(&self, id: &str, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;

    /// The history of `id` after commit `after` (0 for the start), at most `limit` commits' worth, in
    /// order; with the last commit read, to pass as `after` for the next page (none at the end).
    ///
    /// Errors: [`StoreError::NotFound`].
    fn history(&self, id: &str, after: u64, limit: usize) -> Result<(Vec<HistoryEntry>, Option<u64>), StoreError>;

    /// The instances `filter` selects, newest first, after `after` (the last of the previous page), at
    /// most `limit`.
    fn list(
        &self,
        filter: &ListFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<InstanceInfo>, StoreError>;

    /// Ids of instances that need a driver (running, with a timer or deadline due by `due_by_ms` on the
    /// runs' logical clock, or not ended with events in their inbox not yet taken) and that nobody holds, or whose
    /// holder's lease ran out before `now_ms` (real time): most overdue first, at most `limit`.
    fn ready(&self, due_by_ms: u64, now_ms: u64, limit: usize) -> Result<Vec<String>, StoreError>;

    /// Ids, after `after` in id order, of instances with outbox events a sink has not acknowledged (see
    /// [`Store::unacked`]), held or not (a driver that crashed after a commit still holds what it left
    /// until its lease runs out): at most `limit`. What a server publishes again when it starts: an ended
    /// instance is never [`Store::ready`] again, and a waiting one may not be for days.
    fn unpublished(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError>;

    /// The blob stored under `digest`, if any.
    fn blob(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Whether a blob is stored under `digest`, without reading it.
    fn has_blob(&self, digest: &str) -> Result<bool, StoreError>;

    /// Delete instance `id` with its history, outbox, inbox, cursors and dead letters, and the blobs no
    /// other instance is pinned to.
    ///
    /// Errors: [`StoreError::NotEnded`] for a run that has not ended; [`StoreError::Held`];
    /// [`StoreError::NotFound`].
    fn delete(&self, id: &str, now_ms: u64) -> Result<(), StoreError>;

    /// Delete every instance that ended before `ended_before_ms` (by its last change) and that nobody
    /// holds, as [`Store::delete`] does, at most `limit` of them; what was deleted.
    fn prune(&self, ended_before_ms: u64, now_ms: u64, limit: usize) -> Result<Pruned, StoreError>;
}

/// How many commits' history [`each_history`] reads at a time.
pub const HISTORY_PAGE: usize = 500;

/// Call `visit` with every history entry of `id`, in order, reading [`HISTORY_PAGE`] commits at a time;
/// stop early when `visit` says false.
///
/// Errors: the store's ([`StoreError::NotFound`] for an unknown id).
/// Whether `result` of one creation of [`Store::create_many`] ends the batch: a failure other than a
/// [`StoreError::Duplicate`] (which creates nothing, and is an answer rather than a failure).
pub fn ends_a_batch<T>(result: &Result<T, StoreError>) -> bool {
    result.as_ref().is_err_and(|e| !matches!(e, StoreError::Duplicate { .. }))
}

pub fn each_history(
    store: &dyn Store,
    id: &str,
    mut visit: impl FnMut(HistoryEntry) -> bool,
) -> Result<(), StoreError> {
    let mut after = Some(0);
    while let Some(from) = after {
        let (entries, next) = store.history(id, from, HISTORY_PAGE)?;
        for entry in entries {
            if !visit(entry) {
                return Ok(());
            }
        }
        after = next;
    }
    Ok(())
}
