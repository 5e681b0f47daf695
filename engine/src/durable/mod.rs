//! Durable runs (docs/durability.md): a [`Run`] driven against a [`Store`].
//!
//! **One commit path.** Every way a run changes — its start, a superstep, a wake-up, a delivered event, a
//! rebind, a cancel — ends in one [`Checkpoint`]: the run's state, the change's history records, and its
//! outbox events, each with its topic and sink. The store takes exactly that, fenced on the driver's
//! lease and the revision it follows; only after the commit does the [`Relay`] publish the events.
//! `weft run --in-memory` is the same driver on a [`MemoryStore`](crate::store::memory::MemoryStore).
//!
//! **One replay rule.** A checkpoint whose status is `running` may have had a superstep in flight when
//! its driver died. A driver that opens it first runs exactly that superstep, at the checkpoint's own
//! logical time, firing only what was due at that time and taking no sent event; only then does it wake
//! the run up (its time becomes now, due timers fire, awaits past their deadline time out) and accept a
//! sent event. So the re-run superstep is the same superstep: same invocation ids (the idempotency keys
//! steps pass on), same time, same random numbers.
//!
//! **Leases.** A driver holds an instance under a lease ([`lease`]): a commit made after the lease was
//! taken over is refused, so two drivers never both advance an instance.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use weft_engine::{durable::Driver, load::{Runtime, RuntimeConfig}, runner::SystemClock};
//! # use weft_engine::store::{Store, sqlite::{SqliteStore, Durability}};
//! # let runtime = Runtime::new(RuntimeConfig::default())?;
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::open("weft.db".as_ref(), Durability::Full)?);
//! let driver = Driver::new(store, &runtime, &SystemClock);
//! let mut held = driver.open("T-1001")?;
//! let mut relay = driver.relay(&held, std::io::stdout());
//! driver.drive(&mut held, &mut relay)?;
//! driver.finish(&held, relay)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod deploy;
pub mod group;
pub mod lease;
mod pinned;
mod start;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use weft_definitions::DefinitionError;

use crate::blob::Blob;
use crate::load::{Process, Runtime};
use crate::runner::layout::Layout;
use crate::runner::{Clock, Effects, EventRecord, HistoryEntry, HistoryRecord, NotAwaited, Run, Status, UnknownInput};
use crate::sinks::cloudevents::to_json;
use crate::sinks::relay::{Relay, WebhookReport, sink_key};
use crate::store::{
    Appended, Checkpoint, Commit, Inbound, InboxKind, InstanceInfo, OutboxEvent, Pinned, Store, StoreError,
};
pub use lease::{DEFAULT_LEASE, Hold, LEASE_VAR, Leases};
pub use start::{MAX_INSTANCE_ID, Start, check_instance_id};

/// How many outbox or inbox events a driver reads at a time.
const OUTBOX_PAGE: usize = 1000;

/// The CloudEvent `source` of the cancel requests [`Driver::cancel`] makes.
pub const CANCEL_SOURCE: &str = "weft:driver";

/// Drives durable runs of one store.
pub struct Driver<'a> {
    store: Arc<dyn Store>,
    runtime: &'a Runtime,
    clock: &'a dyn Clock,
    leases: Arc<Leases>,
    history: bool,
    /// The processes instances are pinned to, loaded once each ([`Driver::pinned_process`]).
    pinned: pinned::Loaded,
    /// Commits of concurrent threads batched, when set ([`Driver::with_group_commit`]).
    group: Option<Arc<group::GroupCommit>>,
    /// Whether runs make their instances ahead of need ([`Driver::with_warming`]).
    warming: bool,
}

/// A durable run held by a [`Driver`]: the run, what the store says of it, the revision of its last
/// checkpoint, its last outbox position, and the hold on its lease (let go when dropped).
pub struct Instance {
    run: Run,
    info: InstanceInfo,
    revision: u64,
    outbox_len: u64,
    /// The inbox's length as the last commit or load saw it.
    inbox_len: u64,
    hold: Hold,
}

/// An event the run took from its inbox: its position, and why it was refused, if it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// Its position in the inbox.
    pub seq: u64,
    /// Why it was refused (it changed nothing else then).
    pub refused: Option<String>,
}

/// The CloudEvent identity of an event for an instance: what makes a duplicate (CloudEvents 1.0.2,
/// section 3.1.1).
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The CloudEvent `source`.
    pub source: &'a str,
    /// The CloudEvent `id`.
    pub id: &'a str,
}

/// Why a durable operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The pinned definition or a pinned component does not load (e.g. with this version of Weft).
    #[error("the run's pinned definition does not load: {0}")]
    Pinned(DefinitionError),
    /// The input event is not one the process accepts.
    #[error(transparent)]
    Input(#[from] UnknownInput),
    /// The run does not await the event sent.
    #[error(transparent)]
    NotAwaited(#[from] NotAwaited),
    /// A new instance's id cannot be used ([`check_instance_id`]).
    #[error("{0}")]
    InstanceId(String),
    /// The run has ended; nothing of it runs again.
    #[error("process instance \"{instance}\" has already ended ({status}); nothing of it runs again")]
    Ended {
        /// Instance id.
        instance: String,
        /// Its final status.
        status: String,
    },
    /// No instance of the process awaits the event with that correlation key.
    #[error("no instance of process \"{process}\" awaits \"{event}\" with the key \"{key}\"")]
    NotCorrelated {
        /// Process name.
        process: String,
        /// The event type.
        event: String,
        /// The key.
        key: String,
    },
    /// Several instances await the event with that correlation key: it goes to none of them.
    #[error(
        "several instances of process \"{process}\" await \"{event}\" with the key \"{key}\" ({}); send it to one \
         of them by its id",
        instances.join(", ")
    )]
    Ambiguous {
        /// Process name.
        process: String,
        /// The event type.
        event: String,
        /// The key.
        key: String,
        /// Some of the instances.
        instances: Vec<String>,
    },
    /// The checkpoint does not fit the pinned process: the store is damaged.
    #[error("the checkpoint of process instance \"{instance}\" does not fit its process: {why}")]
    Mismatch {
        /// Instance id.
        instance: String,
        /// What does not fit.
        why: String,
    },
    /// The run cannot be rebound to the new version.
    #[error("process instance \"{instance}\" cannot be upgraded: {changes}; it stays on the version it is pinned to")]
    Incompatible {
        /// Instance id.
        instance: String,
        /// What changed that the run cannot survive.
        changes: String,
    },
    /// A sink refused a public event (it stays unacknowledged and is published again next time).
    #[error("cannot publish an event: {0}")]
    Publish(String),
}

impl<'a> Driver<'a> {
    /// A driver of `store`, loading components through `runtime`, taking the runs' logical time from
    /// `clock`, holding instances under leases of [`DEFAULT_LEASE`] and recording history.
    pub fn new(store: Arc<dyn Store>, runtime: &'a Runtime, clock: &'a dyn Clock) -> Self {
        let leases = Leases::new(store.clone(), DEFAULT_LEASE);
        Driver {
            store,
            runtime,
            clock,
            leases,
            history: true,
            pinned: pinned::Loaded::default(),
            group: None,
            warming: false,
        }
    }

    /// The same driver committing the supersteps (and the lease acquisitions and releases) of threads that
    /// write at about the same time together, at most `max_batch` in one transaction ([`group`]): what a
    /// server driving many instances on several threads uses.
    pub fn with_group_commit(mut self, max_batch: usize) -> Self {
        let group = Arc::new(group::GroupCommit::new(self.store.clone(), max_batch));
        self.leases.group_with(group.clone());
        self.group = Some(group);
        self
    }

    /// Transactions and commits written through group commit so far (zero without it).
    pub fn group_stats(&self) -> group::GroupStats {
        self.group.as_ref().map(|g| g.stats()).unwrap_or_default()
    }

    /// The same driver holding instances under leases of `period` instead.
    pub fn with_lease(self, period: Duration) -> Self {
        let leases = if self.leases.renews() {
            Leases::new(self.store.clone(), period)
        } else {
            Leases::unrenewed(self.store.clone(), period)
        };
        self.holding_with(leases)
    }

    /// The same driver never renewing its leases ([`Leases::unrenewed`]): only for a store that no other
    /// driver reaches, such as the in-memory store of one `weft run`.
    pub fn without_renewal(self) -> Self {
        let leases = Leases::unrenewed(self.store.clone(), self.leases.period());
        self.holding_with(leases)
    }

    /// The same driver holding instances with `leases`, written through its group commit if it has one.
    fn holding_with(mut self, leases: Arc<Leases>) -> Self {
        if let Some(group) = &self.group {
            leases.group_with(group.clone());
        }
        self.leases = leases;
        self
    }

    /// The same driver recording no history (an in-memory run, whose store nobody reads afterwards).
    pub fn without_history(mut self) -> Self {
        self.history = false;
        self
    }

    /// The same driver having each run it starts or drives make its components' instances ahead of need,
    /// on a thread of its own, from a fresh run's start or a resumed run's first superstep on
    /// ([`crate::runner::warm`]; a resumed run that only waits makes none): for a command that drives one
    /// instance and ends, whose second core would otherwise wait.
    pub fn with_warming(mut self) -> Self {
        self.warming = true;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The runtime that loads and runs components.
    pub fn runtime(&self) -> &Runtime {
        self.runtime
    }

    /// Its lease keeper.
    pub fn leases(&self) -> &Arc<Leases> {
        &self.leases
    }

    /// Now on the runs' logical clock, ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Ids of the instances that need a driver now (see [`Store::ready`]): due by the runs' clock, and
    /// free by the leases' (the machine's).
    ///
    /// Errors: the store's.
    pub fn ready(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let (now, _) = self.leases.until();
        self.store.ready(self.clock.now_ms(), now, limit)
    }

    /// Ids, after `after`, of instances with events a sink has not acknowledged, at most `limit`
    /// ([`Store::unpublished`]): what a server publishes again when it starts.
    ///
    /// Errors: the store's.
    pub fn unpublished(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.store.unpublished(after, limit)
    }

    /// The relay that publishes `instance`'s events: its process's sinks, the rest to `out`.
    pub fn relay<W: Write>(&self, instance: &Instance, out: W) -> Relay<W> {
        Relay::new(instance.run.process(), self.store.clone(), &instance.info.id, out)
    }

    /// Take hold of instance `id` and load it as it was last committed, on the definition and components
    /// it is pinned to, to go on with it ([`Driver::drive`]). An ended run is opened only to publish what
    /// its sinks never acknowledged.
    ///
    /// Errors: [`StoreError::NotFound`]; [`StoreError::Held`] while another driver holds it and renews its
    /// lease (one that does not is waited out, at most one lease period); [`DurableError::Ended`] for a run
    /// that has ended with nothing left to publish; [`DurableError::Pinned`] and [`DurableError::Mismatch`]
    /// for a store this Weft cannot run.
    pub fn open(&self, id: &str) -> Result<Instance, DurableError> {
        let instance = self.open_any(id)?;
        let state = instance.run.state();
        if state.status.is_final() && self.store.unacked(id, 0, 1)?.is_empty() {
            return Err(DurableError::Ended { instance: id.into(), status: state.status.name().into() });
        }
        Ok(instance)
    }

    /// Open instance `id` to change it: as [`Driver::open`], but an ended run is refused.
    ///
    /// Errors: as [`Driver::open`]; [`DurableError::Ended`] for any run that has ended.
    pub fn open_running(&self, id: &str) -> Result<Instance, DurableError> {
        let instance = self.open_any(id)?;
        let status = &instance.run.state().status;
        if status.is_final() {
            return Err(DurableError::Ended { instance: id.into(), status: status.name().into() });
        }
        Ok(instance)
    }

    /// Open instance `id` whatever its status (to redeliver its dead letters, say).
    ///
    /// Errors: as [`Driver::open`], without [`DurableError::Ended`].
    pub fn open_any(&self, id: &str) -> Result<Instance, DurableError> {
        // Hold first, then read: nobody can commit between the read and this driver's first commit.
        let hold = self.leases.take(id)?;
        let loaded = self.store.load(id)?;
        let process = self.pinned_process(&loaded.info)?;
        let mut run =
            Run::resume(process, loaded.state).map_err(|why| DurableError::Mismatch { instance: id.into(), why })?;
        run.record_history(self.history);
        let revision = loaded.info.revision;
        let (outbox_len, inbox_len) = (loaded.outbox_len, loaded.inbox_len);
        Ok(Instance { run, info: loaded.info, revision, outbox_len, inbox_len, hold })
    }

    /// Publish what the instance's sinks never acknowledged, re-run the superstep a crash may have left in
    /// flight (the replay rule), wake the run up and take what waits in its inbox, then run supersteps until
    /// it is no longer running, committing after each and publishing its events after the commit; events
    /// that arrive in the inbox meanwhile are taken at superstep boundaries, and once more before it stops.
    /// What it took from the inbox, in order.
    ///
    /// Errors: the store's (the run stays as last committed; [`StoreError::LeaseLost`] when another driver
    /// took it over); [`DurableError::Publish`].
    pub fn drive<W: Write>(&self, instance: &mut Instance, relay: &mut Relay<W>) -> Result<Vec<Taken>, DurableError> {
        self.drive_for(instance, relay, u64::MAX)
    }

    /// [`Driver::drive`], but yielding after `supersteps` supersteps: a run not ended then (running, or
    /// waiting with a timer that may be due already) is left with its checkpoint saying so, and the next
    /// driver goes on with it (what a server does, so that no instance starves the others).
    ///
    /// Errors: as [`Driver::drive`].
    pub fn drive_for<W: Write>(
        &self,
        instance: &mut Instance,
        relay: &mut Relay<W>,
        supersteps: u64,
    ) -> Result<Vec<Taken>, DurableError> {
        self.relay_unacked(instance, relay)?;
        let settled = self.settle(instance, relay)?;
        // A superstep just committed moved the run's time to its clock reading: that is the run's now, and
        // reading the clock again would only cost a commit of the milliseconds since.
        let now = if settled { instance.run.state().time_ms } else { self.clock.now_ms() };
        let mut ran = u64::from(settled);
        let mut taken = self.wake(instance, relay, now)?;
        loop {
            if instance.inbox_len > instance.run.state().inbox_taken {
                taken.extend(self.take_inbox(instance, relay)?);
            }
            // Not only a running run: a waiting one may have a timer due already, which the next step fires.
            if ran >= supersteps && !instance.run.state().status.is_final() {
                return Ok(taken);
            }
            if self.step(instance, relay)? {
                ran += 1;
                continue;
            }
            // Before stopping: what arrived since the last commit is taken now, not left for the next driver.
            let after = instance.run.state().inbox_taken;
            match self.store.inbox(&instance.info.id, after, 1)?.first() {
                Some(next) => instance.inbox_len = instance.inbox_len.max(next.seq),
                None => return Ok(taken),
            }
        }
    }

    /// Receive an event for instance `id` into its inbox (the CLI's `weft send` and `weft cancel`, and a
    /// server's ingress). An event with the same `source` and `id` received before is a duplicate, whatever
    /// became of it: nothing is appended, and where it went is said. Otherwise it is checked against the
    /// instance's last checkpoint — a run that has ended takes nothing, and an event it does not await by
    /// the driver's clock (no open await of it, or only ones whose deadline has passed) is refused — then
    /// appended. Whoever holds the instance takes it at its next superstep boundary.
    ///
    /// Errors: [`StoreError::NotFound`]; [`DurableError::Ended`]; [`DurableError::NotAwaited`].
    pub fn receive(&self, id: &str, event: &Inbound<'_>) -> Result<Appended, DurableError> {
        if let Some((instance, seq)) = self.store.received(event.source, event.id)? {
            return Ok(Appended::Duplicate { instance, seq });
        }
        let loaded = self.store.load(id)?;
        let status = &loaded.state.status;
        if status.is_final() {
            return Err(DurableError::Ended { instance: id.into(), status: status.name().into() });
        }
        if event.kind == InboxKind::Event {
            loaded.state.awaited(event.event_type, Some(self.clock.now_ms()))?;
        }
        // It may have ended after it was read above.
        self.store.append_inbox(id, event).map_err(ended)
    }

    /// Receive `event`, addressed to process `process` with correlation key `key`, into the inbox of the
    /// one instance of the process with an open await of the event under that key (see
    /// [`Driver::receive`]); the instance's id and what was appended. A duplicate of an event received
    /// before is recognised first.
    ///
    /// Errors: [`DurableError::NotCorrelated`] when no instance awaits it; [`DurableError::Ambiguous`] when
    /// several do; as [`Driver::receive`].
    pub fn receive_correlated(
        &self,
        process: &str,
        key: &str,
        event: &Inbound<'_>,
    ) -> Result<(String, Appended), DurableError> {
        if let Some((instance, seq)) = self.store.received(event.source, event.id)? {
            return Ok((instance.clone(), Appended::Duplicate { instance, seq }));
        }
        let mut awaiting = self.store.correlated(process, event.event_type, key, 3)?;
        let (process, event_type, key) = (process.to_owned(), event.event_type.to_owned(), key.to_owned());
        match awaiting.len() {
            0 => Err(DurableError::NotCorrelated { process, event: event_type, key }),
            1 => {
                let instance = awaiting.remove(0);
                let appended = self.receive(&instance, event)?;
                Ok((instance, appended))
            }
            _ => Err(DurableError::Ambiguous { process, event: event_type, key, instances: awaiting }),
        }
    }

    /// Cancel the held instance, as a cancel request through its inbox: it ends as cancelled (after the
    /// replay rule re-ran a superstep left in flight), committed, and nothing of it runs afterwards; what it
    /// committed before is published.
    ///
    /// Errors: [`DurableError::Ended`]; as [`Driver::drive`].
    pub fn cancel<W: Write>(&self, instance: &mut Instance, relay: &mut Relay<W>) -> Result<(), DurableError> {
        let id = uuid::Uuid::new_v4().to_string();
        let request = Inbound::cancel(CANCEL_SOURCE, &id, self.clock.now_ms());
        if let Appended::New(seq) = self.store.append_inbox(&instance.info.id, &request).map_err(ended)? {
            instance.inbox_len = instance.inbox_len.max(seq);
        }
        self.drive(instance, relay).map(drop)
    }

    /// Offer the held instance's dead letters to their sinks again; how many.
    ///
    /// Errors: the store's; a dead letter whose topic has no webhook sink any more.
    pub fn redeliver<W: Write>(&self, instance: &Instance, relay: &mut Relay<W>) -> Result<usize, DurableError> {
        let id = &instance.info.id;
        let mut events = Vec::new();
        for letter in self.store.dead_letters(id)? {
            events.extend(self.store.outbox(id, letter.seq - 1, 1)?);
        }
        relay.redeliver(&events).map_err(DurableError::Publish)?;
        Ok(events.len())
    }

    /// Finish publishing the held instance's events: wait for its webhooks (each commits what it
    /// acknowledges; the instance stays held meanwhile), and commit what else its sinks acknowledged.
    /// What each webhook did, by topic. The instance is let go of when it is dropped.
    ///
    /// Errors: the store's (what was not recorded as acknowledged is published again next time).
    pub fn finish<W: Write>(
        &self,
        instance: &Instance,
        mut relay: Relay<W>,
    ) -> Result<Vec<WebhookReport>, DurableError> {
        let reports = relay.finish_webhooks();
        for (sink, seq) in relay.take_acks() {
            self.store.ack(&instance.info.id, &sink, seq)?;
        }
        Ok(reports)
    }

    /// Publish, a page at a time, the outbox events of the instance that their sinks never acknowledged.
    fn relay_unacked<W: Write>(&self, instance: &Instance, relay: &mut Relay<W>) -> Result<(), DurableError> {
        let mut after = 0;
        loop {
            let page = self.store.unacked(&instance.info.id, after, OUTBOX_PAGE)?;
            let Some(last) = page.last() else { return Ok(()) };
            after = last.seq;
            relay.publish(&page).map_err(DurableError::Publish)?;
        }
    }

    /// The replay rule: a run whose checkpoint says `running` may have had a superstep in flight; run
    /// exactly that superstep, at the checkpoint's time, before anything else happens to the run.
    /// Whether it ran a superstep.
    fn settle<W: Write>(&self, instance: &mut Instance, relay: &mut Relay<W>) -> Result<bool, DurableError> {
        if instance.run.state().status == Status::Running {
            return self.step(instance, relay);
        }
        Ok(false)
    }

    /// Wake the run up: its time becomes `now` (ms since the Unix epoch), what is due by then fires, and it
    /// takes what waits in its inbox, committed in one commit before any further superstep (so that a
    /// superstep re-run after a crash sees the time, the fired timers and the taken events it saw the first
    /// time).
    fn wake<W: Write>(
        &self,
        instance: &mut Instance,
        relay: &mut Relay<W>,
        now: u64,
    ) -> Result<Vec<Taken>, DurableError> {
        let before = instance.run.state().time_ms;
        let fired = instance.run.fire_due(now);
        let taken = self.take_waiting(instance)?;
        if fired || !taken.is_empty() || instance.run.state().time_ms != before {
            let effects = instance.run.take_effects();
            // Read again: the commit is not earlier than the inbox events it takes were received.
            self.commit(instance, effects, relay, self.clock.now_ms())?;
        }
        Ok(taken)
    }

    /// Take what waits in the inbox at a superstep boundary, committed before the next superstep.
    fn take_inbox<W: Write>(&self, instance: &mut Instance, relay: &mut Relay<W>) -> Result<Vec<Taken>, DurableError> {
        let taken = self.take_waiting(instance)?;
        if !taken.is_empty() {
            let effects = instance.run.take_effects();
            self.commit(instance, effects, relay, self.clock.now_ms())?;
        }
        Ok(taken)
    }

    /// Read, a page at a time, the inbox events the run has not taken, and let it take each (not committed).
    fn take_waiting(&self, instance: &mut Instance) -> Result<Vec<Taken>, DurableError> {
        let mut taken = Vec::new();
        loop {
            let after = instance.run.state().inbox_taken;
            let page = self.store.inbox(&instance.info.id, after, OUTBOX_PAGE)?;
            if page.is_empty() {
                return Ok(taken);
            }
            for event in page {
                let sent = (event.kind == InboxKind::Event).then_some((event.event_type.as_str(), event.data.as_str()));
                let refused = instance.run.take_inbox(event.seq, &event.source, &event.id, sent);
                instance.inbox_len = instance.inbox_len.max(event.seq);
                taken.push(Taken { seq: event.seq, refused });
            }
        }
    }

    /// Fire what is due at the run's own time; if the run is running, run one superstep, move its time to
    /// now and commit; else commit what fired, if anything. Whether a superstep ran.
    fn step<W: Write>(&self, instance: &mut Instance, relay: &mut Relay<W>) -> Result<bool, DurableError> {
        let fired = instance.run.fire_due(instance.run.state().time_ms);
        if instance.run.state().status != Status::Running {
            // Timers and timeouts that fired without waking the run (a timeout into `stop`, or into
            // nothing) change it all the same: keep that.
            if fired {
                let effects = instance.run.take_effects();
                self.commit(instance, effects, relay, self.clock.now_ms())?;
            }
            return Ok(false);
        }
        if self.warming {
            instance.run.warm_up();
        }
        let effects = instance.run.superstep();
        // One clock read per superstep: the commit records the reading that moved the run's time on.
        let now = self.clock.now_ms();
        instance.run.advance_time(now);
        self.commit(instance, effects, relay, now)?;
        Ok(true)
    }

    /// The one commit path: the run's state with `effects` (history, and its public and topic events as
    /// outbox rows) and what the relay's sinks acknowledged since the last commit, fenced on the lease and
    /// the revision; then the new events are published. `now` (ms since the Unix epoch, the driver's
    /// clock) is the time the store records for the commit.
    fn commit<W: Write>(
        &self,
        instance: &mut Instance,
        effects: Effects,
        relay: &mut Relay<W>,
        now: u64,
    ) -> Result<(), DurableError> {
        let outbox = outbox(instance.run.process(), &instance.info.id, &effects.published, instance.outbox_len);
        let acks = relay.take_acks();
        let (committed, outbox) = match &self.group {
            Some(group) => {
                // Encoded here, on this worker's thread, not by the one writing the batch.
                let encoded = crate::store::Encoded::of(instance.run.state(), &effects.history)?;
                let owned = group::OwnedCommit {
                    encoded: Some(encoded),
                    id: instance.info.id.clone(),
                    lease: instance.hold.lease().clone(),
                    expected_revision: instance.revision,
                    state: instance.run.state().clone(),
                    history: effects.history,
                    outbox,
                    acks,
                    now_ms: now,
                };
                let (committed, owned) = group.commit(owned)?;
                (committed, owned.outbox)
            }
            None => {
                let commit = Commit {
                    id: &instance.info.id,
                    lease: instance.hold.lease(),
                    expected_revision: instance.revision,
                    checkpoint: Checkpoint {
                        state: instance.run.state(),
                        history: &effects.history,
                        outbox: &outbox,
                        acks: &acks,
                        now_ms: now,
                        encoded: None,
                    },
                };
                (self.store.commit(&commit)?, outbox)
            }
        };
        (instance.revision, instance.inbox_len) = (committed.revision, committed.inbox_len);
        instance.outbox_len += outbox.len() as u64;
        relay.publish(&outbox).map_err(DurableError::Publish)
    }

    /// Rebind the held instance to the definition file it was started from as that file (and its
    /// components) are now: [`Driver::upgrade_to`] the process loaded from it.
    ///
    /// Errors: as [`Driver::upgrade_to`]; [`DurableError::Incompatible`] saying that the files do not load.
    pub fn upgrade<W: Write>(&self, instance: &mut Instance, relay: &mut Relay<W>) -> Result<(), DurableError> {
        let file = instance.info.definition_file.clone();
        let new = self.runtime.load_process(Path::new(&file)).map_err(|e| DurableError::Incompatible {
            instance: instance.info.id.clone(),
            changes: format!("the files do not load: {e}"),
        })?;
        self.upgrade_to(instance, relay, Arc::new(new), &file)
    }

    /// Rebind the held instance to `new` (loaded from `file`), after re-running a superstep left in
    /// flight, committing the carried-over state (see [`crate::runner::rebind`]). Everything is checked
    /// before anything is committed.
    ///
    /// Errors: as [`Driver::drive`]; [`DurableError::Incompatible`] listing every change the run cannot
    /// survive (nothing changes).
    pub fn upgrade_to<W: Write>(
        &self,
        instance: &mut Instance,
        relay: &mut Relay<W>,
        new: Arc<Process>,
        file: &str,
    ) -> Result<(), DurableError> {
        self.relay_unacked(instance, relay)?;
        self.settle(instance, relay)?;
        let id = instance.info.id.clone();
        let incompatible = |changes: String| DurableError::Incompatible { instance: id.clone(), changes };
        let old = instance.run.process().clone();
        let state = crate::runner::rebind::rebind(instance.run.state(), &old, &new)
            .map_err(|changes| incompatible(changes.join("; ")))?;
        let mut run = Run::resume(new.clone(), state).map_err(incompatible)?;
        run.record_history(self.history);
        let version = Version::of(&new);
        let superstep = run.state().superstep;
        let rebound =
            HistoryRecord::Rebound { definition_digest: new.digest.clone(), components: version.components.clone() };
        let mut history = vec![HistoryEntry { superstep, record: rebound }];
        // A waiting run the new version gave a complete set of arguments runs again (runner::rebind).
        if run.state().status != instance.run.state().status {
            history
                .push(HistoryEntry { superstep, record: HistoryRecord::Status { status: run.state().status.clone() } });
        }
        let acks = relay.take_acks();
        let commit = Commit {
            id: &id,
            lease: instance.hold.lease(),
            expected_revision: instance.revision,
            checkpoint: Checkpoint {
                state: run.state(),
                history: &history,
                outbox: &[],
                acks: &acks,
                now_ms: self.clock.now_ms(),
                encoded: None,
            },
        };
        let committed = self.store.repin(&version.pinned(&new, file), &commit)?;
        (instance.revision, instance.inbox_len) = (committed.revision, committed.inbox_len);
        instance.run = run;
        instance.info.definition_file = file.into();
        instance.info.version.clone_from(&new.loaded.definition.version);
        instance.info.definition_digest.clone_from(&new.digest);
        instance.info.components = version.components;
        instance.info.layout_digest = Some(version.layout.digest().to_owned());
        relay.resink(&new, self.store.clone(), &id);
        Ok(())
    }
}

/// What pins a version of a process: its layout and its components' digests.
struct Version {
    layout: PinnedLayout,
    components: Vec<(String, String)>,
}

impl Version {
    fn of(process: &Process) -> Self {
        let components = process.pins.iter().map(|p| (p.key.clone(), p.blob.digest().to_owned())).collect();
        Version { layout: PinnedLayout::of(process), components }
    }

    /// The store's record of `process` (of which this is the version) pinned, loaded from `file`.
    fn pinned<'a>(&'a self, process: &'a Process, file: &'a str) -> Pinned<'a> {
        Pinned {
            definition_file: file,
            version: &process.loaded.definition.version,
            definition_digest: &process.digest,
            definition: process.text.as_bytes(),
            components: &self.components,
            layout_digest: self.layout.digest(),
            blobs: self.layout.blobs(process),
        }
    }
}

/// The layout a run of a process is pinned to, as the JSON text stored and its SHA-256.
struct PinnedLayout {
    blob: Blob,
}

impl PinnedLayout {
    fn of(process: &Process) -> Self {
        PinnedLayout { blob: Blob::new(Arc::from(Layout::of(process).to_json().into_bytes())) }
    }

    /// Its SHA-256, hex.
    fn digest(&self) -> &str {
        self.blob.digest()
    }

    /// Every blob a run of `process` is pinned to besides its definition: its components, its
    /// sub-processes' texts and this layout.
    fn blobs<'a>(&'a self, process: &'a Process) -> Vec<&'a Blob> {
        process.pins.iter().map(|p| &p.blob).chain(std::iter::once(&self.blob)).collect()
    }
}

/// The outbox rows of `published` (events of instance `id` of `process`), numbered after position `after`.
fn outbox(process: &Process, id: &str, published: &[EventRecord], after: u64) -> Vec<OutboxEvent> {
    published
        .iter()
        .zip(after + 1..)
        .map(|(event, seq)| OutboxEvent {
            seq,
            id: event.id.clone(),
            topic: event.topic.clone(),
            sink: sink_key(process, event.topic.as_deref()),
            json: to_json(process.name(), id, event),
        })
        .collect()
}

impl Instance {
    /// The run.
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// What the store says of it (as of when it was created or opened).
    pub fn info(&self) -> &InstanceInfo {
        &self.info
    }

    /// The revision of its last checkpoint.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The lease it is held under.
    pub fn lease(&self) -> &crate::store::Lease {
        self.hold.lease()
    }

    /// Let go of it (its lease released now, as when it is dropped) and keep its run, with the live step
    /// instances in it: for a command about to end, which leaves those to the process's end.
    pub fn release(self) -> Run {
        let Instance { run, hold, .. } = self;
        drop(hold);
        run
    }
}

/// A store's refusal of an event for an ended run as the driver's ([`DurableError::Ended`]).
fn ended(e: StoreError) -> DurableError {
    match e {
        StoreError::Ended { instance, status } => DurableError::Ended { instance, status },
        e => e.into(),
    }
}
