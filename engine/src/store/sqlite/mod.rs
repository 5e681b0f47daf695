//! The embedded store: one SQLite file (the library is bundled, so nothing needs installing), in WAL mode.
//!
//! The file is marked as Weft's with `PRAGMA application_id` ("WEFT") and carries its schema version in
//! `PRAGMA user_version`; the schema is built by the versioned files in `migrations/`, each applied once,
//! in order, in its own transaction. A file that is not an SQLite database, belongs to another program,
//! comes from a newer Weft, or is damaged is refused with [`StoreError::Unusable`] and never written to.
//!
//! Commits are fully synchronous by default ([`Durability::Full`]: `synchronous=FULL`, durable across
//! power loss). [`Durability::Normal`] (`synchronous=NORMAL`) is faster; in WAL mode it still never
//! corrupts the file, but the last commits before a power loss or an operating-system crash (not a crash
//! of `weft` itself) may be lost, so a run may redo its last supersteps and publish their events again.

mod rows;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use crate::runner::HistoryEntry;
use crate::store::{Commit, InstanceInfo, Loaded, NewInstance, OutboxEvent, Pinned, Store, StoreError};

/// `PRAGMA application_id` of a Weft store: "WEFT" in ASCII.
pub const APPLICATION_ID: i32 = 0x5745_4654;

/// The schema migrations, by version: version `n` is the `n`-th file.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_instances.sql"),
    include_str!("migrations/0002_append_only_logs.sql"),
    include_str!("migrations/0003_deliveries.sql"),
];

/// The schema version this Weft writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How much a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: faster; the last commits may be lost on power loss (see the module docs).
    Normal,
}

/// A store in one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteStore {
    /// Open (or create) the store at `path`, creating its folder, and bring its schema up to date.
    ///
    /// Errors: [`StoreError::Unusable`] for a file that is not a Weft store, is from a newer Weft, or is
    /// damaged (left untouched); [`StoreError::Backend`] when it cannot be opened.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("cannot create the folder {}: {e}", dir.display())))?;
        }
        let conn =
            Connection::open(path).map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        SqliteStore::init(conn, path, durability)
    }

    /// A store in memory, gone when dropped (for tests and transient runs).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Backend(e.to_string()))?;
        SqliteStore::init(conn, Path::new(":memory:"), Durability::Full)
    }

    /// The file it keeps its data in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn init(mut conn: Connection, path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let unusable = |why: String| StoreError::Unusable(format!("{}: {why}; it was left untouched", path.display()));
        conn.busy_timeout(Duration::from_secs(10)).map_err(backend)?;
        let application_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(|e| {
            unusable(format!(
                "not a Weft store ({e}); give --store (or WEFT_STORE) the path of a Weft store or a new file"
            ))
        })?;
        let version: i64 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| unusable(e.to_string()))?;
        if application_id != APPLICATION_ID {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| unusable(e.to_string()))?;
            if application_id != 0 || tables > 0 {
                return Err(unusable(
                    "an SQLite database of another program, not a Weft store; give --store (or WEFT_STORE) another path"
                        .into(),
                ));
            }
        }
        if version > SCHEMA_VERSION {
            return Err(unusable(format!(
                "written by a newer Weft (store schema version {version}; this Weft knows up to {SCHEMA_VERSION}); \
                 use that Weft or a newer one"
            )));
        }
        if path != Path::new(":memory:") {
            conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                .map_err(|e| unusable(e.to_string()))?;
        }
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!("PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON;")).map_err(backend)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            tx.execute_batch(sql).map_err(|e| unusable(format!("schema migration {} failed: {e}", i + 1)))?;
            tx.execute_batch(&format!("PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={};", i + 1))
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
        }
        Ok(SqliteStore { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction drops the transaction, which rolls it back: the connection stays usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A database error as a [`StoreError`]: damage is [`StoreError::Damaged`], the rest [`StoreError::Backend`].
fn backend(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Damaged(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

/// The revision, owner and counters of an instance, read inside a transaction.
struct Head {
    revision: u64,
    owner: Option<String>,
    history_len: u64,
    outbox_len: u64,
    /// Outbox rows up to this position are published.
    published_len: u64,
}

impl Head {
    /// The history and outbox lengths once `commit` is appended: one history row per commit that has
    /// records, one outbox row per event.
    fn lengths_after(&self, commit: &Commit<'_>) -> (u64, u64) {
        (self.history_len + u64::from(!commit.history.is_empty()), self.outbox_len + commit.outbox.len() as u64)
    }
}

fn head(tx: &Connection, id: &str) -> Result<Head, StoreError> {
    tx.prepare_cached("SELECT revision, owner, history_len, outbox_len, published_len FROM instances WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id], |r| {
                Ok(Head {
                    revision: rows::u64_at(r, 0)?,
                    owner: r.get(1)?,
                    history_len: rows::u64_at(r, 2)?,
                    outbox_len: rows::u64_at(r, 3)?,
                    published_len: rows::u64_at(r, 4)?,
                })
            })
            .optional()
        })
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(id.into()))
}

/// Append `commit`'s history and outbox after `head`.
fn append(tx: &Connection, id: &str, head: &Head, commit: &Commit<'_>) -> Result<(), StoreError> {
    // One row per commit: a superstep's records are written and read together.
    if !commit.history.is_empty() {
        let json = serde_json::to_string(commit.history).map_err(|e| StoreError::Backend(e.to_string()))?;
        tx.prepare_cached("INSERT INTO history (instance, seq, entries) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![id, rows::i64_of(head.history_len + 1), json]))
            .map_err(backend)?;
    }
    let mut insert = tx
        .prepare_cached("INSERT INTO outbox (instance, seq, event_id, cloudevent) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?;
    for (i, (event_id, json)) in commit.outbox.iter().enumerate() {
        insert.execute(params![id, rows::i64_of(head.outbox_len + 1 + i as u64), event_id, json]).map_err(backend)?;
    }
    Ok(())
}

/// Save `commit` after `expected_revision` inside transaction `tx`; the new revision.
fn commit_in(tx: &Connection, id: &str, expected_revision: u64, commit: &Commit<'_>) -> Result<u64, StoreError> {
    let head = head(tx, id)?;
    if head.owner.as_deref() != Some(commit.owner) {
        let owner = head.owner.unwrap_or_else(|| "nobody".into());
        return Err(StoreError::Held { instance: id.into(), owner });
    }
    if head.revision != expected_revision {
        return Err(StoreError::Conflict { instance: id.into(), expected: expected_revision });
    }
    append(tx, id, &head, commit)?;
    let (history_len, outbox_len) = head.lengths_after(commit);
    let checkpoint = rows::checkpoint_json(commit.state)?;
    tx.prepare_cached(
        "UPDATE instances SET status = ?2, revision = ?3, checkpoint = ?4, history_len = ?5, outbox_len = ?6, \
         updated_ms = ?7, published_len = ?8 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            commit.state.status.name(),
            rows::i64_of(head.revision + 1),
            checkpoint,
            rows::i64_of(history_len),
            rows::i64_of(outbox_len),
            rows::i64_of(commit.now_ms),
            rows::i64_of(head.published_len.max(commit.published_through)),
        ])
    })
    .map_err(backend)?;
    Ok(head.revision + 1)
}

fn put_blob(tx: &Connection, digest: &str, content: &[u8]) -> Result<(), StoreError> {
    let known: Option<i64> =
        tx.query_row("SELECT 1 FROM blobs WHERE digest = ?1", [digest], |r| r.get(0)).optional().map_err(backend)?;
    if known.is_none() {
        tx.execute("INSERT INTO blobs (digest, content) VALUES (?1, ?2)", params![digest, content]).map_err(backend)?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn create(&self, new: &NewInstance<'_>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let info = new.info;
        let exists: Option<i64> = tx
            .query_row("SELECT 1 FROM instances WHERE id = ?1", [&info.id], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if exists.is_some() {
            return Err(StoreError::AlreadyExists(info.id.clone()));
        }
        put_blob(&tx, &info.definition_digest, new.definition)?;
        for (digest, content) in &new.blobs {
            put_blob(&tx, digest, content)?;
        }
        let checkpoint = rows::checkpoint_json(new.commit.state)?;
        let components = serde_json::to_string(&info.components).map_err(|e| StoreError::Backend(e.to_string()))?;
        let head =
            Head { revision: 1, owner: Some(new.commit.owner.into()), history_len: 0, outbox_len: 0, published_len: 0 };
        let (history_len, outbox_len) = head.lengths_after(&new.commit);
        tx.execute(
            "INSERT INTO instances (id, process, version, status, definition_file, definition_digest, components, \
             revision, checkpoint, history_len, outbox_len, created_ms, updated_ms, owner, published_len) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?11, ?12, ?9, ?9, ?10, ?13)",
            params![
                info.id,
                info.process,
                info.version,
                new.commit.state.status.name(),
                info.definition_file,
                info.definition_digest,
                components,
                checkpoint,
                rows::i64_of(new.commit.now_ms),
                new.commit.owner,
                rows::i64_of(history_len),
                rows::i64_of(outbox_len),
                rows::i64_of(new.commit.published_through),
            ],
        )
        .map_err(backend)?;
        append(&tx, &info.id, &head, &new.commit)?;
        tx.commit().map_err(backend)
    }

    fn load(&self, id: &str) -> Result<Loaded, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {}, checkpoint, outbox_len FROM instances WHERE id = ?1", rows::INFO_COLUMNS),
                [id],
                |r| Ok((rows::info(r), r.get::<_, String>(rows::INFO_COUNT)?, rows::u64_at(r, rows::INFO_COUNT + 1)?)),
            )
            .optional()
            .map_err(backend)?
            .ok_or_else(|| StoreError::NotFound(id.into()))?;
        let info = row.0?;
        let state = serde_json::from_str(&row.1)
            .map_err(|e| StoreError::Damaged(format!("the checkpoint of instance \"{id}\" cannot be read: {e}")))?;
        Ok(Loaded { info, state, outbox_len: row.2 })
    }

    fn commit(&self, id: &str, expected_revision: u64, commit: &Commit<'_>) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let revision = commit_in(&tx, id, expected_revision, commit)?;
        tx.commit().map_err(backend)?;
        Ok(revision)
    }

    fn repin(
        &self,
        id: &str,
        expected_revision: u64,
        pinned: &Pinned<'_>,
        commit: &Commit<'_>,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let revision = commit_in(&tx, id, expected_revision, commit)?;
        put_blob(&tx, pinned.definition_digest, pinned.definition)?;
        for (digest, content) in &pinned.blobs {
            put_blob(&tx, digest, content)?;
        }
        let components = serde_json::to_string(pinned.components).map_err(|e| StoreError::Backend(e.to_string()))?;
        tx.execute(
            "UPDATE instances SET definition_file = ?2, version = ?3, definition_digest = ?4, components = ?5 \
             WHERE id = ?1",
            params![id, pinned.definition_file, pinned.version, pinned.definition_digest, components],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(revision)
    }

    fn acquire(&self, id: &str, owner: &str, gone: &dyn Fn(&str) -> bool) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let head = head(&tx, id)?;
        if let Some(holder) = head.owner.filter(|h| h != owner && !gone(h)) {
            return Err(StoreError::Held { instance: id.into(), owner: holder });
        }
        tx.execute("UPDATE instances SET owner = ?2 WHERE id = ?1", params![id, owner]).map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn release(&self, id: &str, owner: &str, published_through: u64) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        tx.execute(
            "UPDATE instances SET owner = NULL, published_len = max(published_len, ?3) WHERE id = ?1 AND owner = ?2",
            params![id, owner, rows::i64_of(published_through)],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn unpublished(&self, id: &str) -> Result<Vec<OutboxEvent>, StoreError> {
        rows::outbox(&self.conn(), id, true)
    }

    fn outbox(&self, id: &str) -> Result<Vec<OutboxEvent>, StoreError> {
        rows::outbox(&self.conn(), id, false)
    }

    fn undelivered(&self, id: &str, topics: &[&str]) -> Result<Vec<OutboxEvent>, StoreError> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let topics = serde_json::to_string(topics).map_err(|e| StoreError::Backend(e.to_string()))?;
        rows::undelivered(&self.conn(), id, &topics)
    }

    fn delivered(&self, id: &str, event_ids: &[String]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO deliveries (instance, event_id) VALUES (?1, ?2)")
                .map_err(backend)?;
            for event in event_ids {
                insert.execute(params![id, event]).map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let conn = self.conn();
        head(&conn, id)?;
        let mut stmt = conn.prepare("SELECT entries FROM history WHERE instance = ?1 ORDER BY seq").map_err(backend)?;
        let texts = stmt.query_map([id], |r| r.get::<_, String>(0)).map_err(backend)?;
        let mut entries = Vec::new();
        for text in texts {
            let text = text.map_err(backend)?;
            let commit: Vec<HistoryEntry> = serde_json::from_str(&text)
                .map_err(|e| StoreError::Damaged(format!("the history of \"{id}\": {e}")))?;
            entries.extend(commit);
        }
        Ok(entries)
    }

    fn list(&self, status: Option<&str>) -> Result<Vec<InstanceInfo>, StoreError> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {} FROM instances WHERE ?1 IS NULL OR status = ?1 ORDER BY created_ms DESC, id",
            rows::INFO_COLUMNS
        );
        let mut stmt = conn.prepare(&sql).map_err(backend)?;
        let infos = stmt.query_map([status], |r| Ok(rows::info(r))).map_err(backend)?;
        infos.map(|i| i.map_err(backend)?).collect()
    }

    fn blob(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn()
            .query_row("SELECT content FROM blobs WHERE digest = ?1", [digest], |r| r.get(0))
            .optional()
            .map_err(backend)
    }
}
