//! Starting instances: one ([`Driver::start`]), or several in one transaction ([`Driver::start_many`]:
//! what a server does with a batch of CloudEvents, one fsync for all of them).

use std::path::Path;
use std::sync::Arc;

use super::{Driver, DurableError, Identity, Instance, PinnedLayout, outbox};
use crate::data::Json;
use crate::load::Process;
use crate::runner::{HistoryEntry, Run, RunState};
use crate::store::{Checkpoint, Inbound, InstanceInfo, Lease, NewInstance, OutboxEvent, StoreError};

/// The longest instance id, in bytes.
pub const MAX_INSTANCE_ID: usize = 256;

/// Whether `id` can name a new instance: 1 to [`MAX_INSTANCE_ID`] bytes, not `.` or `..`, without a `/` or
/// a control character. The HTTP API names an instance by one path segment, `/instances/{id}`: a `/`
/// there must be sent as `%2F`, which clients and proxies are free to decode, and a segment `.` or `..`
/// (or `%2E`) is removed by clients that normalise the path (RFC 3986 §5.2.4, the WHATWG URL standard);
/// the id is printed in lists and logs.
///
/// Errors: what is wrong with it, and what an id may be.
pub fn check_instance_id(id: &str) -> Result<(), String> {
    let problem = if id.is_empty() {
        "is empty"
    } else if id.len() > MAX_INSTANCE_ID {
        "is too long"
    } else if id == "." || id == ".." {
        "is a dot segment"
    } else if id.contains('/') {
        "has a '/'"
    } else if id.chars().any(char::is_control) {
        "has a control character"
    } else {
        return Ok(());
    };
    let shown: String = id.chars().take(40).flat_map(char::escape_debug).collect();
    let shown = if id.chars().count() > 40 { format!("{shown}…") } else { shown };
    Err(format!(
        "the instance id \"{shown}\" {problem}: an instance id is 1 to {MAX_INSTANCE_ID} bytes, not . or .., \
         without '/' or control characters"
    ))
}

/// One instance to start: its id, its input event's type and data, and the CloudEvent identity that
/// makes a duplicate (none for a start without one).
#[derive(Debug, Clone)]
pub struct Start<'a> {
    /// Instance id.
    pub id: &'a str,
    /// The input event's type.
    pub event_type: &'a str,
    /// Its data.
    pub data: Json,
    /// Its CloudEvent `source` and `id`.
    pub identity: Option<Identity<'a>>,
}

/// An instance made ready to be created: its run, and the instance to create.
struct Starting<'a> {
    run: Run,
    new: OwnedNew,
    start: Start<'a>,
}

/// Everything the creation of an instance writes, owned (so that group commit can write it on another
/// thread): what [`NewInstance`] borrows.
pub struct OwnedNew {
    process: Arc<Process>,
    info: InstanceInfo,
    layout: Arc<PinnedLayout>,
    state: RunState,
    history: Vec<HistoryEntry>,
    outbox: Vec<OutboxEvent>,
    /// The starting event's `source`, `id`, type and data, when it has an identity.
    received: Option<(String, String, String, Json)>,
    owner: String,
    until_ms: u64,
}

impl OwnedNew {
    /// The instance to create, borrowed.
    pub fn new_instance(&self) -> NewInstance<'_> {
        let now = self.info.created_ms;
        let received = self
            .received
            .as_ref()
            .map(|(source, id, event_type, data)| Inbound::event(source, id, event_type, data.as_str(), now));
        NewInstance {
            info: &self.info,
            definition: self.process.text.as_bytes(),
            blobs: self.layout.blobs(&self.process),
            received,
            lease_owner: &self.owner,
            lease_until_ms: self.until_ms,
            checkpoint: Checkpoint {
                state: &self.state,
                history: &self.history,
                outbox: &self.outbox,
                acks: &[],
                now_ms: now,
                encoded: None,
            },
        }
    }
}

impl Driver<'_> {
    /// Create instance `id` of `process` (loaded from `file`), pinned to its definition, components and
    /// layout, with input event `event_type` and `data` delivered, and commit it, held by this driver.
    /// Nothing runs until [`Driver::drive`]. With `identity`, the event is kept as the first of the
    /// instance's inbox, so that the same event received again is recognised.
    ///
    /// Errors: [`DurableError::Input`] for an event the process does not accept (nothing is stored);
    /// [`StoreError::AlreadyExists`]; [`StoreError::Duplicate`] when `identity` was received before.
    pub fn start(
        &self,
        process: Arc<Process>,
        file: &Path,
        id: &str,
        event_type: &str,
        data: Json,
        identity: Option<Identity<'_>>,
    ) -> Result<Instance, DurableError> {
        let start = Start { id, event_type, data, identity };
        self.start_many(process, file, vec![start])
            .pop()
            .unwrap_or_else(|| Err(StoreError::Backend("the store returned no result for a start".into()).into()))
    }

    /// [`Driver::start`] for each of `starts`, in order, committed in one transaction, stopping at the
    /// first that fails (a duplicate is answered, and the others go on): the results of those tried (the
    /// last is the failure, if one failed; nothing after it is stored).
    ///
    /// Errors: as [`Driver::start`], each for its own start.
    pub fn start_many(
        &self,
        process: Arc<Process>,
        file: &Path,
        starts: Vec<Start<'_>>,
    ) -> Vec<Result<Instance, DurableError>> {
        let now = self.clock.now_ms();
        let mut ready = Vec::with_capacity(starts.len());
        let mut refused = None;
        // The layout is the process's: made once for all the starts.
        let layout = Arc::new(PinnedLayout::of(&process));
        for start in starts {
            match self.starting(&process, &layout, file, start, now) {
                Ok(starting) => ready.push(starting),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        // One start goes with other threads' writes; several go together, in order, in a transaction.
        let created: Vec<Result<(Lease, Starting<'_>), StoreError>> = match &self.group {
            Some(group) if ready.len() == 1 => ready
                .into_iter()
                .map(|Starting { run, new, start }| {
                    group.create(new).map(|(lease, new)| (lease, Starting { run, new, start }))
                })
                .collect(),
            _ => {
                let news: Vec<NewInstance<'_>> = ready.iter().map(|s| s.new.new_instance()).collect();
                let created = self.store.create_many(&news);
                drop(news);
                ready.into_iter().zip(created).map(|(starting, created)| Ok((created?, starting))).collect()
            }
        };
        let failed = created.iter().any(crate::store::ends_a_batch);
        let mut out: Vec<Result<Instance, DurableError>> = created
            .into_iter()
            .map(|created| {
                let (lease, Starting { run, new, start }) = created?;
                let hold = self.leases.adopt(&new.info.id, lease);
                let inbox_len = u64::from(start.identity.is_some());
                let outbox_len = new.outbox.len() as u64;
                Ok(Instance { run, info: new.info, revision: 1, outbox_len, inbox_len, hold })
            })
            .collect();
        if !failed && let Some(e) = refused {
            out.push(Err(e));
        }
        out
    }

    /// Let go of each of `instances` (those [`Driver::start_many`] started, say), with one batch of
    /// releases rather than one write each.
    pub fn let_go_all(&self, instances: Vec<Instance>) {
        self.leases.release_all(instances.into_iter().map(|i| i.hold).collect());
    }

    /// Make `start` ready to be created at `now` (ms): its run with the input event delivered.
    fn starting<'s>(
        &self,
        process: &Arc<Process>,
        layout: &Arc<PinnedLayout>,
        file: &Path,
        start: Start<'s>,
        now: u64,
    ) -> Result<Starting<'s>, DurableError> {
        check_instance_id(start.id).map_err(DurableError::InstanceId)?;
        let mut run = Run::starting_at(process.clone(), start.id, now);
        run.record_history(self.history);
        let kept = start.data.clone();
        run.send(start.event_type, start.data.clone())?;
        if self.warming {
            // A fresh run runs: its instances are made while its start is committed.
            run.warm_up();
        }
        if start.identity.is_some() {
            run.started_from_inbox();
        }
        let effects = run.take_effects();
        let info = InstanceInfo {
            id: start.id.into(),
            process: process.name().into(),
            version: process.loaded.definition.version.clone(),
            status: run.state().status.name().into(),
            definition_file: file.display().to_string(),
            definition_digest: process.digest.clone(),
            components: process.pins.iter().map(|p| (p.key.clone(), p.blob.digest().to_owned())).collect(),
            layout_digest: Some(layout.digest().to_owned()),
            revision: 1,
            epoch: 1,
            created_ms: now,
            updated_ms: now,
            next_due_ms: run.state().next_due_ms(),
            holder: None,
        };
        let outbox = outbox(process, start.id, &effects.published, 0);
        let received = start.identity.map(|i| (i.source.into(), i.id.into(), start.event_type.into(), kept));
        let (_, until_ms) = self.leases.until();
        let new = OwnedNew {
            process: process.clone(),
            info,
            layout: layout.clone(),
            state: run.state().clone(),
            history: effects.history,
            outbox,
            received,
            owner: self.leases.owner().into(),
            until_ms,
        };
        Ok(Starting { run, new, start })
    }
}
