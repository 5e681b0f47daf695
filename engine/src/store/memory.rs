//! A store in memory: everything the [`Store`] trait promises, kept in maps behind one lock and gone when
//! dropped. `weft run --in-memory` drives its run through the same driver as a durable run, on this store,
//! so the two cannot drift; the conformance suite holds it to the same rules as SQLite, which makes it the
//! trait's executable model.
//!
//! [`MemoryStore::without_history`] keeps no history (an in-memory run does not pay for records nobody
//! can read after the command ends).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::blob::Blob;
use crate::runner::{HistoryEntry, RunState};
use crate::store::tenure::Tenure;
use crate::store::{
    Appended, Commit, Committed, DeadLetter, Deployed, Deployment, Holder, Inbound, InboxEvent, InstanceInfo, Lease,
    ListCursor, ListFilter, Loaded, NewInstance, OutboxEvent, Pinned, Pruned, Store, StoreError,
};

/// A store in memory.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    discard_history: bool,
}

#[derive(Default)]
struct Inner {
    instances: BTreeMap<String, Entry>,
    blobs: HashMap<String, Blob>,
    /// Every inbox event by CloudEvent `(source, id)`: the instance and position that received it.
    received: HashMap<(String, String), (String, u64)>,
    /// Each process's deployments, oldest first.
    deployments: BTreeMap<String, Vec<Deployment>>,
}

struct Entry {
    info: InstanceInfo,
    state: RunState,
    /// One element per commit that had records.
    history: Vec<Vec<HistoryEntry>>,
    outbox: Vec<OutboxEvent>,
    inbox: Vec<InboxEvent>,
    cursors: HashMap<String, u64>,
    dead: BTreeMap<u64, DeadLetter>,
}

impl MemoryStore {
    /// An empty store that keeps everything.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// An empty store that keeps no history.
    pub fn without_history() -> Self {
        MemoryStore { discard_history: true, ..MemoryStore::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every write below checks first and changes after, so a panic cannot leave an entry half-done.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn entry(&mut self, id: &str) -> Result<&mut Entry, StoreError> {
        self.instances.get_mut(id).ok_or_else(|| StoreError::NotFound(id.into()))
    }

    /// Keep each of `blobs` once per digest: the handle, not a copy (a component file not read yet stays
    /// unread until someone asks for the blob).
    fn put_blobs<'a>(&mut self, blobs: impl IntoIterator<Item = &'a Blob>) {
        for blob in blobs {
            self.blobs.entry(blob.digest().to_owned()).or_insert_with(|| blob.clone());
        }
    }

    /// Remove instance `id` (which must exist) and every blob no other instance is pinned to; how many
    /// blobs went.
    fn remove(&mut self, id: &str) -> usize {
        self.instances.remove(id);
        self.received.retain(|_, (instance, _)| instance != id);
        let deployed = self.deployments.values().flatten();
        let pinned: std::collections::HashSet<&str> =
            self.instances.values().flat_map(|e| pins(&e.info)).chain(deployed.flat_map(deployment_pins)).collect();
        let before = self.blobs.len();
        self.blobs.retain(|digest, _| pinned.contains(digest.as_str()));
        before - self.blobs.len()
    }
}

/// The digests deployment `d` keeps.
fn deployment_pins(d: &Deployment) -> impl Iterator<Item = &str> {
    [d.definition_digest.as_str(), d.layout_digest.as_str()]
        .into_iter()
        .chain(d.components.iter().map(|(_, x)| x.as_str()))
}

/// The digests instance `info` is pinned to.
fn pins(info: &InstanceInfo) -> impl Iterator<Item = &str> {
    std::iter::once(info.definition_digest.as_str())
        .chain(info.layout_digest.as_deref())
        .chain(info.components.iter().map(|(_, d)| d.as_str()))
}

impl Entry {
    /// Its outbox events their sink has not acknowledged, in outbox order.
    fn unacked(&self) -> impl Iterator<Item = &OutboxEvent> {
        self.outbox.iter().filter(|e| e.seq > self.cursors.get(&e.sink).copied().unwrap_or(0))
    }

    /// Who drives it.
    fn tenure(&self) -> Tenure<'_> {
        let holder = self.info.holder.as_ref();
        Tenure {
            owner: holder.map(|h| h.owner.as_str()),
            until_ms: holder.map_or(0, |h| h.until_ms),
            epoch: self.info.epoch,
        }
    }

    /// Check `commit` against this entry's lease and revision.
    fn fence(&self, commit: &Commit<'_>) -> Result<(), StoreError> {
        self.tenure().fence(&self.info.id, self.info.revision, commit)
    }

    fn apply(&mut self, commit: &Commit<'_>, keep_history: bool) -> Committed {
        let cp = &commit.checkpoint;
        self.state.assign_from(cp.state);
        if keep_history && !cp.history.is_empty() {
            self.history.push(cp.history.to_vec());
        }
        self.outbox.extend(cp.outbox.iter().cloned());
        for (sink, seq) in cp.acks {
            self.ack(sink, *seq);
        }
        self.info.revision += 1;
        self.info.status = cp.state.status.name().into();
        self.info.updated_ms = cp.now_ms;
        self.info.next_due_ms = cp.state.next_due_ms();
        Committed { revision: self.info.revision, inbox_len: self.inbox.len() as u64 }
    }

    /// Append `event` (whose identity is new) to the inbox; its position.
    fn receive(&mut self, event: &Inbound<'_>) -> u64 {
        let seq = self.inbox.len() as u64 + 1;
        self.inbox.push(InboxEvent {
            seq,
            source: event.source.into(),
            id: event.id.into(),
            kind: event.kind,
            event_type: event.event_type.into(),
            data: event.data.into(),
            received_ms: event.received_ms,
        });
        seq
    }

    fn ack(&mut self, sink: &str, seq: u64) {
        let cursor = self.cursors.entry(sink.to_owned()).or_default();
        *cursor = (*cursor).max(seq);
    }

    /// Refuse deleting it unless it has ended and nobody holds it at `now_ms`.
    fn deletable(&self, now_ms: u64) -> Result<(), StoreError> {
        self.tenure().deletable(&self.info.id, &self.info.status, self.state.status.is_final(), now_ms)
    }
}

impl Store for MemoryStore {
    fn create(&self, new: &NewInstance<'_>) -> Result<Lease, StoreError> {
        let mut inner = self.lock();
        // A start received before is a duplicate, whatever instance id it names now (the sender retrying).
        if let Some(e) = &new.received
            && let Some((instance, _)) = inner.received.get(&(e.source.to_owned(), e.id.to_owned()))
        {
            let (event_source, id, instance) = (e.source.into(), e.id.into(), instance.clone());
            return Err(StoreError::Duplicate { event_source, id, instance });
        }
        if inner.instances.contains_key(&new.info.id) {
            return Err(StoreError::AlreadyExists(new.info.id.clone()));
        }
        inner.put_blobs(&new.pinned_blobs());
        let lease = Lease { owner: new.lease_owner.into(), epoch: 1 };
        let mut info = new.info.clone();
        info.revision = 0;
        info.epoch = 1;
        info.holder = Some(Holder { owner: new.lease_owner.into(), until_ms: new.lease_until_ms });
        let mut entry = Entry {
            info,
            state: new.checkpoint.state.clone(),
            history: Vec::new(),
            outbox: Vec::new(),
            inbox: Vec::new(),
            cursors: HashMap::new(),
            dead: BTreeMap::new(),
        };
        if let Some(e) = &new.received {
            let seq = entry.receive(e);
            inner.received.insert((e.source.into(), e.id.into()), (new.info.id.clone(), seq));
        }
        let commit = Commit { id: &new.info.id, lease: &lease, expected_revision: 0, checkpoint: new.checkpoint };
        entry.apply(&commit, !self.discard_history);
        entry.info.created_ms = new.checkpoint.now_ms;
        inner.instances.insert(new.info.id.clone(), entry);
        Ok(lease)
    }

    fn load(&self, id: &str) -> Result<Loaded, StoreError> {
        let mut inner = self.lock();
        let entry = inner.entry(id)?;
        let outbox_len = entry.outbox.last().map_or(0, |e| e.seq);
        let inbox_len = entry.inbox.len() as u64;
        Ok(Loaded { info: entry.info.clone(), state: entry.state.clone(), outbox_len, inbox_len })
    }

    fn commit_many(&self, commits: &[Commit<'_>]) -> Vec<Result<Committed, StoreError>> {
        let mut inner = self.lock();
        commits
            .iter()
            .map(|commit| {
                let entry = inner.entry(commit.id)?;
                entry.fence(commit)?;
                Ok(entry.apply(commit, !self.discard_history))
            })
            .collect()
    }

    fn repin(&self, pinned: &Pinned<'_>, commit: &Commit<'_>) -> Result<Committed, StoreError> {
        let mut inner = self.lock();
        inner.entry(commit.id)?.fence(commit)?;
        inner.put_blobs(&pinned.pinned_blobs());
        let entry = inner.entry(commit.id)?;
        let info = &mut entry.info;
        info.definition_file = pinned.definition_file.into();
        info.version = pinned.version.into();
        info.definition_digest = pinned.definition_digest.into();
        info.components = pinned.components.to_vec();
        info.layout_digest = Some(pinned.layout_digest.into());
        Ok(entry.apply(commit, !self.discard_history))
    }

    fn deploy(&self, process: &str, pinned: &Pinned<'_>, now_ms: u64) -> Result<Deployed, StoreError> {
        let mut inner = self.lock();
        let versions = inner.deployments.entry(process.to_owned()).or_default();
        if let Some(latest) = versions.last()
            && latest.pins_same(pinned)
        {
            return Ok(Deployed::Unchanged(latest.clone()));
        }
        let deployment = Deployment::of(process, versions.len() as u64 + 1, pinned, now_ms);
        versions.push(deployment.clone());
        inner.put_blobs(&pinned.pinned_blobs());
        Ok(Deployed::New(deployment))
    }

    fn deployments(&self, process: Option<&str>) -> Result<Vec<Deployment>, StoreError> {
        let inner = self.lock();
        let all = inner.deployments.iter().filter(|(name, _)| process.is_none_or(|p| p == name.as_str()));
        Ok(all.flat_map(|(_, versions)| versions.iter().cloned()).collect())
    }

    fn append_inbox(&self, id: &str, event: &Inbound<'_>) -> Result<Appended, StoreError> {
        let mut inner = self.lock();
        inner.entry(id)?;
        let key = (event.source.to_owned(), event.id.to_owned());
        if let Some((instance, seq)) = inner.received.get(&key) {
            return Ok(Appended::Duplicate { instance: instance.clone(), seq: *seq });
        }
        let status = &inner.entry(id)?.state.status;
        if status.is_final() {
            return Err(StoreError::Ended { instance: id.into(), status: status.name().into() });
        }
        let seq = inner.entry(id)?.receive(event);
        inner.received.insert(key, (id.to_owned(), seq));
        Ok(Appended::New(seq))
    }

    fn received(&self, source: &str, id: &str) -> Result<Option<(String, u64)>, StoreError> {
        Ok(self.lock().received.get(&(source.to_owned(), id.to_owned())).cloned())
    }

    fn correlated(&self, process: &str, event: &str, key: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let inner = self.lock();
        let awaiting = inner.instances.values().filter(|e| {
            e.info.process == process
                && !e.state.status.is_final()
                && e.state.awaits.iter().any(|a| a.event == event && a.key.as_deref() == Some(key))
        });
        Ok(awaiting.map(|e| e.info.id.clone()).take(limit).collect())
    }

    fn inbox(&self, id: &str, after: u64, limit: usize) -> Result<Vec<InboxEvent>, StoreError> {
        let mut inner = self.lock();
        let entry = inner.entry(id)?;
        Ok(entry.inbox.iter().filter(|e| e.seq > after).take(limit).cloned().collect())
    }

    fn acquire(&self, id: &str, owner: &str, now_ms: u64, until_ms: u64) -> Result<Lease, StoreError> {
        let mut inner = self.lock();
        let entry = inner.entry(id)?;
        let epoch = entry.tenure().take(id, owner, now_ms)?;
        let info = &mut entry.info;
        info.epoch = epoch;
        info.holder = Some(Holder { owner: owner.into(), until_ms });
        Ok(Lease { owner: owner.into(), epoch: info.epoch })
    }

    fn renew(&self, owner: &str, until_ms: u64) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let held = inner.instances.values_mut().filter_map(|e| e.info.holder.as_mut()).filter(|h| h.owner == owner);
        Ok(held.map(|h| h.until_ms = until_ms).count())
    }

    fn release(&self, id: &str, lease: &Lease) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let info = &mut inner.entry(id)?.info;
        if info.epoch == lease.epoch && info.holder.as_ref().is_some_and(|h| h.owner == lease.owner) {
            info.holder = None;
        }
        Ok(())
    }

    fn unacked(&self, id: &str, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut inner = self.lock();
        let pending = inner.entry(id)?.unacked().filter(|e| e.seq > after);
        Ok(pending.take(limit).cloned().collect())
    }

    fn ack(&self, id: &str, sink: &str, seq: u64) -> Result<(), StoreError> {
        self.lock().entry(id)?.ack(sink, seq);
        Ok(())
    }

    fn dead_letter(&self, id: &str, sink: &str, seq: u64, reason: &str, now_ms: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let entry = inner.entry(id)?;
        entry.dead.insert(seq, DeadLetter { seq, sink: sink.into(), reason: reason.into(), at_ms: now_ms });
        entry.ack(sink, seq);
        Ok(())
    }

    fn dead_letters(&self, id: &str) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(self.lock().entry(id)?.dead.values().cloned().collect())
    }

    fn redelivered(&self, id: &str, seq: u64) -> Result<(), StoreError> {
        self.lock().entry(id)?.dead.remove(&seq);
        Ok(())
    }

    fn outbox(&self, id: &str, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut inner = self.lock();
        let entry = inner.entry(id)?;
        Ok(entry.outbox.iter().filter(|e| e.seq > after).take(limit).cloned().collect())
    }

    fn history(&self, id: &str, after: u64, limit: usize) -> Result<(Vec<HistoryEntry>, Option<u64>), StoreError> {
        let mut inner = self.lock();
        let entry = inner.entry(id)?;
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(entry.history.len());
        let end = start.saturating_add(limit).min(entry.history.len());
        let entries = entry.history[start..end].iter().flatten().cloned().collect();
        let next = (end < entry.history.len()).then_some(end as u64);
        Ok((entries, next))
    }

    fn list(
        &self,
        filter: &ListFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<InstanceInfo>, StoreError> {
        let inner = self.lock();
        let mut infos: Vec<&InstanceInfo> = inner
            .instances
            .values()
            .map(|e| &e.info)
            .filter(|i| filter.status.as_ref().is_none_or(|s| *s == i.status))
            .filter(|i| filter.process.as_ref().is_none_or(|p| *p == i.process))
            .collect();
        // Newest first, then by id: the order every backend pages in.
        infos.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| a.id.cmp(&b.id)));
        let past = |i: &&InstanceInfo| {
            after.is_none_or(|c| i.created_ms < c.created_ms || (i.created_ms == c.created_ms && i.id > c.id))
        };
        Ok(infos.into_iter().filter(past).take(limit).cloned().collect())
    }

    fn ready(&self, due_by_ms: u64, now_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        let inner = self.lock();
        let mut due: Vec<(u64, &str)> = inner
            .instances
            .values()
            .filter(|e| e.info.holder.as_ref().is_none_or(|h| h.until_ms < now_ms))
            .filter_map(|e| {
                // Events waiting in the inbox make a run not ended ready at once, before anything merely due.
                let waiting = e.inbox.len() as u64 > e.state.inbox_taken && !e.state.status.is_final();
                let inbox = waiting.then_some(0);
                inbox.or(e.info.next_due_ms.filter(|d| *d <= due_by_ms)).map(|d| (d, e.info.id.as_str()))
            })
            .collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, id)| id.to_owned()).collect())
    }

    fn unpublished(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let inner = self.lock();
        let unacked = |e: &&Entry| e.unacked().next().is_some();
        let after = (std::ops::Bound::Excluded(after.to_owned()), std::ops::Bound::Unbounded);
        Ok(inner
            .instances
            .range(after)
            .map(|(_, e)| e)
            .filter(unacked)
            .take(limit)
            .map(|e| e.info.id.clone())
            .collect())
    }

    fn has_blob(&self, digest: &str) -> Result<bool, StoreError> {
        Ok(self.lock().blobs.contains_key(digest))
    }

    fn blob(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let blob = self.lock().blobs.get(digest).cloned();
        blob.map(|b| b.bytes().map(|bytes| bytes.to_vec()).map_err(StoreError::Unreadable)).transpose()
    }

    fn delete(&self, id: &str, now_ms: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.entry(id)?.deletable(now_ms)?;
        inner.remove(id);
        Ok(())
    }

    fn prune(&self, ended_before_ms: u64, now_ms: u64, limit: usize) -> Result<Pruned, StoreError> {
        let mut inner = self.lock();
        let ids: Vec<String> = inner
            .instances
            .values()
            .filter(|e| e.info.updated_ms < ended_before_ms && e.deletable(now_ms).is_ok())
            .map(|e| e.info.id.clone())
            .take(limit)
            .collect();
        let mut pruned = Pruned::default();
        for id in ids {
            pruned.blobs += inner.remove(&id);
            pruned.instances.push(id);
        }
        Ok(pruned)
    }
}
