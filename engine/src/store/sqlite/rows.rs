//! Reading rows of the SQLite store back into the store's types. SQLite integers are signed 64-bit; the
//! store's counters are `u64` below 2^63, converted here in one place.

use rusqlite::{Connection, OptionalExtension, Row};

use crate::runner::RunState;
use crate::store::{Holder, InstanceInfo, OutboxEvent, StoreError};

use super::backend;

/// The columns [`info`] reads, in its order.
pub const INFO_COLUMNS: &str = "id, process, version, status, definition_file, definition_digest, components, \
                                layout_digest, revision, epoch, created_ms, updated_ms, next_due, lease_owner, \
                                lease_until";
/// How many columns [`INFO_COLUMNS`] names.
pub const INFO_COUNT: usize = 15;

/// The columns [`outbox_event`] reads, in its order.
pub const OUTBOX_COLUMNS: &str = "seq, event_id, topic, sink, cloudevent";

/// The status names of a run that has ended ([`FINAL_STATUS_NAMES`](crate::runner::state::FINAL_STATUS_NAMES)),
/// as an SQL list.
pub const FINAL_STATUSES: &str = "('completed', 'stopped', 'failed', 'cancelled')";

/// `n` as an SQLite integer (saturating at `i64::MAX`).
pub fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The page size SQLite is asked for: `limit` as an SQL integer (saturating at `i64::MAX`).
pub fn page(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Column `i` as a `u64` (a negative value reads as 0).
pub fn u64_at(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
}

/// An [`InstanceInfo`] from the [`INFO_COLUMNS`] at the start of `row`.
pub fn info(row: &Row<'_>) -> Result<InstanceInfo, StoreError> {
    let read = || -> rusqlite::Result<(InstanceInfo, String)> {
        let lease_owner: Option<String> = row.get(13)?;
        let info = InstanceInfo {
            id: row.get(0)?,
            process: row.get(1)?,
            version: row.get(2)?,
            status: row.get(3)?,
            definition_file: row.get(4)?,
            definition_digest: row.get(5)?,
            components: Vec::new(),
            layout_digest: row.get(7)?,
            revision: u64_at(row, 8)?,
            epoch: u64_at(row, 9)?,
            created_ms: u64_at(row, 10)?,
            updated_ms: u64_at(row, 11)?,
            next_due_ms: row.get::<_, Option<i64>>(12)?.map(|d| u64::try_from(d).unwrap_or(0)),
            holder: match lease_owner {
                Some(owner) => Some(Holder { owner, until_ms: u64_at(row, 14)? }),
                None => None,
            },
        };
        Ok((info, row.get(6)?))
    };
    let (mut info, components) = read().map_err(|e| StoreError::Damaged(e.to_string()))?;
    info.components = serde_json::from_str(&components)
        .map_err(|e| StoreError::Damaged(format!("the components of instance \"{}\": {e}", info.id)))?;
    Ok(info)
}

/// An [`OutboxEvent`] from the [`OUTBOX_COLUMNS`] of `row`.
pub fn outbox_event(row: &Row<'_>) -> rusqlite::Result<OutboxEvent> {
    Ok(OutboxEvent { seq: u64_at(row, 0)?, id: row.get(1)?, topic: row.get(2)?, sink: row.get(3)?, json: row.get(4)? })
}

/// The outbox events `sql` selects with `params`, in its order.
pub fn outbox_rows(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let events = stmt.query_map(params, outbox_event).map_err(backend)?;
    events.map(|e| e.map_err(backend)).collect()
}

/// The checkpoint text of `state`.
pub fn checkpoint_json(state: &RunState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|e| StoreError::Backend(format!("cannot write the checkpoint: {e}")))
}

/// Whether instance `id` exists.
///
/// Errors: [`StoreError::NotFound`].
pub fn exists(conn: &Connection, id: &str) -> Result<(), StoreError> {
    conn.prepare_cached("SELECT 1 FROM instances WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get::<_, i64>(0)).optional())
        .map_err(backend)?
        .map(drop)
        .ok_or_else(|| StoreError::NotFound(id.into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sql_list_of_final_statuses_is_the_runner_s() {
        let names: Vec<String> = crate::runner::state::FINAL_STATUS_NAMES.iter().map(|n| format!("'{n}'")).collect();
        assert_eq!(super::FINAL_STATUSES, format!("({})", names.join(", ")));
    }
}
