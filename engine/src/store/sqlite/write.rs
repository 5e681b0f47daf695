//! The SQLite store's writes, each inside the immediate transaction the caller opened on the writer.
//! Every commit is fenced: it names the lease (owner and epoch) and the revision it follows, and changes
//! nothing when either no longer holds.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::blob::Blob;
use crate::runner::state::FINAL_STATUS_NAMES;
use crate::store::tenure::Tenure;
use crate::store::{Appended, Checkpoint, Commit, Committed, Inbound, Lease, NewInstance, Pinned, Pruned, StoreError};

use super::backend;
use super::rows::{self, FINAL_STATUSES, i64_of, page, u64_at};

/// The revision, lease and counters of an instance, read inside a transaction.
struct Head {
    process: String,
    /// Its rows in `correlations`.
    correlated: u64,
    status: String,
    revision: u64,
    epoch: u64,
    lease_owner: Option<String>,
    lease_until: u64,
    history_len: u64,
    inbox_len: u64,
    /// Its `next_due` column, as an SQL integer.
    next_due: Option<i64>,
}

fn head(tx: &Connection, id: &str) -> Result<Head, StoreError> {
    tx.prepare_cached(
        "SELECT status, revision, epoch, lease_owner, lease_until, history_len, inbox_len, process, correlated, \
         next_due FROM instances WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([id], |r| {
            Ok(Head {
                status: r.get(0)?,
                revision: u64_at(r, 1)?,
                epoch: u64_at(r, 2)?,
                lease_owner: r.get(3)?,
                lease_until: u64_at(r, 4)?,
                history_len: u64_at(r, 5)?,
                inbox_len: u64_at(r, 6)?,
                process: r.get(7)?,
                correlated: u64_at(r, 8)?,
                next_due: r.get(9)?,
            })
        })
        .optional()
    })
    .map_err(backend)?
    .ok_or_else(|| StoreError::NotFound(id.into()))
}

impl Head {
    /// Who drives it.
    fn tenure(&self) -> Tenure<'_> {
        Tenure { owner: self.lease_owner.as_deref(), until_ms: self.lease_until, epoch: self.epoch }
    }

    /// Whether its run has ended.
    fn ended(&self) -> bool {
        FINAL_STATUS_NAMES.contains(&self.status.as_str())
    }

    /// Refuse deleting it unless it has ended and nobody holds it at `now_ms`.
    fn deletable(&self, id: &str, now_ms: u64) -> Result<(), StoreError> {
        self.tenure().deletable(id, &self.status, self.ended(), now_ms)
    }
}

/// Store `blob` under its digest unless the store has it (reading it only then).
///
/// Errors: [`StoreError::Unreadable`] when its content is not in hand and its file cannot be read or
/// changed; the database's.
pub(super) fn put_blob(tx: &Connection, blob: &Blob) -> Result<(), StoreError> {
    let digest = blob.digest();
    // Most starts pin blobs the store has (the same components): look before binding the bytes, which
    // SQLite would copy (a component is megabytes) only to find the row there.
    let known = tx
        .prepare_cached("SELECT 1 FROM blobs WHERE digest = ?1")
        .and_then(|mut s| s.exists([digest]))
        .map_err(backend)?;
    if !known {
        let content = blob.bytes().map_err(StoreError::Unreadable)?;
        tx.prepare_cached("INSERT INTO blobs (digest, content) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![digest, &*content]))
            .map_err(backend)?;
    }
    Ok(())
}

/// Store each blob once per digest, and pin instance `id` to it (the instance row must exist).
fn pin<'a>(tx: &Connection, id: &str, blobs: impl IntoIterator<Item = &'a Blob>) -> Result<(), StoreError> {
    for blob in blobs {
        put_blob(tx, blob)?;
        tx.prepare_cached("INSERT INTO pins (instance, digest) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
            .and_then(|mut s| s.execute(params![id, blob.digest()]))
            .map_err(backend)?;
    }
    Ok(())
}

pub fn create(tx: &Transaction<'_>, new: &NewInstance<'_>) -> Result<Lease, StoreError> {
    let info = new.info;
    // A start received before is a duplicate, whatever instance id it names now (the sender retrying).
    if let Some(received) = &new.received
        && let Some((instance, _)) = received_by(tx, received.source, received.id)?
    {
        let (event_source, id) = (received.source.into(), received.id.into());
        return Err(StoreError::Duplicate { event_source, id, instance });
    }
    match rows::exists(tx, &info.id) {
        Ok(()) => return Err(StoreError::AlreadyExists(info.id.clone())),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let components = serde_json::to_string(&info.components).map_err(|e| StoreError::Backend(e.to_string()))?;
    let cp = &new.checkpoint;
    // The definition's blob first: the instance row refers to it.
    tx.prepare_cached("INSERT INTO blobs (digest, content) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
        .and_then(|mut s| s.execute(params![info.definition_digest, new.definition]))
        .map_err(backend)?;
    tx.prepare_cached(
        "INSERT INTO instances (id, process, version, status, definition_file, definition_digest, components, \
         layout_digest, revision, epoch, checkpoint, history_len, outbox_len, created_ms, updated_ms, next_due, \
         lease_owner, lease_until) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 1, '', 0, 0, ?9, ?9, NULL, ?10, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            info.id,
            info.process,
            info.version,
            cp.state.status.name(),
            info.definition_file,
            info.definition_digest,
            components,
            info.layout_digest,
            i64_of(cp.now_ms),
            new.lease_owner,
            i64_of(new.lease_until_ms),
        ])
    })
    .map_err(backend)?;
    pin(tx, &info.id, &new.pinned_blobs())?;
    if let Some(received) = &new.received {
        receive(tx, &info.id, 1, received)?;
    }
    let lease = Lease { owner: new.lease_owner.into(), epoch: 1 };
    commit_in(tx, &Commit { id: &info.id, lease: &lease, expected_revision: 0, checkpoint: new.checkpoint })?;
    Ok(lease)
}

/// Run `write` inside a savepoint of its own, so that its failure undoes only its own writes: its result,
/// inside the transaction's (an error there means the savepoint could not be taken, released or rolled
/// back, and the whole transaction must be given up).
pub fn in_savepoint<T>(
    tx: &Transaction<'_>,
    write: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<Result<T, StoreError>, StoreError> {
    let run = |sql: &str| tx.prepare_cached(sql).and_then(|mut s| s.execute([])).map_err(backend);
    run("SAVEPOINT one_write")?;
    let out = write(tx);
    if out.is_err() {
        run("ROLLBACK TO one_write")?;
    }
    run("RELEASE one_write")?;
    Ok(out)
}

/// Check `commit`'s fence, then save its checkpoint, history, outbox and acknowledgements; the new
/// revision and the inbox's length.
pub fn commit_in(tx: &Connection, commit: &Commit<'_>) -> Result<Committed, StoreError> {
    let id = commit.id;
    let head = head(tx, id)?;
    head.tenure().fence(id, head.revision, commit)?;
    let cp = &commit.checkpoint;
    let history_len = append(tx, id, &head, cp)?;
    correlate(tx, id, &head, cp)?;
    let outbox_len = cp.outbox.last().map(|e| e.seq);
    let checkpoint = match cp.encoded {
        Some(encoded) => std::borrow::Cow::Borrowed(encoded.state.as_str()),
        None => std::borrow::Cow::Owned(rows::checkpoint_json(cp.state)?),
    };
    let status = cp.state.status.name();
    let next_due = cp.state.next_due_ms().map(i64_of);
    tx.prepare_cached(update_sql(head.status != status, head.next_due != next_due))
        .and_then(|mut s| {
            s.execute(params![
                id,
                status,
                i64_of(head.revision + 1),
                checkpoint,
                i64_of(history_len),
                outbox_len.map(i64_of),
                i64_of(cp.now_ms),
                next_due,
                i64_of(cp.state.inbox_taken),
            ])
        })
        .map_err(backend)?;
    Ok(Committed { revision: head.revision + 1, inbox_len: head.inbox_len })
}

/// The commit's `UPDATE` of the instance row (parameters: `?1` id, `?2` status, `?3` revision, `?4`
/// checkpoint, `?5` history length, `?6` outbox length or NULL, `?7` time, `?8` next due, `?9` inbox
/// position; the statement's parameter count is its highest number, so a parameter left unused is bound
/// all the same), setting `status` and `next_due` only when they change: SQLite rewrites every index on a
/// column the statement sets, changed or not, and each rewritten page is one more log frame to write and
/// sync (`instances_by_status` and `instances_ready`: a running loop's commit wrote 5.58 log frames, now 3.84).
fn update_sql(status_changes: bool, next_due_changes: bool) -> &'static str {
    // The statement setting what every commit sets, and the columns given.
    macro_rules! update {
        ($($column:literal)*) => {
            concat!(
                "UPDATE instances SET revision = ?3, checkpoint = ?4, history_len = ?5, ",
                "outbox_len = coalesce(?6, outbox_len), updated_ms = ?7, inbox_taken = ?9",
                $(", ", $column,)*
                " WHERE id = ?1"
            )
        };
    }
    match (status_changes, next_due_changes) {
        (true, true) => update!("status = ?2" "next_due = ?8"),
        (true, false) => update!("status = ?2"),
        (false, true) => update!("next_due = ?8"),
        (false, false) => update!(),
    }
}

/// Append `cp`'s history row, outbox rows (a cursor row for each sink new to the instance) and
/// acknowledgements after `head`; the history length after it.
fn append(tx: &Connection, id: &str, head: &Head, cp: &Checkpoint<'_>) -> Result<u64, StoreError> {
    let mut history_len = head.history_len;
    // One row per commit: a superstep's records are written and read together.
    if !cp.history.is_empty() {
        history_len += 1;
        let json = match cp.encoded.and_then(|e| e.history.as_deref()) {
            Some(json) => std::borrow::Cow::Borrowed(json),
            None => std::borrow::Cow::Owned(
                serde_json::to_string(cp.history).map_err(|e| StoreError::Backend(e.to_string()))?,
            ),
        };
        tx.prepare_cached("INSERT INTO history (instance, seq, entries) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![id, i64_of(history_len), json]))
            .map_err(backend)?;
    }
    if !cp.outbox.is_empty() {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO outbox (instance, seq, event_id, topic, sink, cloudevent) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(backend)?;
        let mut cursor = tx
            .prepare_cached(
                "INSERT INTO sink_cursors (instance, sink, acked_through) VALUES (?1, ?2, 0) ON CONFLICT DO NOTHING",
            )
            .map_err(backend)?;
        let mut last_sink = None;
        for e in cp.outbox {
            insert.execute(params![id, i64_of(e.seq), e.id, e.topic, e.sink, e.json]).map_err(backend)?;
            if last_sink != Some(&e.sink) {
                cursor.execute(params![id, e.sink]).map_err(backend)?;
                last_sink = Some(&e.sink);
            }
        }
    }
    for (sink, seq) in cp.acks {
        ack(tx, id, sink, *seq)?;
    }
    Ok(history_len)
}

/// Keep the instance's rows in `correlations` those of `cp`'s open awaits that have a key (an instance that
/// had none and has none writes nothing).
fn correlate(tx: &Connection, id: &str, head: &Head, cp: &Checkpoint<'_>) -> Result<(), StoreError> {
    // A run that has ended awaits nothing, whatever its last state lists.
    let open = if cp.state.status.is_final() { &[][..] } else { &cp.state.awaits[..] };
    let keyed: Vec<(&str, &str)> =
        open.iter().filter_map(|a| a.key.as_deref().map(|k| (a.event.as_str(), k))).collect();
    if head.correlated == 0 && keyed.is_empty() {
        return Ok(());
    }
    tx.prepare_cached("DELETE FROM correlations WHERE instance = ?1")
        .and_then(|mut s| s.execute([id]))
        .map_err(backend)?;
    let mut insert = tx
        .prepare_cached("INSERT INTO correlations (instance, process, event, key) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?;
    for (event, key) in &keyed {
        insert.execute(params![id, head.process, event, key]).map_err(backend)?;
    }
    tx.prepare_cached("UPDATE instances SET correlated = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, i64_of(keyed.len() as u64)]))
        .map_err(backend)?;
    Ok(())
}

pub fn repin(tx: &Transaction<'_>, pinned: &Pinned<'_>, commit: &Commit<'_>) -> Result<Committed, StoreError> {
    let revision = commit_in(tx, commit)?;
    let id = commit.id;
    tx.execute("DELETE FROM pins WHERE instance = ?1", [id]).map_err(backend)?;
    pin(tx, id, &pinned.pinned_blobs())?;
    let components = serde_json::to_string(pinned.components).map_err(|e| StoreError::Backend(e.to_string()))?;
    tx.execute(
        "UPDATE instances SET definition_file = ?2, version = ?3, definition_digest = ?4, components = ?5, \
         layout_digest = ?6 WHERE id = ?1",
        params![id, pinned.definition_file, pinned.version, pinned.definition_digest, components, pinned.layout_digest],
    )
    .map_err(backend)?;
    Ok(revision)
}

/// The instance and position that received an event with `source` and `id`, if any.
pub fn received_by(conn: &Connection, source: &str, id: &str) -> Result<Option<(String, u64)>, StoreError> {
    conn.prepare_cached("SELECT instance, seq FROM inbox WHERE source = ?1 AND event_id = ?2")
        .and_then(|mut s| s.query_row(params![source, id], |r| Ok((r.get(0)?, u64_at(r, 1)?))).optional())
        .map_err(backend)
}

/// Put `event` in the inbox of `id` at position `seq`.
fn receive(tx: &Connection, id: &str, seq: u64, event: &Inbound<'_>) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO inbox (instance, seq, source, event_id, kind, event_type, data, received_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            i64_of(seq),
            event.source,
            event.id,
            event.kind.name(),
            event.event_type,
            event.data,
            i64_of(event.received_ms)
        ])
    })
    .map_err(backend)?;
    tx.prepare_cached("UPDATE instances SET inbox_len = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, i64_of(seq)]))
        .map_err(backend)?;
    Ok(())
}

pub fn append_inbox(tx: &Transaction<'_>, id: &str, event: &Inbound<'_>) -> Result<Appended, StoreError> {
    let head = head(tx, id)?;
    if let Some((instance, seq)) = received_by(tx, event.source, event.id)? {
        return Ok(Appended::Duplicate { instance, seq });
    }
    if head.ended() {
        return Err(StoreError::Ended { instance: id.into(), status: head.status });
    }
    receive(tx, id, head.inbox_len + 1, event)?;
    Ok(Appended::New(head.inbox_len + 1))
}

pub fn acquire(tx: &Transaction<'_>, id: &str, owner: &str, now_ms: u64, until_ms: u64) -> Result<Lease, StoreError> {
    let epoch = head(tx, id)?.tenure().take(id, owner, now_ms)?;
    tx.prepare_cached("UPDATE instances SET lease_owner = ?2, lease_until = ?3, epoch = ?4 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, owner, i64_of(until_ms), i64_of(epoch)]))
        .map_err(backend)?;
    Ok(Lease { owner: owner.into(), epoch })
}

pub fn renew(tx: &Transaction<'_>, owner: &str, until_ms: u64) -> Result<usize, StoreError> {
    tx.prepare_cached("UPDATE instances SET lease_until = ?2 WHERE lease_owner = ?1")
        .and_then(|mut s| s.execute(params![owner, i64_of(until_ms)]))
        .map_err(backend)
}

pub fn release(tx: &Transaction<'_>, id: &str, lease: &Lease) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE instances SET lease_owner = NULL, lease_until = 0 WHERE id = ?1 AND lease_owner = ?2 AND epoch = ?3",
    )
    .and_then(|mut s| s.execute(params![id, lease.owner, i64_of(lease.epoch)]))
    .map_err(backend)?;
    Ok(())
}

pub fn ack(tx: &Connection, id: &str, sink: &str, seq: u64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO sink_cursors (instance, sink, acked_through) VALUES (?1, ?2, ?3) \
         ON CONFLICT (instance, sink) DO UPDATE SET acked_through = excluded.acked_through \
         WHERE excluded.acked_through > sink_cursors.acked_through",
    )
    .and_then(|mut s| s.execute(params![id, sink, i64_of(seq)]))
    .map_err(backend)?;
    Ok(())
}

pub fn dead_letter(
    tx: &Transaction<'_>,
    id: &str,
    sink: &str,
    seq: u64,
    reason: &str,
    now_ms: u64,
) -> Result<(), StoreError> {
    rows::exists(tx, id)?;
    tx.prepare_cached(
        "INSERT INTO dead_letters (instance, seq, sink, reason, at_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (instance, seq) DO UPDATE SET reason = excluded.reason, at_ms = excluded.at_ms",
    )
    .and_then(|mut s| s.execute(params![id, i64_of(seq), sink, reason, i64_of(now_ms)]))
    .map_err(backend)?;
    ack(tx, id, sink, seq)
}

pub fn redelivered(tx: &Transaction<'_>, id: &str, seq: u64) -> Result<(), StoreError> {
    tx.execute("DELETE FROM dead_letters WHERE instance = ?1 AND seq = ?2", params![id, i64_of(seq)])
        .map_err(backend)?;
    Ok(())
}

/// Delete `id` (which must be deletable at `now_ms`) and what only it refers to; how many blobs went.
pub fn delete(tx: &Transaction<'_>, id: &str, now_ms: u64) -> Result<usize, StoreError> {
    delete_rows(tx, id, now_ms)?;
    sweep_blobs(tx)
}

/// Delete `id` (which must be deletable at `now_ms`) and its rows; its blobs are left to [`sweep_blobs`].
fn delete_rows(tx: &Transaction<'_>, id: &str, now_ms: u64) -> Result<(), StoreError> {
    head(tx, id)?.deletable(id, now_ms)?;
    for table in ["history", "outbox", "inbox", "correlations", "sink_cursors", "dead_letters", "pins"] {
        tx.execute(&format!("DELETE FROM {table} WHERE instance = ?1"), [id]).map_err(backend)?;
    }
    tx.execute("DELETE FROM instances WHERE id = ?1", [id]).map_err(backend)?;
    Ok(())
}

/// Delete every blob neither an instance nor a deployment is pinned to: those of deleted instances, and
/// those an upgrade left behind (a rebound instance is pinned to its new version only); how many went.
fn sweep_blobs(tx: &Transaction<'_>) -> Result<usize, StoreError> {
    tx.prepare_cached(
        "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM pins WHERE pins.digest = blobs.digest) \
         AND NOT EXISTS (SELECT 1 FROM deployment_pins d WHERE d.digest = blobs.digest)",
    )
    .and_then(|mut s| s.execute([]))
    .map_err(backend)
}

pub fn prune(tx: &Transaction<'_>, ended_before_ms: u64, now_ms: u64, limit: usize) -> Result<Pruned, StoreError> {
    let ids: Vec<String> = {
        let sql = format!(
            "SELECT id FROM instances WHERE status IN {FINAL_STATUSES} AND updated_ms < ?1 \
             AND (lease_owner IS NULL OR lease_until < ?2) ORDER BY updated_ms LIMIT ?3"
        );
        let mut stmt = tx.prepare(&sql).map_err(backend)?;
        let ids = stmt
            .query_map(params![i64_of(ended_before_ms), i64_of(now_ms), page(limit)], |r| r.get(0))
            .map_err(backend)?;
        ids.collect::<Result<_, _>>().map_err(backend)?
    };
    for id in &ids {
        delete_rows(tx, id, now_ms)?;
    }
    Ok(Pruned { blobs: sweep_blobs(tx)?, instances: ids })
}
