//! Durable runs (docs/semantics.md, "Durability"): a [`Run`] driven against a [`Store`].
//!
//! After every superstep the driver advances the run's logical time, then commits, in one transaction,
//! the checkpoint (the whole [`RunState`](crate::runner::RunState)), the superstep's history and its public
//! events (the outbox). Only after the commit does it publish those events, and the next commit marks them
//! published. A driver that starts on an instance first publishes again whatever is still unpublished,
//! and whatever a webhook never acknowledged, with the same CloudEvent `id` and `source`. So internal
//! delivery is exactly once (a superstep either committed or is re-run from the previous checkpoint),
//! and publishing is at least once, exactly once to a consumer that de-duplicates by `id`.
//!
//! A run is pinned to the definition text and component bytes it started with (kept in the store by
//! SHA-256); [`Driver::open`] loads exactly those, whatever the files on disk say now. One driver at a
//! time holds an instance: [`Store::acquire`] refuses a second while the first's process is alive.

mod owner;

use std::path::Path;
use std::sync::Arc;

use weft_definitions::DefinitionError;

use crate::data::Json;
use crate::load::{Process, Runtime};
use crate::runner::{Clock, HistoryEntry, HistoryRecord, NotAwaited, Run, Status, UnknownInput};
use crate::sinks::CloudEventSink;
use crate::sinks::cloudevents::to_json;
#[cfg(doc)]
use crate::sinks::topics::TopicSinks;
use crate::sinks::webhook::Outcome;
use crate::store::{Commit, InstanceInfo, NewInstance, Pinned, Store, StoreError};
pub use owner::{Owner, is_gone};

/// Drives durable runs of one store.
pub struct Driver<'a> {
    store: &'a dyn Store,
    runtime: &'a Runtime,
    clock: &'a dyn Clock,
    owner: String,
}

/// A durable run held by a [`Driver`]: the run, the revision of its last checkpoint, and how much of its
/// outbox has been published.
pub struct Instance {
    run: Run,
    info: InstanceInfo,
    revision: u64,
    outbox_len: u64,
    published_through: u64,
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
    /// The run has ended; nothing of it runs again.
    #[error("process instance \"{instance}\" has already ended ({status}); nothing of it runs again")]
    Ended {
        /// Instance id.
        instance: String,
        /// Its final status.
        status: String,
    },
    /// The checkpoint does not fit the pinned process: the store is damaged.
    #[error("the checkpoint of process instance \"{instance}\" does not fit its process: {why}")]
    Mismatch {
        /// Instance id.
        instance: String,
        /// What does not fit.
        why: String,
    },
    /// The run cannot be rebound to the new files.
    #[error(
        "process instance \"{instance}\" cannot be upgraded to the files as they are now: {changes}; it stays on the version it started with"
    )]
    Incompatible {
        /// Instance id.
        instance: String,
        /// What changed that the run cannot survive.
        changes: String,
    },
    /// A sink refused a public event (it stays unpublished and is published again next time).
    #[error("cannot publish an event: {0}")]
    Publish(String),
}

impl<'a> Driver<'a> {
    /// A driver of `store`, loading components through `runtime`, taking time from `clock`, holding
    /// instances as this process ([`Owner::current`]).
    pub fn new(store: &'a dyn Store, runtime: &'a Runtime, clock: &'a dyn Clock) -> Self {
        Driver { store, runtime, clock, owner: Owner::current().to_string() }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store
    }

    /// Create instance `id` of `process` (loaded from `file`), pinned to its definition and components,
    /// with input event `event_type` and `data` queued, and commit it, held by this driver. Nothing runs
    /// until [`Driver::drive`].
    ///
    /// Errors: [`DurableError::Input`] for an event the process does not accept (nothing is stored);
    /// [`StoreError::AlreadyExists`].
    pub fn start(
        &self,
        process: Arc<Process>,
        file: &Path,
        id: &str,
        event_type: &str,
        data: Json,
    ) -> Result<Instance, DurableError> {
        let now = self.clock.now_ms();
        let mut run = Run::starting_at(process.clone(), id, now);
        run.record_history(true);
        run.send(event_type, data)?;
        let effects = run.take_effects();
        let info = InstanceInfo {
            id: id.into(),
            process: process.name().into(),
            version: process.loaded.definition.version.clone(),
            status: run.state().status.name().into(),
            definition_file: file.display().to_string(),
            definition_digest: process.digest.clone(),
            components: process.pins.iter().map(|p| (p.key.clone(), p.digest.clone())).collect(),
            revision: 1,
            created_ms: now,
            updated_ms: now,
            owner: Some(self.owner.clone()),
        };
        let blobs = process.pins.iter().map(|p| (p.digest.as_str(), &*p.bytes)).collect();
        let commit = Commit {
            state: run.state(),
            history: &effects.history,
            outbox: &[],
            published_through: 0,
            now_ms: now,
            owner: &self.owner,
        };
        let new = NewInstance { info: &info, definition: process.text.as_bytes(), blobs, commit };
        self.store.create(&new)?;
        Ok(Instance { run, info, revision: 1, outbox_len: 0, published_through: 0 })
    }

    /// Take hold of instance `id` and load it as it was last committed, on the definition and components
    /// it is pinned to.
    ///
    /// Errors: [`StoreError::NotFound`]; [`StoreError::Held`] while another live process holds it;
    /// [`DurableError::Ended`] for a run that has ended and has nothing left to publish; [`DurableError::Pinned`] and
    /// [`DurableError::Mismatch`] for a store this Weft cannot run.
    pub fn open(&self, id: &str) -> Result<Instance, DurableError> {
        // Hold first, then read: nobody can commit between the read and this driver's first commit.
        self.store.acquire(id, &self.owner, &is_gone)?;
        self.open_held(id).map_err(|e| self.let_go(id, e))
    }

    fn open_held(&self, id: &str) -> Result<Instance, DurableError> {
        let loaded = self.store.load(id)?;
        // An ended run is opened only to publish what a crash left unpublished after its last commit, or
        // to deliver again what its webhooks did not acknowledge.
        let ended = loaded.state.status.is_final() && self.store.unpublished(id)?.is_empty();
        let info = loaded.info;
        let process = Arc::new(self.pinned_process(&info)?);
        if ended && self.store.undelivered(id, &process.loaded.definition.webhook_topics())?.is_empty() {
            return Err(DurableError::Ended { instance: id.into(), status: info.status });
        }
        let mut run =
            Run::resume(process, loaded.state).map_err(|why| DurableError::Mismatch { instance: id.into(), why })?;
        run.record_history(true);
        let revision = info.revision;
        Ok(Instance { run, info, revision, outbox_len: loaded.outbox_len, published_through: 0 })
    }

    /// Open instance `id` to change it: as [`Driver::open`], but an ended run is refused.
    fn open_running(&self, id: &str) -> Result<Instance, DurableError> {
        let instance = self.open(id)?;
        let status = &instance.run.state().status;
        if status.is_final() {
            let ended = DurableError::Ended { instance: id.into(), status: status.name().into() };
            return Err(self.let_go(id, ended));
        }
        Ok(instance)
    }

    /// Let go of `id` after `error` (the error that made this driver give up on it wins over one in
    /// letting go).
    fn let_go(&self, id: &str, error: DurableError) -> DurableError {
        if let Err(e) = self.store.release(id, &self.owner, 0) {
            tracing::warn!(instance = id, "could not let go of the instance: {e}");
        }
        error
    }

    /// The process instance `info` is pinned to, loaded from the store's blobs.
    ///
    /// Errors: a missing blob ([`StoreError::Damaged`]); [`DurableError::Pinned`].
    pub fn pinned_process(&self, info: &InstanceInfo) -> Result<Process, DurableError> {
        let missing = |digest: &str| StoreError::Damaged(format!("the store lacks the blob {digest}"));
        let text = self.store.blob(&info.definition_digest)?.ok_or_else(|| missing(&info.definition_digest))?;
        let text = String::from_utf8(text)
            .map_err(|_| StoreError::Damaged(format!("the definition of \"{}\" is not UTF-8", info.id)))?;
        // Steps that share a component share its blob: read each digest once.
        let mut by_digest: std::collections::HashMap<&str, Arc<[u8]>> = std::collections::HashMap::new();
        let mut components = std::collections::HashMap::new();
        for (step, digest) in &info.components {
            let bytes = match by_digest.get(digest.as_str()) {
                Some(bytes) => bytes.clone(),
                None => {
                    let bytes: Arc<[u8]> = self.store.blob(digest)?.ok_or_else(|| missing(digest))?.into();
                    by_digest.insert(digest, bytes.clone());
                    bytes
                }
            };
            components.insert(step.clone(), bytes);
        }
        self.runtime
            .load_pinned(Path::new(&info.definition_file), text, &|step| components.get(step).cloned())
            .map_err(DurableError::Pinned)
    }

    /// Publish what the instance's outbox still holds unpublished (left by a crash), then run supersteps,
    /// committing after each and publishing its events to `sink` after the commit, until the run is no
    /// longer running; then let go of it.
    ///
    /// Errors: the store's (the run stays as last committed); [`DurableError::Publish`].
    pub fn drive(&self, instance: &mut Instance, sink: &mut dyn CloudEventSink) -> Result<(), DurableError> {
        let id = instance.info.id.clone();
        let result = self.drive_held(instance, sink);
        let released = self.store.release(&id, &self.owner, instance.published_through);
        result.and(released.map_err(DurableError::from))
    }

    fn drive_held(&self, instance: &mut Instance, sink: &mut dyn CloudEventSink) -> Result<(), DurableError> {
        let id = instance.info.id.clone();
        let webhook_topics = instance.run.process().loaded.definition.webhook_topics();
        let undelivered = self.store.undelivered(&id, &webhook_topics)?;
        for event in undelivered.iter().chain(&self.store.unpublished(&id)?) {
            sink.publish_json(&event.id, &event.json).map_err(DurableError::Publish)?;
        }
        // Everything in the outbox has now been published at least once.
        instance.published_through = instance.outbox_len;
        // Waking up: the run's time becomes now and what is due by then fires. That is committed before
        // any superstep runs, so that a superstep re-run after a crash sees the time (and the fired
        // timers) it saw the first time; after that the time moves only with each checkpoint.
        let before = instance.run.state().time_ms;
        if instance.run.fire_due(self.clock.now_ms()) || instance.run.state().time_ms != before {
            self.commit_now(instance)?;
        }
        loop {
            let checkpoint_time = instance.run.state().time_ms;
            let fired = instance.run.fire_due(checkpoint_time);
            if instance.run.state().status != Status::Running {
                // Timers and timeouts that fired without waking the run (a timeout into `stop`, or into
                // nothing) change it all the same: keep that.
                if fired {
                    self.commit_now(instance)?;
                }
                break;
            }
            let effects = instance.run.superstep();
            let now = self.clock.now_ms();
            instance.run.advance_time(now);
            let process = instance.run.process().clone();
            let outbox: Vec<(String, String)> =
                effects.published.iter().map(|e| (e.id.clone(), to_json(process.name(), &id, e))).collect();
            self.save(instance, &effects.history, &outbox, now)?;
            let first = instance.outbox_len;
            instance.outbox_len += outbox.len() as u64;
            for (k, (event_id, json)) in (1..).zip(&outbox) {
                sink.publish_json(event_id, json).map_err(DurableError::Publish)?;
                instance.published_through = first + k;
            }
        }
        Ok(())
    }

    /// Record the events each webhook acknowledged (from [`TopicSinks::finish`]); those it did not are
    /// delivered again by the instance's next driver.
    ///
    /// Errors: the store's (the events are then delivered again, with the same `id`s).
    pub fn record_deliveries(&self, id: &str, outcomes: &[(String, String, Outcome)]) -> Result<(), DurableError> {
        let delivered: Vec<String> = outcomes.iter().flat_map(|(_, _, o)| o.delivered.iter().cloned()).collect();
        Ok(self.store.delivered(id, &delivered)?)
    }

    /// Deliver the awaited event `event_type` with `data` to instance `id` and commit that at once; then
    /// the caller drives it on with [`Driver::drive`].
    ///
    /// Errors: as [`Driver::open`]; [`DurableError::NotAwaited`] (nothing changes).
    pub fn send(&self, id: &str, event_type: &str, data: Json) -> Result<Instance, DurableError> {
        let mut instance = self.open_running(id)?;
        // An await whose deadline has passed has timed out, whether or not anyone resumed the run since.
        if instance.run.fire_due(self.clock.now_ms()) {
            self.commit_now(&mut instance).map_err(|e| self.let_go(id, e))?;
        }
        let sent = instance.run.send_awaited(event_type, data);
        let committed = sent.map_err(DurableError::from).and_then(|()| self.commit_now(&mut instance));
        committed.map_err(|e| self.let_go(id, e)).map(|()| instance)
    }

    /// Commit what changed outside a superstep (a sent event, a cancel, timers that fired).
    fn commit_now(&self, instance: &mut Instance) -> Result<(), DurableError> {
        let effects = instance.run.take_effects();
        self.save(instance, &effects.history, &[], self.clock.now_ms())
    }

    /// Commit the run's state with `history` and `outbox` after its last revision, marking what it has
    /// published.
    fn save(
        &self,
        instance: &mut Instance,
        history: &[HistoryEntry],
        outbox: &[(String, String)],
        now_ms: u64,
    ) -> Result<(), DurableError> {
        let commit = Commit {
            state: instance.run.state(),
            history,
            outbox,
            published_through: instance.published_through,
            now_ms,
            owner: &self.owner,
        };
        instance.revision = self.store.commit(&instance.info.id, instance.revision, &commit)?;
        Ok(())
    }

    /// Take hold of instance `id` and rebind it to the definition file it was started from as that file
    /// (and its components) are now, committing the carried-over state (see [`crate::runner::rebind`]).
    ///
    /// Errors: as [`Driver::open`]; [`DurableError::Incompatible`] listing every change the run cannot
    /// survive, or saying that the files do not load (nothing changes).
    pub fn upgrade(&self, id: &str) -> Result<Instance, DurableError> {
        let mut instance = self.open_running(id)?;
        self.rebind(&mut instance).map_err(|e| self.let_go(id, e)).map(|()| instance)
    }

    fn rebind(&self, instance: &mut Instance) -> Result<(), DurableError> {
        let id = instance.info.id.clone();
        let file = Path::new(&instance.info.definition_file);
        let new = self.runtime.load_process(file).map_err(|e| DurableError::Incompatible {
            instance: id.clone(),
            changes: format!("the files do not load: {e}"),
        })?;
        let new = Arc::new(new);
        let old = instance.run.process().clone();
        let state = crate::runner::rebind::rebind(instance.run.state(), &old, &new)
            .map_err(|changes| DurableError::Incompatible { instance: id.clone(), changes: changes.join("; ") })?;
        let components: Vec<(String, String)> = new.pins.iter().map(|p| (p.key.clone(), p.digest.clone())).collect();
        let history = [HistoryEntry {
            superstep: state.superstep,
            record: HistoryRecord::Rebound { definition_digest: new.digest.clone(), components: components.clone() },
        }];
        let pinned = Pinned {
            definition_file: &instance.info.definition_file,
            version: &new.loaded.definition.version,
            definition_digest: &new.digest,
            definition: new.text.as_bytes(),
            components: &components,
            blobs: new.pins.iter().map(|p| (p.digest.as_str(), &*p.bytes)).collect(),
        };
        let commit = Commit {
            state: &state,
            history: &history,
            outbox: &[],
            published_through: 0,
            now_ms: self.clock.now_ms(),
            owner: &self.owner,
        };
        instance.revision = self.store.repin(&id, instance.revision, &pinned, &commit)?;
        let mut run = Run::resume(new.clone(), state).map_err(|why| DurableError::Mismatch { instance: id, why })?;
        run.record_history(true);
        instance.run = run;
        instance.info.definition_digest.clone_from(&new.digest);
        instance.info.components = components;
        Ok(())
    }

    /// Cancel instance `id`: it ends as cancelled, committed, and nothing of it runs afterwards.
    ///
    /// Errors: as [`Driver::open`] ([`DurableError::Ended`] for a run that has already ended).
    pub fn cancel(&self, id: &str) -> Result<Instance, DurableError> {
        let mut instance = self.open_running(id)?;
        instance.run.cancel();
        let committed = self.commit_now(&mut instance);
        let released = self.store.release(id, &self.owner, 0);
        committed?;
        released?;
        Ok(instance)
    }
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
}
