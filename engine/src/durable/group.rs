//! Group commit (docs/serving.md, "Group commit"): the commits of many instances that end a superstep at
//! about the same time — and the lease acquisitions and releases around them — go to the store together,
//! in one transaction and one fsync ([`Store::write_many`]), each fenced on its own lease and revision,
//! so that one refused commit does not undo the others.
//!
//! The scheme is the classic leader/follower one of databases' write-ahead logs: a driver thread that
//! commits queues its commit; if no batch is being written it becomes the leader, takes everything
//! queued, writes it and hands each thread its result, waking each alone; threads that queued meanwhile
//! wait, and the oldest of them is woken to lead the next batch. With one thread it is a plain commit; with many, the batch grows
//! with the time an fsync takes, which is what lets a server go past one fsync per superstep.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::runner::{HistoryEntry, RunState};
use crate::store::{Checkpoint, Commit, Committed, Lease, OutboxEvent, Store, StoreError, Write, Written};

/// A commit whose parts it owns, so that another thread can write it.
#[derive(Debug, Clone)]
pub struct OwnedCommit {
    /// Instance id.
    pub id: String,
    /// The lease it is committed under.
    pub lease: Lease,
    /// The revision it follows.
    pub expected_revision: u64,
    /// The run state after the change.
    pub state: RunState,
    /// Its history records.
    pub history: Vec<HistoryEntry>,
    /// Its outbox events.
    pub outbox: Vec<OutboxEvent>,
    /// Sinks' acknowledgements: `(sink, up to this outbox position)`.
    pub acks: Vec<(String, u64)>,
    /// The driver's logical clock, ms since the Unix epoch.
    pub now_ms: u64,
    /// The state and history encoded ahead, if they were.
    pub encoded: Option<crate::store::Encoded>,
}

impl OwnedCommit {
    /// The commit, borrowed.
    pub fn commit(&self) -> Commit<'_> {
        Commit {
            id: &self.id,
            lease: &self.lease,
            expected_revision: self.expected_revision,
            checkpoint: Checkpoint {
                state: &self.state,
                history: &self.history,
                outbox: &self.outbox,
                acks: &self.acks,
                now_ms: self.now_ms,
                encoded: self.encoded.as_ref(),
            },
        }
    }
}

/// A write whose parts it owns.
pub enum OwnedWrite {
    /// A commit.
    Commit(Box<OwnedCommit>),
    /// Creating an instance.
    Create(Box<super::start::OwnedNew>),
    /// Taking a lease: instance id, owner, now and until (ms since the Unix epoch, real time).
    Acquire(String, String, u64, u64),
    /// Letting go of a lease: instance id and the lease.
    Release(String, Lease),
}

impl OwnedWrite {
    /// The write, borrowed.
    pub fn write(&self) -> Write<'_> {
        match self {
            OwnedWrite::Create(new) => Write::Create(new.new_instance()),
            OwnedWrite::Commit(c) => Write::Commit(c.commit()),
            OwnedWrite::Acquire(id, owner, now_ms, until_ms) => {
                Write::Acquire { id, owner, now_ms: *now_ms, until_ms: *until_ms }
            }
            OwnedWrite::Release(id, lease) => Write::Release { id, lease },
        }
    }
}

/// What a thread that queued a write is told, through its own [`Waiter`].
enum Told {
    /// Nothing yet: keep waiting.
    Wait,
    /// Lead: write the next batch.
    Lead,
    /// Written: the result, and the write given back.
    Done(Result<Written, StoreError>, OwnedWrite),
}

/// A thread waiting for its write: woken alone (never all waiters at once, which would wake every thread
/// to find, for most, that its write is not written yet).
struct Waiter {
    thread: std::thread::Thread,
    told: Mutex<Told>,
}

impl Waiter {
    fn tell(&self, told: Told) {
        *self.told.lock().unwrap_or_else(|e| e.into_inner()) = told;
        self.thread.unpark();
    }

    /// Wait until told to lead or that the write is done.
    fn wait(&self) -> Told {
        loop {
            let told = std::mem::replace(&mut *self.told.lock().unwrap_or_else(|e| e.into_inner()), Told::Wait);
            if !matches!(told, Told::Wait) {
                return told;
            }
            // An unpark that came before this park makes it return at once; a spurious return loops.
            std::thread::park();
        }
    }
}

/// What waits to be written.
#[derive(Default)]
struct Queue {
    /// Writes not yet taken by a leader, with who waits for each, oldest first.
    pending: VecDeque<(Arc<Waiter>, OwnedWrite)>,
    /// Whether a thread leads (writes batches).
    leading: bool,
}

/// Batches the writes of concurrent threads into [`Store::write_many`] calls.
pub struct GroupCommit {
    store: Arc<dyn Store>,
    queue: Mutex<Queue>,
    /// The most commits one batch takes.
    max_batch: usize,
    batches: AtomicU64,
    commits: AtomicU64,
}

/// Batches written and writes in them, since the start: what a benchmark reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Transactions written.
    pub batches: u64,
    /// Writes in them (commits, lease acquisitions and releases).
    pub commits: u64,
}

impl GroupCommit {
    /// Group commits to `store`, at most `max_batch` (at least 1) per transaction.
    pub fn new(store: Arc<dyn Store>, max_batch: usize) -> GroupCommit {
        GroupCommit {
            store,
            queue: Mutex::default(),
            max_batch: max_batch.max(1),
            batches: AtomicU64::new(0),
            commits: AtomicU64::new(0),
        }
    }

    /// Batches written and commits in them so far.
    pub fn stats(&self) -> GroupStats {
        GroupStats { batches: self.batches.load(Ordering::Relaxed), commits: self.commits.load(Ordering::Relaxed) }
    }

    /// Commit `commit` with whatever other threads write at about the same time; its result, with the
    /// commit given back (its outbox is what to publish next).
    ///
    /// Errors: as [`Store::commit`], for this commit alone (another's refusal does not make it fail); a
    /// transaction the store gave up fails every write in it.
    pub fn commit(&self, commit: OwnedCommit) -> Result<(Committed, OwnedCommit), StoreError> {
        match self.write(OwnedWrite::Commit(Box::new(commit))) {
            (Ok(Written::Committed(c)), OwnedWrite::Commit(back)) => Ok((c, *back)),
            (Err(e), _) => Err(e),
            _ => Err(unexpected()),
        }
    }

    /// [`Store::acquire`], written with whatever other threads write at about the same time.
    ///
    /// Errors: as [`Store::acquire`].
    pub fn acquire(&self, id: &str, owner: &str, now_ms: u64, until_ms: u64) -> Result<Lease, StoreError> {
        match self.write(OwnedWrite::Acquire(id.into(), owner.into(), now_ms, until_ms)).0? {
            Written::Acquired(lease) => Ok(lease),
            _ => Err(unexpected()),
        }
    }

    /// [`Store::create`] of `new`, written with whatever other threads write at about the same time.
    ///
    /// Errors: as [`Store::create`].
    pub fn create(&self, new: super::start::OwnedNew) -> Result<(Lease, super::start::OwnedNew), StoreError> {
        match self.write(OwnedWrite::Create(Box::new(new))) {
            (Ok(Written::Created(lease)), OwnedWrite::Create(back)) => Ok((lease, *back)),
            (Err(e), _) => Err(e),
            _ => Err(unexpected()),
        }
    }

    /// [`Store::release`] of each of `leases` (`(instance id, lease)`), queued together: one result each.
    pub fn release_all(&self, leases: Vec<(String, Lease)>) -> Vec<Result<(), StoreError>> {
        let writes = leases.into_iter().map(|(id, lease)| OwnedWrite::Release(id, lease)).collect();
        self.write_all(writes)
            .into_iter()
            .map(|(result, _)| match result? {
                Written::Released => Ok(()),
                _ => Err(unexpected()),
            })
            .collect()
    }

    /// [`Store::release`], written with whatever other threads write at about the same time.
    ///
    /// Errors: as [`Store::release`].
    pub fn release(&self, id: &str, lease: &Lease) -> Result<(), StoreError> {
        match self.write(OwnedWrite::Release(id.into(), lease.clone())).0? {
            Written::Released => Ok(()),
            _ => Err(unexpected()),
        }
    }

    /// Write `write` with whatever other threads write at about the same time: its result, and the write
    /// given back.
    pub fn write(&self, write: OwnedWrite) -> (Result<Written, StoreError>, OwnedWrite) {
        let mut all = self.write_all(vec![write]);
        all.pop().unwrap_or_else(|| (Err(unexpected()), OwnedWrite::Acquire(String::new(), String::new(), 0, 0)))
    }

    /// [`GroupCommit::write`] of each of `writes`, queued together (in order, in one batch or in batches
    /// that follow each other): their results, each with its write given back, in order.
    pub fn write_all(&self, writes: Vec<OwnedWrite>) -> Vec<(Result<Written, StoreError>, OwnedWrite)> {
        // Nothing to write must not take the lead: nobody would hand it on.
        if writes.is_empty() {
            return Vec::new();
        }
        let waiters: Vec<Arc<Waiter>> = writes
            .iter()
            .map(|_| Arc::new(Waiter { thread: std::thread::current(), told: Mutex::new(Told::Wait) }))
            .collect();
        let mut lead = {
            let mut queue = self.lock();
            queue.pending.extend(waiters.iter().cloned().zip(writes));
            !std::mem::replace(&mut queue.leading, true)
        };
        // In order: a later write is told to lead only once the earlier ones were taken into batches, and
        // the thread that took them tells each its result.
        let mut done = Vec::with_capacity(waiters.len());
        for waiter in &waiters {
            if !lead && let Told::Done(result, write) = waiter.wait() {
                done.push((result, write));
                continue;
            }
            done.push(self.lead(waiter));
            lead = false;
        }
        done
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lead: write batches of what is queued until `me`'s write is written, then hand the lead to the
    /// oldest thread still waiting, if any. `me`'s result, and its write given back.
    fn lead(&self, me: &Arc<Waiter>) -> (Result<Written, StoreError>, OwnedWrite) {
        loop {
            let batch: Vec<(Arc<Waiter>, OwnedWrite)> = {
                let mut queue = self.lock();
                let take = queue.pending.len().min(self.max_batch);
                queue.pending.drain(..take).collect()
            };
            let writes: Vec<Write<'_>> = batch.iter().map(|(_, w)| w.write()).collect();
            // A panic in the store must not leave the others waiting for a leader that is gone.
            let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.store.write_many(&writes)))
                .unwrap_or_default();
            drop(writes);
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.commits.fetch_add(batch.len() as u64, Ordering::Relaxed);
            let mine_in_batch = batch.iter().any(|(waiter, _)| Arc::ptr_eq(waiter, me));
            if mine_in_batch {
                // The next batch starts before this one's threads are woken.
                let mut queue = self.lock();
                match queue.pending.front() {
                    Some((next, _)) => next.tell(Told::Lead),
                    None => queue.leading = false,
                }
            }
            let mut mine = None;
            let mut results = results.into_iter();
            for (waiter, write) in batch {
                let result = results.next().unwrap_or_else(|| Err(unexpected()));
                if Arc::ptr_eq(&waiter, me) {
                    mine = Some((result, write));
                } else {
                    waiter.tell(Told::Done(result, write));
                }
            }
            if let Some(mine) = mine {
                return mine;
            }
        }
    }
}

/// The error of a store that answered a write with nothing, or with another write's kind of answer.
fn unexpected() -> StoreError {
    StoreError::Backend("the store answered a write of a batch with no result, or another's".into())
}
