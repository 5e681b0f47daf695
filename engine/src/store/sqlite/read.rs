//! The SQLite store's reads: each runs on a reader connection, so none waits for a writer's disk flush.
//! Lists and logs are read a page at a time, by keyset (never by offset).

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};

use crate::runner::{HistoryEntry, RunState};
use crate::store::{
    DeadLetter, InboxEvent, InboxKind, InstanceInfo, ListCursor, ListFilter, Loaded, OutboxEvent, StoreError,
};

use super::backend;
use super::rows::{self, FINAL_STATUSES, INFO_COLUMNS, OUTBOX_COLUMNS, i64_of, page, u64_at};

pub fn load(conn: &Connection, id: &str) -> Result<Loaded, StoreError> {
    let sql = format!("SELECT {INFO_COLUMNS}, checkpoint, outbox_len, inbox_len FROM instances WHERE id = ?1");
    let row = conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row([id], |r| {
                let info = rows::info(r);
                Ok((
                    info,
                    r.get::<_, String>(rows::INFO_COUNT)?,
                    u64_at(r, rows::INFO_COUNT + 1)?,
                    u64_at(r, rows::INFO_COUNT + 2)?,
                ))
            })
            .optional()
        })
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(id.into()))?;
    let info = row.0?;
    let state = RunState::from_checkpoint(&row.1)
        .map_err(|e| StoreError::Damaged(format!("the checkpoint of instance \"{id}\": {e}")))?;
    Ok(Loaded { info, state, outbox_len: row.2, inbox_len: row.3 })
}

pub fn unacked(conn: &Connection, id: &str, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
    // Seek past what every sink acknowledged, then compare each event with its own sink's cursor.
    let sql = format!(
        "SELECT {} FROM outbox o JOIN sink_cursors c ON c.instance = o.instance AND c.sink = o.sink \
         WHERE o.instance = ?1 AND o.seq > ?2 \
         AND o.seq > (SELECT min(acked_through) FROM sink_cursors WHERE instance = ?1) \
         AND o.seq > c.acked_through ORDER BY o.seq LIMIT ?3",
        OUTBOX_COLUMNS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", ")
    );
    rows::exists(conn, id)?;
    rows::outbox_rows(conn, &sql, params![id, i64_of(after), page(limit)])
}

pub fn outbox(conn: &Connection, id: &str, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
    let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE instance = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    rows::exists(conn, id)?;
    rows::outbox_rows(conn, &sql, params![id, i64_of(after), page(limit)])
}

pub fn dead_letters(conn: &Connection, id: &str) -> Result<Vec<DeadLetter>, StoreError> {
    rows::exists(conn, id)?;
    let mut stmt = conn
        .prepare_cached("SELECT seq, sink, reason, at_ms FROM dead_letters WHERE instance = ?1 ORDER BY seq")
        .map_err(backend)?;
    let letters = stmt
        .query_map([id], |r| {
            Ok(DeadLetter { seq: u64_at(r, 0)?, sink: r.get(1)?, reason: r.get(2)?, at_ms: u64_at(r, 3)? })
        })
        .map_err(backend)?;
    letters.map(|l| l.map_err(backend)).collect()
}

pub fn history(
    conn: &Connection,
    id: &str,
    after: u64,
    limit: usize,
) -> Result<(Vec<HistoryEntry>, Option<u64>), StoreError> {
    rows::exists(conn, id)?;
    let mut stmt = conn
        .prepare_cached("SELECT seq, entries FROM history WHERE instance = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")
        .map_err(backend)?;
    // One more than asked for tells whether there is a next page.
    let texts = stmt
        .query_map(params![id, i64_of(after), page(limit.saturating_add(1))], |r| {
            Ok((u64_at(r, 0)?, r.get::<_, String>(1)?))
        })
        .map_err(backend)?;
    let mut entries = Vec::new();
    let (mut last, mut read) = (after, 0);
    for text in texts {
        let (seq, text) = text.map_err(backend)?;
        if read == limit {
            return Ok((entries, Some(last)));
        }
        let commit: Vec<HistoryEntry> = serde_json::from_str(&text)
            .map_err(|e| StoreError::Damaged(format!("the history of \"{id}\" at commit {seq}: {e}")))?;
        entries.extend(commit);
        (last, read) = (seq, read + 1);
    }
    Ok((entries, None))
}

pub fn list(
    conn: &Connection,
    filter: &ListFilter,
    after: Option<&ListCursor>,
    limit: usize,
) -> Result<Vec<InstanceInfo>, StoreError> {
    let sql = list_sql(filter, after.is_some());
    let (created, id) = after.map(|c| (Some(i64_of(c.created_ms)), Some(c.id.as_str()))).unwrap_or_default();
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    // Every number is bound, used or not: SQLite counts parameters up to the highest, ?5.
    let infos = stmt
        .query_map(params![filter.status, filter.process, created, id, page(limit)], |r| Ok(rows::info(r)))
        .map_err(backend)?;
    infos.map(|i| i.map_err(backend)?).collect()
}

/// The listing's query for `filter`, paged after a cursor or not: only the filters given are in it, so
/// that an index (migration 0007) answers each shape in order, and the keyset is a range on `created_ms`
/// the index seeks to. Parameters: ?1 status, ?2 process, ?3 and ?4 the cursor, ?5 the limit; every one
/// is bound, used or not (SQLite counts parameters up to the highest).
pub(super) fn list_sql(filter: &ListFilter, after: bool) -> String {
    let mut sql = format!("SELECT {INFO_COLUMNS} FROM instances WHERE 1");
    if filter.status.is_some() {
        sql.push_str(" AND status = ?1");
    }
    if filter.process.is_some() {
        sql.push_str(" AND process = ?2");
    }
    if after {
        sql.push_str(" AND created_ms <= ?3 AND (created_ms < ?3 OR id > ?4)");
    }
    sql.push_str(" ORDER BY created_ms DESC, id LIMIT ?5");
    sql
}

/// The scheduler's query: two index reads (migration 0007), each limited, merged: runs not ended with
/// events waiting in their inbox first, then the most overdue. Held instances are skipped unless their lease
/// lapsed. Parameters: ?1 due by (ms), ?2 now (ms), ?3 the limit. (`+status NOT IN` the one SQL list of
/// final statuses: the status is checked on the few rows the inbox index gives, not looked up through the
/// status index, which holds every run.)
pub(super) static READY_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id FROM ( \
           SELECT id, 0 AS due FROM (SELECT id FROM instances WHERE inbox_len > inbox_taken \
             AND +status NOT IN {FINAL_STATUSES} AND (lease_owner IS NULL OR lease_until < ?2) ORDER BY id LIMIT ?3) \
           UNION ALL \
           SELECT id, due FROM (SELECT id, next_due AS due FROM instances WHERE next_due <= ?1 \
             AND NOT (inbox_len > inbox_taken) AND (lease_owner IS NULL OR lease_until < ?2) \
             ORDER BY next_due, id LIMIT ?3)) \
         ORDER BY due, id LIMIT ?3"
    )
});

pub fn ready(conn: &Connection, due_by_ms: u64, now_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(&READY_SQL).map_err(backend)?;
    let ids = stmt.query_map(params![i64_of(due_by_ms), i64_of(now_ms), page(limit)], |r| r.get(0)).map_err(backend)?;
    ids.map(|i| i.map_err(backend)).collect()
}

/// Instances in id order from `after`, each with a seek per sink cursor into its outbox past what the sink
/// acknowledged (run once when a server starts, not per poll). Parameters: ?1 after, ?2 limit.
const UNPUBLISHED_SQL: &str = "SELECT i.id FROM instances i WHERE i.id > ?1 \
       AND EXISTS (SELECT 1 FROM sink_cursors c JOIN outbox o \
                     ON o.instance = c.instance AND o.seq > c.acked_through AND o.sink = c.sink \
                   WHERE c.instance = i.id) \
     ORDER BY i.id LIMIT ?2";

pub fn unpublished(conn: &Connection, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(UNPUBLISHED_SQL).map_err(backend)?;
    let ids = stmt.query_map(params![after, page(limit)], |r| r.get(0)).map_err(backend)?;
    ids.map(|i| i.map_err(backend)).collect()
}

pub fn inbox(conn: &Connection, id: &str, after: u64, limit: usize) -> Result<Vec<InboxEvent>, StoreError> {
    rows::exists(conn, id)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, source, event_id, kind, event_type, data, received_ms FROM inbox \
             WHERE instance = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(backend)?;
    let events = stmt
        .query_map(params![id, i64_of(after), page(limit)], |r| {
            Ok((
                u64_at(r, 0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                u64_at(r, 6)?,
            ))
        })
        .map_err(backend)?;
    events
        .map(|e| {
            let (seq, source, id, kind, event_type, data, received_ms) = e.map_err(backend)?;
            let kind = InboxKind::from_name(&kind)
                .ok_or_else(|| StoreError::Damaged(format!("inbox event {seq} has the kind \"{kind}\"")))?;
            Ok(InboxEvent { seq, source, id, kind, event_type, data, received_ms })
        })
        .collect()
}

pub fn correlated(
    conn: &Connection,
    process: &str,
    event: &str,
    key: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT instance FROM correlations WHERE process = ?1 AND event = ?2 AND key = ?3 \
             ORDER BY instance LIMIT ?4",
        )
        .map_err(backend)?;
    let ids = stmt.query_map(params![process, event, key, page(limit)], |r| r.get(0)).map_err(backend)?;
    ids.map(|i| i.map_err(backend)).collect()
}

pub fn has_blob(conn: &Connection, digest: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM blobs WHERE digest = ?1").and_then(|mut s| s.exists([digest])).map_err(backend)
}

pub fn blob(conn: &Connection, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
    conn.prepare_cached("SELECT content FROM blobs WHERE digest = ?1")
        .and_then(|mut s| s.query_row([digest], |r| r.get(0)).optional())
        .map_err(backend)
}
