//! The store conformance suite: what every [`Store`] backend must do, written once against the trait. The
//! embedded SQLite store runs it in memory and in a file; a PostgreSQL backend will run it unchanged.

use weft_engine::runner::{HistoryEntry, HistoryRecord, RunState, Status};
use weft_engine::store::sqlite::{Durability, SqliteStore};
use weft_engine::store::{Commit, InstanceInfo, NewInstance, Store, StoreError};
use weft_tests::{TEST_TIME_MS, process};

const ME: &str = "weft pid 1 on test since 1";
const OTHER: &str = "weft pid 2 on test since 2";

fn info(id: &str) -> InstanceInfo {
    InstanceInfo {
        id: id.into(),
        process: "linear".into(),
        version: "1.0.0".into(),
        status: "running".into(),
        definition_file: "linear.yaml".into(),
        definition_digest: "d-def".into(),
        components: vec![("echo".into(), "d-echo".into())],
        revision: 1,
        created_ms: TEST_TIME_MS,
        updated_ms: TEST_TIME_MS,
        owner: Some(ME.into()),
    }
}

fn state(id: &str) -> RunState {
    RunState::new(&process("linear"), id.into(), TEST_TIME_MS)
}

fn commit<'a>(state: &'a RunState, history: &'a [HistoryEntry], outbox: &'a [(String, String)]) -> Commit<'a> {
    Commit { state, history, outbox, published_through: 0, now_ms: TEST_TIME_MS, owner: ME }
}

fn status_entry(superstep: u64, status: Status) -> HistoryEntry {
    HistoryEntry { superstep, record: HistoryRecord::Status { status } }
}

/// Create instance `id` held by [`ME`], with one history entry and no events.
fn create(store: &dyn Store, id: &str) {
    let state = state(id);
    let history = [status_entry(0, Status::Running)];
    let new = NewInstance {
        info: &info(id),
        definition: b"name: linear",
        blobs: vec![("d-echo", b"\0asm".as_slice())],
        commit: commit(&state, &history, &[]),
    };
    store.create(&new).unwrap();
}

fn conformance(store: &dyn Store) {
    create(store, "a");
    assert!(matches!(
        store.create(&NewInstance {
            info: &info("a"),
            definition: b"x",
            blobs: vec![],
            commit: commit(&state("a"), &[], &[])
        }),
        Err(StoreError::AlreadyExists(id)) if id == "a"
    ));
    let loaded = store.load("a").unwrap();
    assert_eq!((loaded.info.revision, loaded.info.owner.as_deref()), (1, Some(ME)));
    assert_eq!(loaded.info.components, info("a").components);
    assert_eq!(store.blob("d-def").unwrap().as_deref(), Some(b"name: linear".as_slice()));
    assert_eq!(store.blob("d-echo").unwrap().as_deref(), Some(b"\0asm".as_slice()));
    assert!(store.blob("d-none").unwrap().is_none());
    assert!(matches!(store.load("zz"), Err(StoreError::NotFound(_))));

    // A commit names the revision it follows; a stale one is a conflict and changes nothing.
    let mut next = state("a");
    next.superstep = 1;
    let outbox =
        [("a-1".to_string(), "{\"id\":\"a-1\"}".to_string()), ("a-2".to_string(), "{\"id\":\"a-2\"}".to_string())];
    let history = [status_entry(1, Status::Running)];
    assert_eq!(store.commit("a", 1, &commit(&next, &history, &outbox)).unwrap(), 2);
    assert!(matches!(
        store.commit("a", 1, &commit(&next, &history, &outbox)),
        Err(StoreError::Conflict { expected: 1, .. })
    ));
    assert_eq!(store.load("a").unwrap().state.superstep, 1);
    assert_eq!(store.load("a").unwrap().outbox_len, 2);
    assert_eq!(store.history("a").unwrap().len(), 2, "the stale commit appended nothing");

    // The outbox: unpublished until a later commit or the release marks it.
    let ids = |events: Vec<weft_engine::store::OutboxEvent>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(store.unpublished("a").unwrap()), ["a-1", "a-2"]);
    let mut marking = commit(&next, &[], &[]);
    marking.published_through = 1;
    assert_eq!(store.commit("a", 2, &marking).unwrap(), 3);
    assert_eq!(ids(store.unpublished("a").unwrap()), ["a-2"]);
    assert_eq!(ids(store.outbox("a").unwrap()), ["a-1", "a-2"]);

    // One holder at a time; a gone holder is taken over; only the holder commits.
    assert!(matches!(store.acquire("a", OTHER, &|_| false), Err(StoreError::Held { owner, .. }) if owner == ME));
    assert!(matches!(
        store.commit("a", 3, &Commit { owner: OTHER, ..commit(&next, &[], &[]) }),
        Err(StoreError::Held { .. })
    ));
    store.acquire("a", OTHER, &|holder| holder == ME).unwrap();
    assert!(matches!(store.commit("a", 3, &commit(&next, &[], &[])), Err(StoreError::Held { .. })));
    store.release("a", OTHER, 2).unwrap();
    assert!(store.unpublished("a").unwrap().is_empty());
    assert_eq!(store.load("a").unwrap().info.owner, None);
    store.acquire("a", ME, &|_| false).unwrap();
    assert!(matches!(store.acquire("zz", ME, &|_| false), Err(StoreError::NotFound(_))));

    // History in order; listing by status, newest first.
    let supersteps: Vec<u64> = store.history("a").unwrap().iter().map(|e| e.superstep).collect();
    assert_eq!(supersteps, [0, 1]);
    create(store, "b");
    let mut done = state("b");
    done.status = Status::Completed;
    store.commit("b", 1, &commit(&done, &[status_entry(1, Status::Completed)], &[])).unwrap();
    let listed = |status| store.list(status).unwrap().into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(listed(Some("completed")), ["b"]);
    assert_eq!(listed(Some("running")), ["a"]);
    assert_eq!(listed(None).len(), 2);

    // Webhook deliveries: published events of the given topics that no delivery was recorded for.
    let event = |n: u32, topic: &str| (format!("b-{n}"), format!("{{\"id\":\"b-{n}\",\"wefttopic\":\"{topic}\"}}"));
    let outbox = [event(1, "Hooked"), event(2, "Filed"), event(3, "Hooked")];
    store.commit("b", 2, &commit(&done, &[], &outbox)).unwrap();
    assert!(store.undelivered("b", &["Hooked"]).unwrap().is_empty(), "not published yet");
    store.release("b", ME, 3).unwrap();
    assert_eq!(ids(store.undelivered("b", &["Hooked"]).unwrap()), ["b-1", "b-3"]);
    assert_eq!(ids(store.undelivered("b", &["Hooked", "Filed"]).unwrap()), ["b-1", "b-2", "b-3"]);
    assert!(store.undelivered("b", &[]).unwrap().is_empty());
    store.delivered("b", &["b-1".into()]).unwrap();
    store.delivered("b", &["b-1".into(), "b-3".into()]).unwrap();
    assert!(store.undelivered("b", &["Hooked"]).unwrap().is_empty());
    assert!(store.undelivered("a", &["Hooked"]).unwrap().is_empty(), "deliveries are per instance");
}

#[test]
fn sqlite_in_memory_conforms() {
    conformance(&SqliteStore::in_memory().unwrap());
}

#[test]
fn sqlite_in_a_file_conforms_and_keeps_everything_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/weft.db");
    conformance(&SqliteStore::open(&path, Durability::Full).unwrap());
    let reopened = SqliteStore::open(&path, Durability::Normal).unwrap();
    assert_eq!(reopened.load("a").unwrap().info.revision, 3);
    assert_eq!(reopened.history("a").unwrap().len(), 2);
}

/// Open `path` as a store; the error's text.
fn refusal(path: &std::path::Path) -> String {
    match SqliteStore::open(path, Durability::Full) {
        Err(e @ StoreError::Unusable(_)) => e.to_string(),
        Err(e) => panic!("expected Unusable, got {e}"),
        Ok(_) => panic!("{} was accepted as a store", path.display()),
    }
}

#[test]
fn files_that_are_not_usable_stores_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.db");
    std::fs::write(&text, "not a database at all, just some text that is long enough ".repeat(100)).unwrap();
    let before = std::fs::read(&text).unwrap();
    assert!(refusal(&text).contains("not a Weft store"), "{}", refusal(&text));
    assert_eq!(std::fs::read(&text).unwrap(), before);

    let foreign = dir.path().join("foreign.db");
    foreign_sql(&foreign, "CREATE TABLE accounts (id TEXT)");
    assert!(refusal(&foreign).contains("another program"), "{}", refusal(&foreign));

    let newer = dir.path().join("newer.db");
    drop(SqliteStore::open(&newer, Durability::Full).unwrap());
    foreign_sql(&newer, "PRAGMA user_version = 99");
    assert!(refusal(&newer).contains("newer Weft (store schema version 99"), "{}", refusal(&newer));

    let damaged = dir.path().join("damaged.db");
    drop(SqliteStore::open(&damaged, Durability::Full).unwrap());
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[16..24].fill(0xff); // the header's page size and format bytes
    std::fs::write(&damaged, &bytes).unwrap();
    assert!(SqliteStore::open(&damaged, Durability::Full).is_err());
    assert_eq!(std::fs::read(&damaged).unwrap(), bytes, "the damaged file was not written to");
}

/// Run `sql` on the SQLite file at `path` directly: another program writing to it.
fn foreign_sql(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

/// A store written by a Weft of store schema version 1 (flags on outbox rows, WITHOUT ROWID logs) opens
/// as the current version with everything kept: the history, the outbox, and which events were published;
/// no webhook delivery is recorded for them.
#[test]
fn a_version_1_store_is_migrated_with_its_history_and_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let v1 = include_str!("../../../engine/src/store/sqlite/migrations/0001_instances.sql");
    let history = serde_json::to_string(&[status_entry(0, Status::Running)]).unwrap();
    let checkpoint = serde_json::to_string(&state("a")).unwrap();
    foreign_sql(
        &path,
        &format!(
            "{v1}
             PRAGMA application_id = 1464157780; PRAGMA user_version = 1;
             INSERT INTO blobs VALUES ('d-def', x'00');
             INSERT INTO instances VALUES ('a', 'linear', '1.0.0', 'running', 'linear.yaml', 'd-def', '[]', 2,
                 '{checkpoint}', 1, 2, 1, 1, NULL);
             INSERT INTO history VALUES ('a', 1, '{history}');
             INSERT INTO outbox VALUES ('a', 1, 'a-1', '{{\"id\":\"a-1\"}}', 1);
             INSERT INTO outbox VALUES ('a', 2, 'a-2', '{{\"id\":\"a-2\"}}', 0);"
        ),
    );
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(store.load("a").unwrap().info.revision, 2);
    assert_eq!(store.history("a").unwrap(), [status_entry(0, Status::Running)]);
    assert_eq!(store.outbox("a").unwrap().len(), 2);
    let unpublished = store.unpublished("a").unwrap();
    assert_eq!(unpublished.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a-2"]);
    let version: i64 =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, weft_engine::store::sqlite::SCHEMA_VERSION);
    store.delivered("a", &["a-1".into()]).unwrap();
}
