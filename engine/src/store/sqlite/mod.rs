//! The embedded store: one SQLite file (the library is bundled, so nothing needs installing), in WAL mode,
//! on one machine's local disk (WAL's shared memory needs it: not on a network share).
//!
//! The file is marked as Weft's with `PRAGMA application_id` ("WEFT") and carries its schema version in
//! `PRAGMA user_version`; the schema is built by the versioned files in `migrations/`, each applied once,
//! in order, in its own write transaction, which reads the version again first (so that two processes
//! opening a new store at once both succeed). A file that is not an SQLite database, belongs to another
//! program, comes from a newer Weft, or is damaged is refused with [`StoreError::Unusable`] and never
//! written to; a store that a newer schema version opens for the first time is checked whole (`PRAGMA
//! quick_check`) before it is migrated.
//!
//! One connection writes (behind a lock); reads take a connection of their own from a small pool, so that
//! a reader never queues behind a writer's disk flush (WAL lets both proceed).
//!
//! Commits are fully synchronous by default ([`Durability::Full`]: `synchronous=FULL`, durable across
//! power loss). [`Durability::Normal`] (`synchronous=NORMAL`) is faster; in WAL mode it still never
//! corrupts the file, but the last commits before a power loss or an operating-system crash (not a crash
//! of `weft` itself) may be lost (docs/durability.md says what that means for published events).

mod deployments;
mod read;
mod rows;
mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::runner::HistoryEntry;
use crate::store::{
    Appended, Commit, Committed, DeadLetter, Deployed, Deployment, Inbound, InboxEvent, InstanceInfo, Lease,
    ListCursor, ListFilter, Loaded, NewInstance, OutboxEvent, Pinned, Pruned, Store, StoreError, Write, Written,
};

/// `PRAGMA application_id` of a Weft store: "WEFT" in ASCII.
pub const APPLICATION_ID: i32 = 0x5745_4654;

/// The schema migrations, by version: version `n` is the `n`-th file.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_instances.sql"),
    include_str!("migrations/0002_append_only_logs.sql"),
    include_str!("migrations/0003_deliveries.sql"),
    include_str!("migrations/0004_leases_relay.sql"),
    include_str!("migrations/0005_inbox.sql"),
    include_str!("migrations/0006_correlations.sql"),
    include_str!("migrations/0007_indexed_reads.sql"),
    include_str!("migrations/0008_deployments.sql"),
];

/// The schema version this Weft writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How often [`SqliteStore::checkpoint_in_background`] checkpoints.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(30);

/// The write-ahead log's length, in pages, past which the writer checkpoints itself even when a thread
/// does it in the background (SQLite's default is 1,000).
pub const WAL_BOUND: u32 = 20_000;

/// Each reader connection's page cache, as SQLite's `cache_size` (negative: KiB; SQLite's default is
/// 2,000 KiB).
const READER_CACHE_KIB: i64 = -256;

/// Idle reader connections kept for reuse.
const IDLE_READERS: usize = 64;

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
    writer: Mutex<Connection>,
    /// Idle reader connections; none for an in-memory store, whose one connection does everything.
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    in_memory: bool,
    durability: Durability,
    /// Set while an unsynced write (a lease's, an acknowledgement) may have left the writer at
    /// `synchronous=NORMAL` ([`SqliteStore::write_unsynced`]).
    resync: AtomicBool,
}

impl SqliteStore {
    /// Open (or create) the store at `path`, creating its folder, and bring its schema up to date.
    ///
    /// Errors: [`StoreError::Unusable`] for a file that is not a Weft store, is from a newer Weft, is
    /// damaged, or cannot be used in WAL mode (left untouched); [`StoreError::Backend`] when it cannot be
    /// opened, or another process kept it busy for too long.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("cannot create the folder {}: {e}", dir.display())))?;
        }
        let conn =
            Connection::open(path).map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        SqliteStore::init(conn, path, durability, false)
    }

    /// A store in memory, gone when dropped (for tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Backend(e.to_string()))?;
        SqliteStore::init(conn, Path::new(":memory:"), Durability::Full, true)
    }

    /// The file it keeps its data in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn init(conn: Connection, path: &Path, durability: Durability, in_memory: bool) -> Result<Self, StoreError> {
        let unusable = |why: String| StoreError::Unusable(format!("{}: {why}; it was left untouched", path.display()));
        conn.busy_timeout(BUSY_FOR).map_err(backend)?;
        // One read transaction, so that the three agree even while another process creates the store.
        let inspect = || {
            let tx = conn.unchecked_transaction()?;
            let application_id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
            let version = user_version(&tx)?;
            let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            Ok((application_id, version, tables))
        };
        let (application_id, version, tables) = retry_busy(inspect).map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => unusable(format!(
                "not a Weft store ({e}); give --store (or WEFT_STORE) the path of a Weft store or a new file"
            )),
            _ => opening(e, &unusable),
        })?;
        if application_id != APPLICATION_ID && (application_id != 0 || tables > 0 || version != 0) {
            return Err(unusable(
                "an SQLite database of another program, not a Weft store; give --store (or WEFT_STORE) another path"
                    .into(),
            ));
        }
        if version > SCHEMA_VERSION {
            return Err(unusable(format!(
                "written by a newer Weft (store schema version {version}; this Weft knows up to {SCHEMA_VERSION}); \
                 use that Weft or a newer one"
            )));
        }
        // A store a newer schema opens for the first time is checked whole before anything writes to it.
        if version > 0 && version < SCHEMA_VERSION {
            let result: String = retry_busy(|| conn.query_row("PRAGMA quick_check", [], |r| r.get(0)))
                .map_err(|e| opening(e, &unusable))?;
            if result != "ok" {
                return Err(unusable(format!("the file is damaged ({result})")));
            }
        }
        if !in_memory {
            // Switching to WAL needs the file to itself, and SQLite does not wait for that: try again.
            let mode: String = retry_busy(|| conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)))
                .map_err(|e| opening(e, &unusable))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(unusable(format!(
                    "SQLite cannot use write-ahead logging here (journal mode stays \"{mode}\"); keep the store on \
                     a local disk, not a network share"
                )));
            }
        }
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        retry_busy(|| conn.execute_batch(&format!("PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON;")))
            .map_err(backend)?;
        migrate(&conn).map_err(|e| match e {
            Migration::Failed(n, why) => unusable(format!("schema migration {n} failed: {why}")),
            Migration::Store(e) => e,
        })?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
            in_memory,
            durability,
            resync: AtomicBool::new(false),
        })
    }

    /// Checkpoint the write-ahead log on a thread of its own from now on, every [`CHECKPOINT_EVERY`] (a
    /// passive checkpoint: it copies what no reader still needs into the database file, never blocking the
    /// writer), instead of on the writer when a commit finds the log past 1,000 pages: a long-lived
    /// writer (a server) then pays for its commits' log frames and fsync only, not for copying pages into
    /// the database file and flushing it. The writer still checkpoints past [`WAL_BOUND`] pages, should
    /// the thread fall behind. The thread ends when the store is dropped. Nothing for a store in memory.
    ///
    /// Errors: the thread's connection cannot be opened ([`StoreError::Backend`]).
    pub fn checkpoint_in_background(self: &Arc<Self>) -> Result<(), StoreError> {
        if self.in_memory {
            return Ok(());
        }
        let conn = Connection::open(&self.path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", self.path.display())))?;
        conn.busy_timeout(BUSY_FOR).map_err(backend)?;
        self.writer().pragma_update(None, "wal_autocheckpoint", WAL_BOUND).map_err(backend)?;
        let store = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("weft-checkpoint".into())
            .spawn(move || {
                // A failure that lasts (a full disk) is said once, not every pass.
                let mut failing = false;
                while store.strong_count() > 0 {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        Err(e) if !failing => {
                            tracing::warn!("a background checkpoint of the store failed (trying again): {e}");
                            failing = true;
                        }
                        Err(_) => {}
                        Ok(()) => failing = false,
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(())
    }

    /// The writing connection.
    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction drops the transaction, which rolls it back: the connection stays usable.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `read` on a reader connection (the writer's, in memory).
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.in_memory {
            return read(&self.writer());
        }
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(&self.path, flags)
                    .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", self.path.display())))?;
                conn.busy_timeout(Duration::from_secs(10)).map_err(backend)?;
                // A reader's page cache is dropped whenever another connection has written (WAL mode), so
                // a large one buys little: keep each small, as up to IDLE_READERS of them stay open.
                conn.pragma_update(None, "cache_size", READER_CACHE_KIB).map_err(backend)?;
                conn
            }
        };
        let out = read(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Run `write` in one immediate transaction on the writer, committing when it succeeds.
    fn write<T>(
        &self,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.writer();
        if self.resync.load(Ordering::Relaxed) {
            // An unsynced write did not set the writer back to FULL: no synced write goes without it.
            conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
            self.resync.store(false, Ordering::Relaxed);
        }
        in_transaction(&mut conn, write)
    }

    /// [`SqliteStore::write`] without waiting for the disk: `synchronous=NORMAL` for this one transaction
    /// (SQLite, "PRAGMA synchronous": in WAL mode a commit is then atomic but not synced). It reaches the
    /// disk with the next synced commit (the log is written in order, and a sync covers all of it) or
    /// checkpoint (the last close of the store makes one); only a power loss or an operating-system crash
    /// before then loses it, and that ends every driver on the machine with it. For the writes of a lease
    /// (its taking, renewal and letting go), whose loss then costs at most one lease period of waiting
    /// (docs/durability.md, "One driver at a time"), and for an acknowledgement committed on its own, whose
    /// loss publishes its events again ("Publishing"); one sync fewer for each.
    ///
    /// Errors: as [`SqliteStore::write`].
    fn write_unsynced<T>(
        &self,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.in_memory || self.durability == Durability::Normal {
            return self.write(write);
        }
        let mut conn = self.writer();
        // Set until FULL is back, also should this write panic or SQLite refuse FULL now: the next synced
        // write then sets it first (and fails if it cannot).
        self.resync.store(true, Ordering::Relaxed);
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(backend)?;
        let written = in_transaction(&mut conn, write);
        match conn.pragma_update(None, "synchronous", "FULL") {
            Ok(()) => self.resync.store(false, Ordering::Relaxed),
            Err(e) => tracing::warn!("the store's writer stays at synchronous=NORMAL until its next write: {e}"),
        }
        written
    }
}

/// Run `write` in one immediate transaction on `conn`, committing when it succeeds.
fn in_transaction<T>(
    conn: &mut Connection,
    write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let out = write(&tx)?;
    tx.commit().map_err(backend)?;
    Ok(out)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// How long opening a store keeps trying while another process holds it locked.
const BUSY_FOR: Duration = Duration::from_secs(10);

/// Whether SQLite said busy or locked: another connection holds a lock, and trying again may succeed.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// Run `f` again while SQLite answers busy or locked, every 10 ms for up to [`BUSY_FOR`]: the busy
/// handler covers most waits, but not all (switching a new file to WAL, a read that meets another
/// process's first write).
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let started = std::time::Instant::now();
    loop {
        match f() {
            Err(e) if is_busy(&e) && started.elapsed() < BUSY_FOR => std::thread::sleep(Duration::from_millis(10)),
            done => return done,
        }
    }
}

/// An error while opening a store: busy for too long is [`StoreError::Backend`] (try again), anything else
/// makes the file unusable (`unusable` says so, naming it).
fn opening(e: rusqlite::Error, unusable: &dyn Fn(String) -> StoreError) -> StoreError {
    if is_busy(&e) {
        StoreError::Backend(format!(
            "another process kept the store locked for {} s: {e}; try again",
            BUSY_FOR.as_secs()
        ))
    } else {
        unusable(e.to_string())
    }
}

enum Migration {
    Failed(usize, String),
    Store(StoreError),
}

/// Apply every migration the store lacks, each in its own write transaction that reads the version again
/// first: another process may have applied it meanwhile.
fn migrate(conn: &Connection) -> Result<(), Migration> {
    let store = |e: rusqlite::Error| Migration::Store(backend(e));
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if retry_busy(|| user_version(conn)).map_err(store)? >= version {
            continue;
        }
        retry_busy(|| conn.execute_batch("BEGIN IMMEDIATE")).map_err(store)?;
        let applied = (|| {
            if user_version(conn).map_err(store)? >= version {
                return Ok(());
            }
            conn.execute_batch(sql).map_err(|e| Migration::Failed(i + 1, e.to_string()))?;
            conn.execute_batch(&format!("PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={version};"))
                .map_err(store)
        })();
        match applied {
            Ok(()) => retry_busy(|| conn.execute_batch("COMMIT")).map_err(store)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(())
}

/// A database error as a [`StoreError`]: damage is [`StoreError::Damaged`], the rest (busy included, which
/// a retry may get past) [`StoreError::Backend`].
fn backend(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Damaged(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

impl Store for SqliteStore {
    fn create(&self, new: &NewInstance<'_>) -> Result<Lease, StoreError> {
        self.write(|tx| write::create(tx, new))
    }

    fn create_many(&self, news: &[NewInstance<'_>]) -> Vec<Result<Lease, StoreError>> {
        let mut results = Vec::with_capacity(news.len());
        let done = self.write(|tx| {
            for new in news {
                let result = write::in_savepoint(tx, |tx| write::create(tx, new))?;
                let failed = crate::store::ends_a_batch(&result);
                results.push(result);
                if failed {
                    break;
                }
            }
            Ok(())
        });
        match done {
            Ok(()) => results,
            // The transaction was given up: none was created.
            Err(e) => news.iter().take(results.len().max(1)).map(|_| Err(e.clone())).collect(),
        }
    }

    fn load(&self, id: &str) -> Result<Loaded, StoreError> {
        self.read(|conn| read::load(conn, id))
    }

    fn write_many(&self, writes: &[Write<'_>]) -> Vec<Result<Written, StoreError>> {
        let mut results = Vec::with_capacity(writes.len());
        let done = self.write(|tx| {
            for w in writes {
                results.push(write::in_savepoint(tx, |tx| match w {
                    Write::Create(new) => write::create(tx, new).map(Written::Created),
                    Write::Commit(c) => write::commit_in(tx, c).map(Written::Committed),
                    Write::Acquire { id, owner, now_ms, until_ms } => {
                        write::acquire(tx, id, owner, *now_ms, *until_ms).map(Written::Acquired)
                    }
                    Write::Release { id, lease } => write::release(tx, id, lease).map(|()| Written::Released),
                })?);
            }
            Ok(())
        });
        match done {
            Ok(()) => results,
            // The transaction was given up: none of the writes was made.
            Err(e) => writes.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn commit_many(&self, commits: &[Commit<'_>]) -> Vec<Result<Committed, StoreError>> {
        let writes: Vec<Write<'_>> = commits.iter().map(|c| Write::Commit(*c)).collect();
        self.write_many(&writes)
            .into_iter()
            .map(|written| match written? {
                Written::Committed(committed) => Ok(committed),
                _ => Err(StoreError::Backend("a commit of a batch was answered as another write".into())),
            })
            .collect()
    }

    fn repin(&self, pinned: &Pinned<'_>, commit: &Commit<'_>) -> Result<Committed, StoreError> {
        self.write(|tx| write::repin(tx, pinned, commit))
    }

    fn deploy(&self, process: &str, pinned: &Pinned<'_>, now_ms: u64) -> Result<Deployed, StoreError> {
        self.write(|tx| deployments::deploy(tx, process, pinned, now_ms))
    }

    fn deployments(&self, process: Option<&str>) -> Result<Vec<Deployment>, StoreError> {
        self.read(|conn| deployments::deployments(conn, process))
    }

    fn append_inbox(&self, id: &str, event: &Inbound<'_>) -> Result<Appended, StoreError> {
        self.write(|tx| write::append_inbox(tx, id, event))
    }

    fn received(&self, source: &str, id: &str) -> Result<Option<(String, u64)>, StoreError> {
        self.read(|conn| write::received_by(conn, source, id))
    }

    fn inbox(&self, id: &str, after: u64, limit: usize) -> Result<Vec<InboxEvent>, StoreError> {
        self.read(|conn| read::inbox(conn, id, after, limit))
    }

    fn correlated(&self, process: &str, event: &str, key: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|conn| read::correlated(conn, process, event, key, limit))
    }

    fn acquire(&self, id: &str, owner: &str, now_ms: u64, until_ms: u64) -> Result<Lease, StoreError> {
        self.write_unsynced(|tx| write::acquire(tx, id, owner, now_ms, until_ms))
    }

    fn renew(&self, owner: &str, until_ms: u64) -> Result<usize, StoreError> {
        self.write_unsynced(|tx| write::renew(tx, owner, until_ms))
    }

    fn release(&self, id: &str, lease: &Lease) -> Result<(), StoreError> {
        self.write_unsynced(|tx| write::release(tx, id, lease))
    }

    fn unacked(&self, id: &str, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.read(|conn| read::unacked(conn, id, after, limit))
    }

    fn ack(&self, id: &str, sink: &str, seq: u64) -> Result<(), StoreError> {
        self.write_unsynced(|tx| write::ack(tx, id, sink, seq))
    }

    fn dead_letter(&self, id: &str, sink: &str, seq: u64, reason: &str, now_ms: u64) -> Result<(), StoreError> {
        self.write(|tx| write::dead_letter(tx, id, sink, seq, reason, now_ms))
    }

    fn dead_letters(&self, id: &str) -> Result<Vec<DeadLetter>, StoreError> {
        self.read(|conn| read::dead_letters(conn, id))
    }

    fn redelivered(&self, id: &str, seq: u64) -> Result<(), StoreError> {
        self.write(|tx| write::redelivered(tx, id, seq))
    }

    fn outbox(&self, id: &str, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.read(|conn| read::outbox(conn, id, after, limit))
    }

    fn history(&self, id: &str, after: u64, limit: usize) -> Result<(Vec<HistoryEntry>, Option<u64>), StoreError> {
        self.read(|conn| read::history(conn, id, after, limit))
    }

    fn list(
        &self,
        filter: &ListFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<InstanceInfo>, StoreError> {
        self.read(|conn| read::list(conn, filter, after, limit))
    }

    fn ready(&self, due_by_ms: u64, now_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|conn| read::ready(conn, due_by_ms, now_ms, limit))
    }

    fn unpublished(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|conn| read::unpublished(conn, after, limit))
    }

    fn blob(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| read::blob(conn, digest))
    }

    fn has_blob(&self, digest: &str) -> Result<bool, StoreError> {
        self.read(|conn| read::has_blob(conn, digest))
    }

    fn delete(&self, id: &str, now_ms: u64) -> Result<(), StoreError> {
        self.write(|tx| write::delete(tx, id, now_ms).map(drop))
    }

    fn prune(&self, ended_before_ms: u64, now_ms: u64, limit: usize) -> Result<Pruned, StoreError> {
        self.write(|tx| write::prune(tx, ended_before_ms, now_ms, limit))
    }
}

/// The readers close before the writer: the last connection to close checkpoints the write-ahead log and
/// deletes it, which a read-only one cannot do. Left behind, the log is read whole by the next process to
/// open the store (SQLite's recovery after a crash).
impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.readers.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A read takes a connection of its own: while the writer is busy (here: its lock held for a while, as
    /// during a slow disk flush), a read goes on at once.
    #[test]
    fn reads_do_not_queue_behind_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("weft.db"), Durability::Full).unwrap();
        std::thread::scope(|scope| {
            let (held, hold) = std::sync::mpsc::channel();
            let store = &store;
            scope.spawn(move || {
                let _writer = store.writer();
                held.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(1500));
            });
            hold.recv().unwrap();
            let started = Instant::now();
            assert!(store.list(&ListFilter::default(), None, 10).unwrap().is_empty());
            assert!(store.blob("none").unwrap().is_none());
            assert!(started.elapsed() < Duration::from_millis(500), "the reads waited {:?}", started.elapsed());
        });
    }

    /// A store dropped after reads and writes closes its readers before its writer, which checkpoints the
    /// write-ahead log into the database file and deletes it: the next process to open the store has no
    /// log to recover, and the disk keeps no log the size of the largest transaction (a component's bytes).
    #[test]
    fn a_dropped_store_leaves_no_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weft.db");
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        let insert = "INSERT INTO blobs (digest, content) VALUES ('big', zeroblob(200000))";
        store.writer().execute(insert, []).unwrap();
        assert!(store.has_blob("big").unwrap(), "a reader saw the commit");
        let log = dir.path().join("weft.db-wal");
        assert!(log.exists(), "the commit is in the log");
        drop(store);
        assert!(!log.exists(), "the log was checkpointed and deleted on close");
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        assert!(store.has_blob("big").unwrap(), "and what it held is in the database file");
    }

    /// Unsynced writes (a lease's, an acknowledgement) go without a sync (`synchronous=NORMAL` inside
    /// their transaction), and every other write waits for the disk again afterwards, also after one that
    /// failed or panicked; what they wrote is in the store after it is closed and opened again.
    #[test]
    fn unsynced_writes_do_not_wait_for_the_disk_and_the_others_still_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weft.db");
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        let synchronous = |conn: &Connection| conn.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(synchronous(&store.writer()), 2, "FULL");
        let insert = "INSERT INTO blobs (digest, content) VALUES ('lease', x'00')";
        let inside =
            store.write_unsynced(|tx| Ok((synchronous(tx), tx.execute(insert, []).map_err(backend)?))).unwrap();
        assert_eq!(inside, (1, 1), "NORMAL inside, and the row written");
        assert_eq!(synchronous(&store.writer()), 2, "FULL again after it");
        let failed = store.write_unsynced(|_| Err::<(), _>(StoreError::NotFound("x".into())));
        assert!(matches!(failed, Err(StoreError::NotFound(_))));
        assert_eq!(synchronous(&store.writer()), 2, "FULL again after a write that failed");
        let lease = Lease { owner: "nobody".into(), epoch: 1 };
        let _ = store.release("none", &lease);
        assert_eq!(synchronous(&store.writer()), 2, "FULL again after a release");
        let _ = store.ack("none", "stdout", 1);
        assert_eq!(synchronous(&store.writer()), 2, "FULL again after an acknowledgement");
        // A write that panics inside leaves the flag: the next synced write sets FULL first.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.write_unsynced(|_| -> Result<(), StoreError> { panic!("a write that panics") })
        }));
        assert!(panicked.is_err());
        assert_eq!(synchronous(&store.writer()), 1, "left at NORMAL by the panic");
        store.write(|tx| tx.execute("DELETE FROM blobs WHERE digest = 'none'", []).map_err(backend)).unwrap();
        assert_eq!(synchronous(&store.writer()), 2, "set FULL again by the next synced write");
        drop(store);
        assert!(!dir.path().join("weft.db-wal").exists(), "the close checkpointed the log");
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        assert!(store.has_blob("lease").unwrap(), "the close carried the unsynced write to the file");
    }

    /// With checkpoints in the background, what is committed reaches the database file on its own, long
    /// before the log holds 1,000 pages (the writer's own threshold); without, it stays in the log.
    #[test]
    fn a_background_checkpoint_moves_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let grown = |background: bool| -> bool {
            let path = dir.path().join(format!("weft-{background}.db"));
            let store = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
            if background {
                store.checkpoint_in_background().unwrap();
            }
            let before = std::fs::metadata(&path).unwrap().len();
            let insert = "INSERT INTO blobs (digest, content) VALUES ('big', zeroblob(200000))";
            store.writer().execute(insert, []).unwrap();
            let started = Instant::now();
            while started.elapsed() < CHECKPOINT_EVERY * 10 {
                if std::fs::metadata(&path).unwrap().len() > before + 100_000 {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        };
        assert!(!grown(false), "without a background checkpoint, the commit stays in the log");
        assert!(grown(true), "the background checkpoint copied the commit into the database file");
    }

    /// The scheduler's and the listing's queries read an index in order: no table scan, no sort of the
    /// table's rows (the ready query merges two limited reads, which is all its temporary B-tree holds).
    #[test]
    fn the_hot_queries_read_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("weft.db"), Durability::Full).unwrap();
        let conn = store.writer();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let unbound = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
            let rows = stmt.query_map(rusqlite::params_from_iter(unbound), |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
        };
        let ready = plan(&read::READY_SQL);
        assert!(ready.contains("instances_inbox_waiting") && ready.contains("instances_ready"), "{ready}");
        assert!(!ready.contains("SCAN instances\n") && !ready.ends_with("SCAN instances"), "{ready}");
        for status in [None, Some("waiting".to_owned())] {
            for process in [None, Some("p".to_owned())] {
                for after in [false, true] {
                    let filter = ListFilter { status: status.clone(), process: process.clone() };
                    let list = plan(&read::list_sql(&filter, after));
                    assert!(list.contains("USING") && !list.contains("TEMP B-TREE"), "{filter:?} {after}: {list}");
                }
            }
        }
    }
}
