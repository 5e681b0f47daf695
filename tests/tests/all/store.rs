//! The store conformance suite: what every [`Store`] backend must do, written once against the trait. The
//! in-memory store, and the embedded SQLite store in memory and in a file, run it; a PostgreSQL backend
//! will run it unchanged. Then what only SQLite files have: refusing what is not a usable store,
//! migrations from older schemas, several processes opening one new store at once.

use std::collections::BTreeSet;

use weft_engine::blob::Blob;
use weft_engine::runner::{HistoryEntry, HistoryRecord, RunState, Status, Timer};
use weft_engine::store::memory::MemoryStore;
use weft_engine::store::sqlite::{Durability, SqliteStore};
use weft_engine::store::{
    Appended, Checkpoint, Commit, Committed, Deployed, Encoded, Inbound, InboxKind, InstanceInfo, Lease, ListCursor,
    ListFilter, NewInstance, OutboxEvent, Pinned, Store, StoreError, each_history,
};
use weft_tests::{TEST_TIME_MS, process};

const ME: &str = "weft pid 1 on test (aaaa)";
const OTHER: &str = "weft pid 2 on test (bbbb)";
/// Real time as the store sees it in these tests (the runs' logical time too): leases run out relative to
/// this.
const NOW: u64 = TEST_TIME_MS;
const LEASE: u64 = 5_000;

fn info(id: &str, created_ms: u64) -> InstanceInfo {
    InstanceInfo {
        id: id.into(),
        process: "linear".into(),
        version: "1.0.0".into(),
        status: "running".into(),
        definition_file: "linear.yaml".into(),
        definition_digest: "d-def".into(),
        components: vec![("echo".into(), "d-echo".into())],
        layout_digest: Some(format!("d-layout-{id}")),
        revision: 1,
        epoch: 1,
        created_ms,
        updated_ms: created_ms,
        next_due_ms: None,
        holder: None,
    }
}

fn state(id: &str) -> RunState {
    RunState::new(&process("linear"), id.into(), TEST_TIME_MS)
}

fn checkpoint<'a>(state: &'a RunState, history: &'a [HistoryEntry], outbox: &'a [OutboxEvent]) -> Checkpoint<'a> {
    Checkpoint { state, history, outbox, acks: &[], now_ms: TEST_TIME_MS, encoded: None }
}

fn status_entry(superstep: u64, status: Status) -> HistoryEntry {
    HistoryEntry { superstep, record: HistoryRecord::Status { status } }
}

fn event(id: &str, seq: u64, topic: Option<&str>) -> OutboxEvent {
    let sink = topic.map_or_else(|| "default".to_owned(), |t| format!("topic:{t}"));
    OutboxEvent { seq, id: format!("{id}-{seq}"), topic: topic.map(Into::into), sink, json: format!("{{\"n\":{seq}}}") }
}

/// A blob of `content` under the made-up digest `digest` (a store takes the digest it is given), kept for
/// the rest of the test run.
fn blob(digest: &str, content: &[u8]) -> &'static Blob {
    Box::leak(Box::new(Blob::hashed(content.into(), digest.to_owned())))
}

/// Create instance `id` held by [`ME`] (created at `created_ms`), with one history entry and no events.
fn create(store: &dyn Store, id: &str, created_ms: u64) -> Lease {
    let state = state(id);
    let history = [status_entry(0, Status::Running)];
    let layout = format!("d-layout-{id}");
    let new = NewInstance {
        info: &info(id, created_ms),
        definition: b"name: linear",
        blobs: vec![blob("d-echo", b"\0asm"), blob(&layout, b"{}")],
        received: None,
        lease_owner: ME,
        lease_until_ms: NOW + LEASE,
        checkpoint: Checkpoint { now_ms: created_ms, ..checkpoint(&state, &history, &[]) },
    };
    store.create(&new).unwrap()
}

fn commit<'a>(id: &'a str, lease: &'a Lease, revision: u64, cp: Checkpoint<'a>) -> Commit<'a> {
    Commit { id, lease, expected_revision: revision, checkpoint: cp }
}

fn ids(events: Vec<OutboxEvent>) -> Vec<String> {
    events.into_iter().map(|e| e.id).collect()
}

fn conformance(store: &dyn Store) {
    creating_and_committing(store);
    leases(store);
    the_outbox_relay(store);
    paging_and_finding_ready_instances(store);
    the_inbox(store);
    correlation_keys(store);
    retention(store);
    creating_many(store);
    deployments(store);
    status_and_due_follow_every_commit(store);
}

/// Each commit leaves the instance's status and due time (and what is listed and found ready by them) as
/// its state says, whether either changed since the commit before or not (SQLite sets only the columns that
/// change, to spare its indexes).
fn status_and_due_follow_every_commit(store: &dyn Store) {
    let lease = create(store, "s", TEST_TIME_MS);
    let mut s = state("s");
    let timer = |due_ms| Timer {
        due_ms,
        fire: weft_engine::runner::Fire::Retry(weft_engine::runner::RetryCall {
            step: 0,
            function: 0,
            args: vec![None],
            attempt: 2,
        }),
    };
    let filtered = |status: &str| ListFilter { status: Some(status.into()), process: None };
    let mut revision = 1;
    // (status, logical time, timer due): each step changes neither, one, or both of status and due time.
    let steps: [(Status, u64, Option<u64>); 8] = [
        (Status::Running, TEST_TIME_MS, None),
        (Status::Running, TEST_TIME_MS + 5, None),
        (Status::Waiting, TEST_TIME_MS + 6, Some(TEST_TIME_MS + 900)),
        (Status::Waiting, TEST_TIME_MS + 7, Some(TEST_TIME_MS + 900)),
        (Status::Waiting, TEST_TIME_MS + 8, Some(TEST_TIME_MS + 800)),
        (Status::Running, TEST_TIME_MS + 8, None),
        (Status::Running, TEST_TIME_MS + 8, None),
        (Status::Completed, TEST_TIME_MS + 9, None),
    ];
    for (status, time_ms, due) in steps {
        s.status = status;
        s.time_ms = time_ms;
        s.timers = due.map(timer).into_iter().collect();
        let cp = Checkpoint { now_ms: time_ms, ..checkpoint(&s, &[], &[]) };
        revision = store.commit(&commit("s", &lease, revision, cp)).unwrap().revision;
        let info = store.load("s").unwrap().info;
        let expected_due = s.next_due_ms();
        assert_eq!((info.status.as_str(), info.next_due_ms), (s.status.name(), expected_due), "after {s:?}");
        let listed = store.list(&filtered(s.status.name()), None, 100).unwrap();
        assert!(listed.iter().any(|i| i.id == "s"), "s is listed as {}", s.status.name());
        for other in ["running", "waiting", "completed"].into_iter().filter(|o| *o != s.status.name()) {
            assert!(!store.list(&filtered(other), None, 100).unwrap().iter().any(|i| i.id == "s"), "not as {other}");
        }
        // Ready (with its lease run out): from its due time on, never before, never once it has ended.
        let far = u64::MAX / 2;
        let ready_at = |t: u64| store.ready(t, far, 100).unwrap().contains(&"s".to_owned());
        match expected_due {
            Some(due) => assert!(ready_at(due) && !ready_at(due - 1), "ready from {due} on"),
            None => assert!(!ready_at(far), "an ended run is never ready"),
        }
    }
}

fn pinned<'a>(version: &'a str, components: &'a [(String, String)], layout: &'a str) -> Pinned<'a> {
    Pinned {
        definition_file: "linear.yaml",
        version,
        definition_digest: "d-def-9",
        definition: b"name: linear # 9",
        components,
        layout_digest: layout,
        blobs: vec![blob("d-echo-9", b"\0asm9"), blob(layout, b"{}")],
    }
}

/// Deployments: numbered per process, the same version deployed again changes nothing, and what a
/// deployment keeps outlives the instances pinned to it.
fn deployments(store: &dyn Store) {
    let components = [("echo".to_owned(), "d-echo-9".to_owned())];
    let first = store.deploy("linear", &pinned("1.0.0", &components, "d-layout-9"), NOW).unwrap();
    let Deployed::New(first) = first else { panic!("a first deployment is new: {first:?}") };
    assert_eq!((first.number, first.version.as_str(), first.deployed_ms), (1, "1.0.0", NOW));
    let again = store.deploy("linear", &pinned("1.0.0", &components, "d-layout-9"), NOW + 1).unwrap();
    assert_eq!(again, Deployed::Unchanged(first.clone()), "the same version again is not a new deployment");
    // Another layout (another configuration) is another version; so is a deployment of another process.
    let second = store.deploy("linear", &pinned("1.0.1", &components, "d-layout-9b"), NOW + 2).unwrap();
    assert!(matches!(&second, Deployed::New(d) if d.number == 2 && d.layout_digest == "d-layout-9b"));
    let other = store.deploy("other", &pinned("3.0.0", &components, "d-layout-9"), NOW + 3).unwrap();
    assert!(matches!(&other, Deployed::New(d) if d.number == 1 && d.process == "other"));
    // Going back to the first version is a third deployment (the latest is what counts).
    let third = store.deploy("linear", &pinned("1.0.0", &components, "d-layout-9"), NOW + 4).unwrap();
    assert!(
        matches!(&third, Deployed::New(d) if d.number == 3 && d.pins_same(&pinned("1.0.0", &components, "d-layout-9")))
    );
    let numbers = |p| store.deployments(p).unwrap().into_iter().map(|d| (d.process, d.number)).collect::<Vec<_>>();
    assert_eq!(numbers(Some("linear")), [("linear".into(), 1), ("linear".into(), 2), ("linear".into(), 3)]);
    assert_eq!(numbers(None).len(), 4);
    assert_eq!(store.deployments(Some("linear")).unwrap()[0], first, "read back as written");
    assert!(numbers(Some("nothing")).is_empty());

    // An instance pinned to a deployed version, then deleted: the deployment's blobs stay.
    let lease = create(store, "q", TEST_TIME_MS);
    let mut ended = state("q");
    ended.status = Status::Completed;
    let pin = pinned("1.0.0", &components, "d-layout-9");
    store.repin(&pin, &commit("q", &lease, 1, checkpoint(&ended, &[], &[]))).unwrap();
    store.release("q", &lease).unwrap();
    store.delete("q", NOW).unwrap();
    for digest in ["d-def-9", "d-echo-9", "d-layout-9", "d-layout-9b"] {
        assert!(store.blob(digest).unwrap().is_some(), "{digest} is kept by a deployment");
    }
    assert!(store.blob("d-layout-q").unwrap().is_none(), "only q was pinned to its layout");
}

/// Several instances created at once: in order, a duplicate answered without stopping the others, the
/// first other failure ending the batch (nothing after it is created).
fn creating_many(store: &dyn Store) {
    let state = state("m");
    let (m1, m2, m3) = (info("m1", NOW), info("m2", NOW), info("m3", NOW));
    let new = |info, id| NewInstance {
        info,
        definition: b"name: linear",
        blobs: vec![],
        received: Some(inbound("crm", id, "Start")),
        lease_owner: ME,
        lease_until_ms: NOW + LEASE,
        checkpoint: checkpoint(&state, &[], &[]),
    };
    let results = store.create_many(&[
        new(&m1, "many-1"),
        new(&m2, "many-1"),
        new(&m2, "many-2"),
        new(&m1, "many-3"),
        new(&m3, "many-4"),
    ]);
    assert_eq!(results.len(), 4, "{results:?}");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(matches!(&results[1], Err(StoreError::Duplicate { instance, .. }) if instance == "m1"), "{results:?}");
    assert!(matches!(&results[3], Err(StoreError::AlreadyExists(id)) if id == "m1"), "{results:?}");
    assert!(matches!(store.load("m3"), Err(StoreError::NotFound(_))), "nothing after the failure");
    assert_eq!(store.received("crm", "many-3").unwrap(), None);
    assert_eq!(store.received("crm", "many-2").unwrap().map(|(i, _)| i), Some("m2".to_owned()));
}

fn creating_and_committing(store: &dyn Store) {
    let lease = create(store, "a", TEST_TIME_MS);
    assert_eq!(lease, Lease { owner: ME.into(), epoch: 1 });
    let fresh = state("a");
    let again = NewInstance {
        info: &info("a", TEST_TIME_MS),
        definition: b"x",
        blobs: vec![],
        received: None,
        lease_owner: ME,
        lease_until_ms: NOW,
        checkpoint: checkpoint(&fresh, &[], &[]),
    };
    assert!(matches!(store.create(&again), Err(StoreError::AlreadyExists(id)) if id == "a"));
    let loaded = store.load("a").unwrap();
    assert_eq!((loaded.info.revision, loaded.info.epoch), (1, 1));
    assert_eq!(loaded.info.holder.as_ref().map(|h| (h.owner.as_str(), h.until_ms)), Some((ME, NOW + LEASE)));
    assert_eq!(loaded.info.components, info("a", 0).components);
    assert_eq!(loaded.info.layout_digest.as_deref(), Some("d-layout-a"));
    assert_eq!(loaded.info.next_due_ms, Some(TEST_TIME_MS), "a running run is due at its own time");
    assert_eq!(store.blob("d-def").unwrap().as_deref(), Some(b"name: linear".as_slice()));
    assert_eq!(store.blob("d-echo").unwrap().as_deref(), Some(b"\0asm".as_slice()));
    assert!(store.blob("d-none").unwrap().is_none());
    assert!(matches!(store.load("zz"), Err(StoreError::NotFound(_))));

    // A commit names the lease and the revision it follows; a stale revision is a conflict and changes
    // nothing.
    let mut next = state("a");
    next.superstep = 1;
    let outbox = [event("a", 1, None), event("a", 2, Some("Hooked"))];
    let history = [status_entry(1, Status::Running)];
    assert_eq!(store.commit(&commit("a", &lease, 1, checkpoint(&next, &history, &outbox))).unwrap().revision, 2);
    let stale = store.commit(&commit("a", &lease, 1, checkpoint(&next, &history, &outbox)));
    assert!(matches!(stale, Err(StoreError::Conflict { expected: 1, .. })), "{stale:?}");
    let loaded = store.load("a").unwrap();
    assert_eq!((loaded.state.superstep, loaded.outbox_len), (1, 2));
    assert_eq!(store.history("a", 0, 100).unwrap().0.len(), 2, "the stale commit appended nothing");

    // A batch: each commit fenced on its own; one that fails leaves the others committed.
    let b = create(store, "b", TEST_TIME_MS + 1);
    let foreign = Lease { owner: OTHER.into(), epoch: 1 };
    let b_events = [event("b", 1, None)];
    let batch = [
        commit("a", &lease, 2, checkpoint(&next, &[], &[])),
        commit("b", &foreign, 1, checkpoint(&next, &history, &[])),
        commit("b", &b, 7, checkpoint(&next, &history, &[])),
        commit("zz", &b, 1, checkpoint(&next, &history, &[])),
        commit("b", &b, 1, checkpoint(&next, &history, &b_events)),
    ];
    let results = store.commit_many(&batch);
    assert!(matches!(results[0], Ok(Committed { revision: 3, inbox_len: 0 })), "{:?}", results[0]);
    assert!(matches!(results[1], Err(StoreError::LeaseLost(_))), "{:?}", results[1]);
    assert!(matches!(results[2], Err(StoreError::Conflict { expected: 7, .. })), "{:?}", results[2]);
    assert!(matches!(results[3], Err(StoreError::NotFound(_))), "{:?}", results[3]);
    assert!(matches!(results[4], Ok(Committed { revision: 2, .. })), "{:?}", results[4]);
    assert_eq!(store.load("b").unwrap().outbox_len, 1);
    assert_eq!(ids(store.outbox("b", 0, 10).unwrap()), ["b-1"]);
}

fn leases(store: &dyn Store) {
    // "a" is held by ME until NOW + LEASE: another owner is refused, naming the holder, until then.
    let held = store.acquire("a", OTHER, NOW + 10, NOW + 10 + LEASE);
    match held {
        Err(e @ StoreError::Held { .. }) => assert!(e.to_string().contains(ME), "names the holder: {e}"),
        other => panic!("expected Held, got {other:?}"),
    }
    // Renewing moves every lease ME holds; the holder taking it again keeps its epoch.
    assert_eq!(store.renew(ME, NOW + 2 * LEASE).unwrap(), 2, "a and b");
    assert!(matches!(store.acquire("a", OTHER, NOW + LEASE + 1, NOW + 3 * LEASE), Err(StoreError::Held { .. })));
    let mine = store.acquire("a", ME, NOW, NOW + LEASE).unwrap();
    assert_eq!(mine.epoch, 1);
    // Once the lease runs out, another driver takes over with a higher epoch, which fences ME.
    let theirs = store.acquire("a", OTHER, NOW + LEASE + 1, NOW + 2 * LEASE).unwrap();
    assert_eq!(theirs, Lease { owner: OTHER.into(), epoch: 2 });
    let next = state("a");
    let fenced = store.commit(&commit("a", &mine, 3, checkpoint(&next, &[], &[])));
    assert!(matches!(fenced, Err(StoreError::LeaseLost(_))), "{fenced:?}");
    assert_eq!(store.renew(ME, NOW + 9 * LEASE).unwrap(), 1, "only b is still ME's");
    assert_eq!(store.load("a").unwrap().info.holder.unwrap().until_ms, NOW + 2 * LEASE);
    store.release("a", &mine).unwrap();
    assert!(store.load("a").unwrap().info.holder.is_some(), "a stale lease lets go of nothing");
    assert_eq!(store.commit(&commit("a", &theirs, 3, checkpoint(&next, &[], &[]))).unwrap().revision, 4);
    store.release("a", &theirs).unwrap();
    assert_eq!(store.load("a").unwrap().info.holder, None);
    // Nobody holds it: the next driver takes it at once, at the next epoch.
    let back = store.acquire("a", ME, NOW, NOW + LEASE).unwrap();
    assert_eq!(back.epoch, 3);
    assert_eq!(store.load("a").unwrap().info.epoch, 3);
    assert!(matches!(store.acquire("zz", ME, NOW, NOW), Err(StoreError::NotFound(_))));
    store.release("a", &back).unwrap();
}

fn the_outbox_relay(store: &dyn Store) {
    // "a" holds a-1 (default sink) and a-2 (topic Hooked); add more of both, acknowledging the default
    // sink up to a-1 in the same commit.
    let lease = store.acquire("a", ME, NOW, NOW + LEASE).unwrap();
    let revision = store.load("a").unwrap().info.revision;
    let outbox = [event("a", 3, None), event("a", 4, Some("Hooked")), event("a", 5, Some("Filed"))];
    let acks = [("default".to_string(), 1)];
    let same = state("a");
    let cp = Checkpoint { acks: &acks, ..checkpoint(&same, &[], &outbox) };
    store.commit(&commit("a", &lease, revision, cp)).unwrap();
    assert_eq!(ids(store.unacked("a", 0, 100).unwrap()), ["a-2", "a-3", "a-4", "a-5"]);
    assert_eq!(ids(store.unacked("a", 3, 100).unwrap()), ["a-4", "a-5"], "after a position");
    assert_eq!(ids(store.unacked("a", 0, 2).unwrap()), ["a-2", "a-3"], "at most a page");
    let first = &store.unacked("a", 0, 1).unwrap()[0];
    assert_eq!(
        (first.topic.as_deref(), first.sink.as_str(), first.json.as_str()),
        (Some("Hooked"), "topic:Hooked", "{\"n\":2}")
    );
    // Acknowledging moves one sink's cursor, only forward; the others keep theirs.
    store.ack("a", "topic:Hooked", 4).unwrap();
    store.ack("a", "topic:Hooked", 2).unwrap();
    assert_eq!(ids(store.unacked("a", 0, 100).unwrap()), ["a-3", "a-5"]);
    // Instances with events to publish again, held or not, in id order from a position.
    assert_eq!(store.unpublished("", 10).unwrap(), ["a", "b"]);
    assert_eq!(store.unpublished("a", 10).unwrap(), ["b"]);
    assert_eq!(store.unpublished("", 1).unwrap(), ["a"]);
    store.ack("a", "default", 3).unwrap();
    // A refused event becomes a dead letter, and its sink's later events go on.
    store.dead_letter("a", "topic:Filed", 5, "410 Gone", NOW).unwrap();
    assert!(store.unacked("a", 0, 100).unwrap().is_empty());
    assert_eq!(store.unpublished("", 10).unwrap(), ["b"], "a has nothing left to publish");
    let dead = store.dead_letters("a").unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].seq, dead[0].sink.as_str(), dead[0].reason.as_str(), dead[0].at_ms),
        (5, "topic:Filed", "410 Gone", NOW)
    );
    store.redelivered("a", 5).unwrap();
    assert!(store.dead_letters("a").unwrap().is_empty());
    assert_eq!(ids(store.outbox("a", 0, 100).unwrap()), ["a-1", "a-2", "a-3", "a-4", "a-5"]);
    assert_eq!(ids(store.outbox("a", 2, 2).unwrap()), ["a-3", "a-4"]);
    assert!(store.unacked("b", 0, 10).unwrap().len() == 1, "cursors are per instance");
    store.release("a", &lease).unwrap();
}

fn paging_and_finding_ready_instances(store: &dyn Store) {
    // History a page of commits at a time.
    let (first, next) = store.history("a", 0, 1).unwrap();
    assert_eq!(first.len(), 1);
    let (rest, end) = store.history("a", next.expect("more"), 100).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(end, None);
    let mut all = Vec::new();
    each_history(store, "a", |e| {
        all.push(e.superstep);
        true
    })
    .unwrap();
    assert_eq!(all, [0, 1]);
    assert!(matches!(store.history("zz", 0, 1), Err(StoreError::NotFound(_))));

    // Listing: newest first, by filter, a page at a time.
    for (n, id) in ["c", "d", "e"].iter().enumerate() {
        let lease = create(store, id, TEST_TIME_MS + 10 + n as u64);
        let mut done = state(id);
        done.status = if *id == "d" { Status::Waiting } else { Status::Completed };
        if *id == "d" {
            done.timers.push(Timer {
                due_ms: TEST_TIME_MS + 1000,
                fire: weft_engine::runner::Fire::Retry(weft_engine::runner::RetryCall {
                    step: 0,
                    function: 0,
                    args: vec![None],
                    attempt: 2,
                }),
            });
        }
        let cp = Checkpoint { now_ms: TEST_TIME_MS + 10 + n as u64, ..checkpoint(&done, &[], &[]) };
        store.commit(&commit(id, &lease, 1, cp)).unwrap();
        store.release(id, &lease).unwrap();
    }
    let listed = |filter: ListFilter, after: Option<&ListCursor>, limit| {
        store.list(&filter, after, limit).unwrap().into_iter().map(|i| i.id).collect::<Vec<_>>()
    };
    assert_eq!(listed(ListFilter::default(), None, 100), ["e", "d", "c", "b", "a"]);
    let page = store.list(&ListFilter::default(), None, 2).unwrap();
    assert_eq!(listed(ListFilter::default(), Some(&ListCursor::from(&page[1])), 2), ["c", "b"]);
    let completed = ListFilter { status: Some("completed".into()), process: None };
    assert_eq!(listed(completed, None, 100), ["e", "c"]);
    let other = ListFilter { status: None, process: Some("other".into()) };
    assert!(listed(other, None, 100).is_empty());

    // Ready: running or due, and nobody holds it (or its lease ran out).
    let d = store.load("d").unwrap().info;
    assert_eq!((d.status.as_str(), d.next_due_ms), ("waiting", Some(TEST_TIME_MS + 1000)));
    assert_eq!(store.load("e").unwrap().info.next_due_ms, None, "an ended run is never due");
    assert_eq!(store.ready(TEST_TIME_MS + 999, TEST_TIME_MS + 999, 10).unwrap(), ["a"], "b is held; d is not due yet");
    let ready = store.ready(TEST_TIME_MS + 1000, TEST_TIME_MS + 1000, 10).unwrap();
    assert_eq!(ready, ["a", "d"], "most overdue first: a (running) is due at its own time, d a second later");
    assert_eq!(store.ready(u64::MAX / 2, u64::MAX / 2, 10).unwrap().len(), 3, "b's lease ran out long ago");
}

fn inbound<'a>(source: &'a str, id: &'a str, event_type: &'a str) -> Inbound<'a> {
    Inbound { source, id, kind: InboxKind::Event, event_type, data: "{\"by\":\"ops\"}", received_ms: NOW }
}

fn the_inbox(store: &dyn Store) {
    // Appended in order; the same source and id again, to this instance or another, is a duplicate.
    assert_eq!(store.append_inbox("d", &inbound("crm", "e-1", "Reply")).unwrap(), Appended::New(1));
    let cancel = Inbound { kind: InboxKind::Cancel, event_type: "", data: "null", ..inbound("ops", "c-1", "") };
    assert_eq!(store.append_inbox("d", &cancel).unwrap(), Appended::New(2));
    let again = Appended::Duplicate { instance: "d".into(), seq: 1 };
    assert_eq!(store.append_inbox("d", &inbound("crm", "e-1", "Other")).unwrap(), again);
    assert_eq!(store.append_inbox("a", &inbound("crm", "e-1", "Reply")).unwrap(), again);
    assert_eq!(store.append_inbox("a", &inbound("erp", "e-1", "Reply")).unwrap(), Appended::New(1), "another source");
    assert!(matches!(store.append_inbox("zz", &inbound("crm", "e-9", "Reply")), Err(StoreError::NotFound(_))));
    assert_eq!(store.received("crm", "e-1").unwrap(), Some(("d".to_string(), 1)));
    assert_eq!(store.received("crm", "e-9").unwrap(), None);
    let inbox = store.inbox("d", 0, 10).unwrap();
    assert_eq!(inbox.len(), 2);
    let first = &inbox[0];
    assert_eq!(
        (first.seq, first.source.as_str(), first.id.as_str(), first.kind, first.event_type.as_str()),
        (1, "crm", "e-1", InboxKind::Event, "Reply")
    );
    assert_eq!((first.data.as_str(), first.received_ms), ("{\"by\":\"ops\"}", NOW));
    assert_eq!(inbox[1].kind, InboxKind::Cancel);
    assert_eq!(store.inbox("d", 1, 10).unwrap().len(), 1);
    assert_eq!(store.load("d").unwrap().inbox_len, 2);

    // Events not taken make an instance ready before anything in it is due; taking them (the checkpoint
    // says how far) makes it wait again.
    assert!(store.ready(TEST_TIME_MS + 999, TEST_TIME_MS + 999, 10).unwrap().contains(&"d".to_string()));
    let lease = store.acquire("d", ME, NOW, NOW + LEASE).unwrap();
    let mut taken = store.load("d").unwrap().state;
    taken.inbox_taken = 2;
    let revision = store.load("d").unwrap().info.revision;
    let committed = store.commit(&commit("d", &lease, revision, checkpoint(&taken, &[], &[]))).unwrap();
    assert_eq!(committed.inbox_len, 2);
    store.release("d", &lease).unwrap();
    assert!(!store.ready(TEST_TIME_MS + 999, TEST_TIME_MS + 999, 10).unwrap().contains(&"d".to_string()));

    // An ended run's inbox takes nothing, checked in the append itself (a driver may end the run after a
    // sender read it running): nothing is appended or remembered, and the run is not made ready.
    match store.append_inbox("e", &inbound("crm", "late-1", "Reply")) {
        Err(StoreError::Ended { instance, status }) => {
            assert_eq!((instance.as_str(), status.as_str()), ("e", "completed"))
        }
        other => panic!("expected Ended, got {other:?}"),
    }
    assert!(store.inbox("e", 0, 10).unwrap().is_empty());
    assert_eq!(store.received("crm", "late-1").unwrap(), None);
    assert_eq!(store.load("e").unwrap().inbox_len, 0);
    assert!(!store.ready(u64::MAX / 2, u64::MAX / 2, 10).unwrap().contains(&"e".to_string()));

    // A new instance keeps the event that started it; the same event cannot start another.
    let state = state("s");
    let start = inbound("crm", "start-1", "Start");
    let (s_info, s2_info) = (info("s", TEST_TIME_MS), info("s2", TEST_TIME_MS));
    let new = |info| NewInstance {
        info,
        definition: b"name: linear",
        blobs: vec![],
        received: Some(start),
        lease_owner: ME,
        lease_until_ms: NOW,
        checkpoint: checkpoint(&state, &[], &[]),
    };
    store.create(&new(&s_info)).unwrap();
    assert_eq!(store.inbox("s", 0, 10).unwrap()[0].id, "start-1");
    match store.create(&new(&s2_info)) {
        Err(StoreError::Duplicate { instance, .. }) => assert_eq!(instance, "s"),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert!(matches!(store.load("s2"), Err(StoreError::NotFound(_))), "nothing was created");
    // The same start again under the same instance id (a sender retrying) is a duplicate too, not a
    // clash of ids.
    match store.create(&new(&s_info)) {
        Err(StoreError::Duplicate { instance, .. }) => assert_eq!(instance, "s"),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    let mut done = state.clone();
    done.status = Status::Completed;
    store.commit(&commit("s", &Lease { owner: ME.into(), epoch: 1 }, 1, checkpoint(&done, &[], &[]))).unwrap();
    store.release("s", &Lease { owner: ME.into(), epoch: 1 }).unwrap();
    // Deleted, its events are forgotten: the same identity is new again.
    store.delete("s", NOW).unwrap();
    assert_eq!(store.append_inbox("d", &start).unwrap(), Appended::New(3));
}

fn correlation_keys(store: &dyn Store) {
    // Open awaits with a key are found by process, event and key; closed or ended, they are not.
    let keyed = |id: &str, key: &str| {
        let mut s = state(id);
        s.status = Status::Waiting;
        let data = weft_engine::data::Json::null();
        s.awaits.push(weft_engine::runner::OpenAwait {
            route: 0,
            event: "Reply".into(),
            deadline_ms: None,
            data,
            key: Some(key.into()),
        });
        s
    };
    let one = create(store, "k1", TEST_TIME_MS);
    let two = create(store, "k2", TEST_TIME_MS);
    store.commit(&commit("k1", &one, 1, checkpoint(&keyed("k1", "T-1"), &[], &[]))).unwrap();
    store.commit(&commit("k2", &two, 1, checkpoint(&keyed("k2", "T-2"), &[], &[]))).unwrap();
    assert_eq!(store.correlated("linear", "Reply", "T-1", 3).unwrap(), ["k1"]);
    assert!(store.correlated("linear", "Other", "T-1", 3).unwrap().is_empty());
    assert!(store.correlated("other", "Reply", "T-1", 3).unwrap().is_empty());
    store.commit(&commit("k2", &two, 2, checkpoint(&keyed("k2", "T-1"), &[], &[]))).unwrap();
    let mut both = store.correlated("linear", "Reply", "T-1", 3).unwrap();
    both.sort();
    assert_eq!(both, ["k1", "k2"]);
    assert!(store.correlated("linear", "Reply", "T-2", 3).unwrap().is_empty(), "k2's key moved");
    let mut closed = keyed("k1", "T-1");
    closed.awaits.clear();
    store.commit(&commit("k1", &one, 2, checkpoint(&closed, &[], &[]))).unwrap();
    let mut ended = keyed("k2", "T-1");
    ended.status = Status::Cancelled;
    store.commit(&commit("k2", &two, 3, checkpoint(&ended, &[], &[]))).unwrap();
    assert!(store.correlated("linear", "Reply", "T-1", 3).unwrap().is_empty());
    for (id, lease) in [("k1", &one), ("k2", &two)] {
        store.release(id, lease).unwrap();
    }
    store.delete("k2", NOW).unwrap();
    let mut done = closed;
    done.status = Status::Completed;
    let lease = store.acquire("k1", ME, NOW, NOW + LEASE).unwrap();
    store.commit(&commit("k1", &lease, 3, checkpoint(&done, &[], &[]))).unwrap();
    store.release("k1", &lease).unwrap();
    store.delete("k1", NOW).unwrap();
}

fn retention(store: &dyn Store) {
    // Only an ended instance nobody holds is deleted; with it go the blobs only it was pinned to.
    assert!(matches!(store.delete("a", NOW), Err(StoreError::NotEnded { .. })));
    assert!(matches!(store.delete("zz", NOW), Err(StoreError::NotFound(_))));
    let lease = store.acquire("e", ME, NOW, NOW + LEASE).unwrap();
    assert!(matches!(store.delete("e", NOW), Err(StoreError::Held { .. })));
    store.release("e", &lease).unwrap();
    store.delete("e", NOW).unwrap();
    assert!(matches!(store.load("e"), Err(StoreError::NotFound(_))));
    assert!(store.blob("d-layout-e").unwrap().is_none(), "only e was pinned to its layout");
    assert!(store.blob("d-echo").unwrap().is_some(), "the others still need the component");
    // Prune: ended before the date, and not held.
    let pruned = store.prune(TEST_TIME_MS + 1, NOW, 100).unwrap();
    assert!(pruned.instances.is_empty(), "c ended at its creation, after the date");
    let pruned = store.prune(u64::MAX, NOW, 100).unwrap();
    assert_eq!(pruned.instances, ["c"]);
    assert_eq!(pruned.blobs, 1, "c's layout");
    let left: BTreeSet<String> =
        store.list(&ListFilter::default(), None, 100).unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(left, ["a", "b", "d"].into_iter().map(String::from).collect());
    assert!(store.blob("d-def").unwrap().is_some());

    // An instance rebound to another version, then deleted: the blobs of both versions that only it was
    // pinned to go with it.
    let lease = create(store, "r", TEST_TIME_MS);
    let components = [("echo".to_owned(), "d-echo-2".to_owned())];
    let pinned = Pinned {
        definition_file: "linear.yaml",
        version: "2.0.0",
        definition_digest: "d-def-2",
        definition: b"name: linear # 2",
        components: &components,
        layout_digest: "d-layout-r2",
        blobs: vec![blob("d-echo-2", b"\0asm2"), blob("d-layout-r2", b"{}")],
    };
    let mut ended = state("r");
    ended.status = Status::Completed;
    store.repin(&pinned, &commit("r", &lease, 1, checkpoint(&ended, &[], &[]))).unwrap();
    store.release("r", &lease).unwrap();
    store.delete("r", NOW).unwrap();
    for digest in ["d-layout-r", "d-def-2", "d-echo-2", "d-layout-r2"] {
        assert!(store.blob(digest).unwrap().is_none(), "{digest} is pinned by nobody");
    }
    assert!(store.blob("d-def").unwrap().is_some() && store.blob("d-echo").unwrap().is_some());
}

#[test]
fn the_memory_store_conforms() {
    conformance(&MemoryStore::new());
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
    assert_eq!(reopened.load("a").unwrap().info.revision, 5);
    assert_eq!(reopened.history("a", 0, 100).unwrap().0.len(), 2);
    assert_eq!(reopened.outbox("a", 0, 100).unwrap().len(), 5);
}

#[test]
fn a_memory_store_without_history_keeps_none() {
    let store = MemoryStore::without_history();
    create(&store, "a", TEST_TIME_MS);
    assert!(store.history("a", 0, 10).unwrap().0.is_empty());
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

    // An empty database another program stamped with its own schema version is not Weft's either.
    let stamped = dir.path().join("stamped.db");
    foreign_sql(&stamped, "PRAGMA user_version = 7");
    assert!(refusal(&stamped).contains("another program"), "{}", refusal(&stamped));
    let version: i64 =
        rusqlite::Connection::open(&stamped).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 7, "left as it was");

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
    assert!(std::fs::read(&damaged).unwrap() == bytes, "the damaged file was not written to");
}

/// An ended run with events in its inbox it never took (an earlier Weft appended them when a driver ended
/// the run after the sender had read it running) needs no driver: it is never found ready, so a server does
/// not hand it out again and again.
#[test]
fn an_ended_run_with_events_it_never_took_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    for (id, status) in [("ended", Status::Completed), ("waiting", Status::Waiting)] {
        let lease = create(&store, id, TEST_TIME_MS);
        let mut state = state(id);
        state.status = status;
        store.commit(&commit(id, &lease, 1, checkpoint(&state, &[], &[]))).unwrap();
        store.release(id, &lease).unwrap();
    }
    assert_eq!(store.append_inbox("waiting", &inbound("crm", "w-1", "Reply")).unwrap(), Appended::New(1));
    foreign_sql(
        &path,
        "INSERT INTO inbox VALUES ('ended', 1, 'crm', 'late-1', 'event', 'Reply', '{}', 0);
         UPDATE instances SET inbox_len = 1 WHERE id = 'ended';",
    );
    assert_eq!(store.load("ended").unwrap().inbox_len, 1);
    assert_eq!(store.ready(u64::MAX / 2, u64::MAX / 2, 10).unwrap(), ["waiting"]);
}

/// Run `sql` on the SQLite file at `path` directly: another program writing to it.
fn foreign_sql(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

/// The schema of version `n`: the first `n` migration files.
fn schema_up_to(n: usize) -> String {
    let files = [
        include_str!("../../../engine/src/store/sqlite/migrations/0001_instances.sql"),
        include_str!("../../../engine/src/store/sqlite/migrations/0002_append_only_logs.sql"),
        include_str!("../../../engine/src/store/sqlite/migrations/0003_deliveries.sql"),
    ];
    files[..n].join("\n")
}

/// A store written by a Weft of store schema version 1 (flags on outbox rows, WITHOUT ROWID logs) opens
/// as the current version with everything kept: the history, the outbox, and which events were published.
#[test]
fn a_version_1_store_is_migrated_with_its_history_and_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let history = serde_json::to_string(&[status_entry(0, Status::Running)]).unwrap();
    let checkpoint = serde_json::to_string(&state("a")).unwrap();
    foreign_sql(
        &path,
        &format!(
            "{}
             PRAGMA application_id = 1464157780; PRAGMA user_version = 1;
             INSERT INTO blobs VALUES ('d-def', x'00');
             INSERT INTO instances VALUES ('a', 'linear', '1.0.0', 'running', 'linear.yaml', 'd-def', '[]', 2,
                 '{checkpoint}', 1, 2, 1, 1, NULL);
             INSERT INTO history VALUES ('a', 1, '{history}');
             INSERT INTO outbox VALUES ('a', 1, 'a-1', '{{\"id\":\"a-1\"}}', 1);
             INSERT INTO outbox VALUES ('a', 2, 'a-2', '{{\"id\":\"a-2\"}}', 0);",
            schema_up_to(1)
        ),
    );
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    let loaded = store.load("a").unwrap();
    assert_eq!((loaded.info.revision, loaded.info.epoch, loaded.info.holder), (2, 1, None));
    assert_eq!(loaded.info.next_due_ms, Some(1), "a running run is due at its last change");
    assert_eq!(store.history("a", 0, 10).unwrap().0, [status_entry(0, Status::Running)]);
    assert_eq!(store.outbox("a", 0, 10).unwrap().len(), 2);
    assert_eq!(ids(store.unacked("a", 0, 10).unwrap()), ["a-2"]);
    let version: i64 =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, weft_engine::store::sqlite::SCHEMA_VERSION);
}

/// A store of schema version 3 (a published watermark, webhook deliveries by event id, a pid owner): each
/// sink's cursor stops before its first event that was unpublished or never delivered; the old owner's
/// hold lapses; a waiting run is due at its earliest deadline.
#[test]
fn a_version_3_store_is_migrated_to_cursors_per_sink() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    let mut waiting = state("a");
    waiting.status = Status::Waiting;
    waiting.timers.push(Timer {
        due_ms: 5_000,
        fire: weft_engine::runner::Fire::Retry(weft_engine::runner::RetryCall {
            step: 0,
            function: 0,
            args: vec![None],
            attempt: 2,
        }),
    });
    let checkpoint = serde_json::to_string(&waiting).unwrap();
    let topic = |n: u32, topic: &str| format!("'{{\"id\":\"a-{n}\",\"wefttopic\":\"{topic}\"}}'");
    foreign_sql(
        &path,
        &format!(
            "{}
             PRAGMA application_id = 1464157780; PRAGMA user_version = 3;
             INSERT INTO blobs VALUES ('d-def', x'00'), ('d-echo', x'01');
             INSERT INTO instances (id, process, version, status, definition_file, definition_digest, components,
                 revision, checkpoint, history_len, outbox_len, created_ms, updated_ms, owner, published_len)
                 VALUES ('a', 'linear', '1.0.0', 'waiting', 'linear.yaml', 'd-def', '[[\"echo\",\"d-echo\"]]', 4,
                 '{checkpoint}', 0, 5, 1, 1, 'weft pid 9 on gone since 3', 4);
             INSERT INTO outbox VALUES ('a', 1, 'a-1', '{{\"id\":\"a-1\"}}');
             INSERT INTO outbox VALUES ('a', 2, 'a-2', {});
             INSERT INTO outbox VALUES ('a', 3, 'a-3', {});
             INSERT INTO outbox VALUES ('a', 4, 'a-4', {});
             INSERT INTO outbox VALUES ('a', 5, 'a-5', '{{\"id\":\"a-5\"}}');
             INSERT INTO deliveries VALUES ('a', 'a-2');",
            schema_up_to(3),
            topic(2, "Hooked"),
            topic(3, "Hooked"),
            topic(4, "Filed"),
        ),
    );
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    let loaded = store.load("a").unwrap();
    assert_eq!((loaded.info.holder, loaded.info.next_due_ms), (None, Some(5_000)));
    let unacked = store.unacked("a", 0, 10).unwrap();
    let summary: Vec<(String, String)> = unacked.iter().map(|e| (e.id.clone(), e.sink.clone())).collect();
    assert_eq!(
        summary,
        [
            ("a-3".to_string(), "topic:Hooked".to_string()),
            ("a-4".to_string(), "topic:Filed".to_string()),
            ("a-5".to_string(), "default".to_string())
        ],
        "a-1 was published, a-2 delivered; a-3 never delivered; a-4 had no recorded delivery; a-5 unpublished"
    );
    assert_eq!(unacked[0].topic.as_deref(), Some("Hooked"));
    // The blobs it was pinned to are known: deleting it (once ended) removes them.
    assert!(store.blob("d-echo").unwrap().is_some());
}

/// Several processes opening one new store at once all succeed: each migration reads the schema version
/// again inside its write transaction, and what SQLite answers "busy" without waiting (switching the new
/// file to WAL, say) is tried again.
#[test]
fn processes_opening_a_new_store_at_once_all_succeed() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            let opened: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        SqliteStore::open(&path, Durability::Full).map(drop)
                    })
                })
                .collect();
            for (i, o) in opened.into_iter().enumerate() {
                let result = o.join().unwrap();
                assert!(result.is_ok(), "round {round}, opener {i}: {:?}", result.err().map(|e| e.to_string()));
            }
        });
    }
}

/// Damage past the header is found when a newer schema first opens the store, before it is migrated.
#[test]
fn a_store_damaged_past_its_header_is_refused_before_a_migration_writes_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    foreign_sql(
        &path,
        &format!(
            "{} PRAGMA application_id = 1464157780; PRAGMA user_version = 3; PRAGMA page_size = 4096;
             CREATE TABLE filler (x TEXT); INSERT INTO filler VALUES (hex(randomblob(20000)));",
            schema_up_to(3)
        ),
    );
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes[len - 4096..].fill(0x5a); // the last page: table data, past the header
    std::fs::write(&path, &bytes).unwrap();
    let refused = refusal(&path);
    assert!(refused.contains("damaged"), "{refused}");
    assert!(std::fs::read(&path).unwrap() == bytes, "the damaged file was not written to");
}

/// Group commit: threads committing at once share transactions, each commit fenced on its own (a stale
/// lease is refused without failing the others of its batch), and every result goes to its own thread.
#[test]
fn group_commit_batches_the_commits_of_threads_each_fenced_on_its_own() {
    use std::sync::Arc;
    use weft_engine::durable::group::{GroupCommit, OwnedCommit};
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("weft.db"), Durability::Full).unwrap());
    const THREADS: usize = 8;
    const COMMITS: u64 = 25;
    let leases: Vec<Lease> = (0..THREADS).map(|t| create(&*store, &format!("g{t}"), NOW)).collect();
    let group = GroupCommit::new(store.clone(), 64);
    std::thread::scope(|scope| {
        for (t, lease) in leases.iter().enumerate() {
            let group = &group;
            scope.spawn(move || {
                let id = format!("g{t}");
                for revision in 1..=COMMITS {
                    // Encoded ahead, as a driver does: what is read back is what was encoded.
                    let owned = |lease: Lease, expected_revision| {
                        let history = vec![status_entry(revision, Status::Running)];
                        let encoded = Some(Encoded::of(&state(&id), &history).unwrap());
                        OwnedCommit {
                            id: id.clone(),
                            lease,
                            expected_revision,
                            state: state(&id),
                            history,
                            outbox: vec![event(&id, revision, None)],
                            acks: vec![],
                            now_ms: NOW,
                            encoded,
                        }
                    };
                    // A commit under a lease of another epoch is refused, alone.
                    let stale = Lease { owner: lease.owner.clone(), epoch: lease.epoch + 1 };
                    let refused = group.commit(owned(stale, revision));
                    assert!(matches!(refused, Err(StoreError::LeaseLost(_))), "{refused:?}");
                    let (committed, back) = group.commit(owned(lease.clone(), revision)).unwrap();
                    assert_eq!(committed.revision, revision + 1);
                    assert_eq!(back.outbox[0].seq, revision, "the commit comes back to its own thread");
                }
            });
        }
    });
    for t in 0..THREADS {
        let id = format!("g{t}");
        assert_eq!(store.load(&id).unwrap().info.revision, COMMITS + 1);
        assert_eq!(ids(store.outbox(&id, 0, 100).unwrap()).len(), COMMITS as usize);
        let (history, _) = store.history(&id, 0, 1000).unwrap();
        let statuses: Vec<u64> = history.iter().map(|e| e.superstep).collect();
        assert_eq!(statuses, (0..=COMMITS).collect::<Vec<_>>(), "the creation's, then each commit's as encoded ahead");
        let (read, written) = (store.load(&id).unwrap().state, state(&id));
        assert_eq!(serde_json::to_value(read).unwrap(), serde_json::to_value(written).unwrap(), "the state");
    }
    let stats = group.stats();
    assert_eq!(stats.commits, 2 * THREADS as u64 * COMMITS);
    assert!(stats.batches < stats.commits, "some commits shared a transaction: {stats:?}");
}

/// Group commit of a thread's several writes at once (a server letting go of the instances a batched
/// request started): each written, in order, while other threads commit; and nothing to write leaves the
/// group usable (it once took the lead and never handed it on, and every later write waited forever).
#[test]
fn group_commit_writes_a_thread_s_several_writes_together() {
    use std::sync::Arc;
    use weft_engine::durable::group::GroupCommit;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("weft.db"), Durability::Full).unwrap());
    let held: Vec<(String, Lease)> =
        (0..20).map(|n| format!("m{n}")).map(|id| (id.clone(), create(&*store, &id, NOW))).collect();
    let group = Arc::new(GroupCommit::new(store.clone(), 4));
    let (done, finished) = std::sync::mpsc::channel();
    let worker = {
        let group = group.clone();
        std::thread::spawn(move || {
            assert!(group.release_all(Vec::new()).is_empty());
            let (first, rest) = held.split_at(10);
            let other = {
                let group = group.clone();
                let rest = rest.to_vec();
                std::thread::spawn(move || group.release_all(rest))
            };
            let mine = group.release_all(first.to_vec());
            let theirs = other.join().unwrap();
            done.send((mine, theirs)).unwrap();
        })
    };
    let (mine, theirs) = finished.recv_timeout(std::time::Duration::from_secs(30)).expect("the writes were written");
    worker.join().unwrap();
    assert_eq!(mine.len() + theirs.len(), 20);
    assert!(mine.iter().chain(&theirs).all(Result::is_ok), "{mine:?} {theirs:?}");
    for n in 0..20 {
        store.acquire(&format!("m{n}"), OTHER, NOW, NOW + LEASE).expect("let go of");
    }
    assert!(group.stats().batches >= 5, "at most 4 per transaction: {:?}", group.stats());
}
