//! Reading rows of the SQLite store back into the store's types. SQLite integers are signed 64-bit; the
//! store's counters are `u64` below 2^63, converted here in one place.

use rusqlite::{Connection, Row};

use crate::runner::RunState;
use crate::store::{InstanceInfo, OutboxEvent, StoreError};

/// The columns [`info`] reads, in its order.
pub const INFO_COLUMNS: &str = "id, process, version, status, definition_file, definition_digest, components, \
                                revision, created_ms, updated_ms, owner";
/// How many columns [`INFO_COLUMNS`] names.
pub const INFO_COUNT: usize = 11;

/// `n` as an SQLite integer (saturating at `i64::MAX`).
pub fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Column `i` as a `u64` (a negative value reads as 0).
pub fn u64_at(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
}

/// An [`InstanceInfo`] from the [`INFO_COLUMNS`] at the start of `row`.
pub fn info(row: &Row<'_>) -> Result<InstanceInfo, StoreError> {
    let read = || -> rusqlite::Result<(InstanceInfo, String)> {
        let info = InstanceInfo {
            id: row.get(0)?,
            process: row.get(1)?,
            version: row.get(2)?,
            status: row.get(3)?,
            definition_file: row.get(4)?,
            definition_digest: row.get(5)?,
            components: Vec::new(),
            revision: u64_at(row, 7)?,
            created_ms: u64_at(row, 8)?,
            updated_ms: u64_at(row, 9)?,
            owner: row.get(10)?,
        };
        Ok((info, row.get(6)?))
    };
    let (mut info, components) = read().map_err(|e| StoreError::Damaged(e.to_string()))?;
    info.components = serde_json::from_str(&components)
        .map_err(|e| StoreError::Damaged(format!("the components of instance \"{}\": {e}", info.id)))?;
    Ok(info)
}

/// The checkpoint text of `state`.
pub fn checkpoint_json(state: &RunState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|e| StoreError::Backend(format!("cannot write the checkpoint: {e}")))
}

/// The outbox of `id` in order; only the unpublished events when `unpublished_only`.
pub fn outbox(conn: &Connection, id: &str, unpublished_only: bool) -> Result<Vec<OutboxEvent>, StoreError> {
    let sql = "SELECT seq, event_id, cloudevent FROM outbox WHERE instance = ?1 \
               AND seq > CASE WHEN ?2 THEN (SELECT published_len FROM instances WHERE id = ?1) ELSE 0 END ORDER BY seq";
    outbox_rows(conn, sql, rusqlite::params![id, i64::from(unpublished_only)])
}

/// The published outbox events of `id` sent to one of `topics` (a JSON array of names) that have no
/// delivery recorded, in order.
pub fn undelivered(conn: &Connection, id: &str, topics: &str) -> Result<Vec<OutboxEvent>, StoreError> {
    let sql = "SELECT seq, event_id, cloudevent FROM outbox WHERE instance = ?1 \
               AND seq <= (SELECT published_len FROM instances WHERE id = ?1) \
               AND json_extract(cloudevent, '$.wefttopic') IN (SELECT value FROM json_each(?2)) \
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.instance = ?1 AND d.event_id = outbox.event_id) \
               ORDER BY seq";
    outbox_rows(conn, sql, rusqlite::params![id, topics])
}

fn outbox_rows(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<OutboxEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(super::backend)?;
    let events = stmt
        .query_map(params, |r| Ok(OutboxEvent { seq: u64_at(r, 0)?, id: r.get(1)?, json: r.get(2)? }))
        .map_err(super::backend)?;
    events.map(|e| e.map_err(super::backend)).collect()
}
