//! Durable runs through the library: a run pinned to the files it started with, cancelling, leases,
//! upgrading.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use weft_engine::data::Json;
use weft_engine::durable::{Driver, DurableError, Instance, Leases};
use weft_engine::load::{Runtime, RuntimeConfig};
use weft_engine::runner::{Clock, FixedClock, HistoryRecord, Status};
use weft_engine::store::sqlite::SqliteStore;
use weft_engine::store::{Store, StoreError};
use weft_tests::{TEST_TIME_MS, runtime, test_environment, tests_dir};

/// `tests/processes/linear.yaml` and its two components, copied into `dir`.
fn linear_in(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    for step in ["echo", "repeat"] {
        std::fs::copy(tests_dir(&format!("steps/{step}.wasm")), dir.join(format!("steps/{step}.wasm"))).unwrap();
    }
    let yaml = std::fs::read_to_string(tests_dir("processes/linear.yaml")).unwrap().replace("../steps/", "steps/");
    let file = dir.join("linear.yaml");
    std::fs::write(&file, yaml).unwrap();
    file
}

fn start(driver: &Driver<'_>, file: &Path, id: &str) -> Instance {
    let process = Arc::new(runtime().load_process(file).unwrap());
    driver.start(process, file, id, "Start", Json::from_value(&json!("Hi")).unwrap(), None).unwrap()
}

/// linear.yaml and its components in a temporary folder, an in-memory store and a fixed clock.
struct Fixture {
    dir: tempfile::TempDir,
    file: std::path::PathBuf,
    store: Arc<dyn Store>,
    clock: FixedClock,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = linear_in(dir.path());
        Fixture { dir, file, store: Arc::new(SqliteStore::in_memory().unwrap()), clock: FixedClock(TEST_TIME_MS) }
    }

    fn driver(&self) -> Driver<'_> {
        Driver::new(self.store.clone(), runtime(), &self.clock)
    }
}

/// Drive `held` on with `driver` and finish; the CloudEvents JSON lines it published.
fn drive(driver: &Driver<'_>, held: &mut Instance) -> Vec<String> {
    let mut out = Vec::new();
    let mut relay = driver.relay(held, &mut out);
    driver.drive(held, &mut relay).unwrap();
    driver.finish(held, relay).unwrap();
    lines(out)
}

/// What a relay wrote, one CloudEvent's JSON per line.
fn lines(out: Vec<u8>) -> Vec<String> {
    String::from_utf8(out).unwrap().lines().map(str::to_owned).collect()
}

/// Open `id`, upgrade it and drive it on through one relay (as `weft resume --upgrade` does), and finish;
/// the instance and the CloudEvents JSON lines it published.
fn upgrade_and_drive(driver: &Driver<'_>, id: &str) -> (Instance, Vec<String>) {
    let mut held = driver.open_running(id).unwrap();
    let mut out = Vec::new();
    let mut relay = driver.relay(&held, &mut out);
    driver.upgrade(&mut held, &mut relay).unwrap();
    driver.drive(&mut held, &mut relay).unwrap();
    driver.finish(&held, relay).unwrap();
    (held, lines(out))
}

fn data(events: &[String]) -> Vec<serde_json::Value> {
    events.iter().map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap()["data"].clone()).collect()
}

#[test]
fn a_run_finishes_on_the_definition_and_components_it_started_with() {
    let fx = Fixture::new();
    let (dir, file, driver) = (fx.dir.path(), &fx.file, fx.driver());
    drop(start(&driver, file, "pinned"));

    // Version 2 on disk: repeat five times, and repeat.wasm replaced by another component.
    let v2 = std::fs::read_to_string(file).unwrap().replace("times: 2", "times: 5");
    std::fs::write(file, v2).unwrap();
    std::fs::copy(tests_dir("steps/counter.wasm"), dir.join("steps/repeat.wasm")).unwrap();

    let mut held = driver.open("pinned").unwrap();
    let events = drive(&driver, &mut held);
    assert_eq!(held.run().state().status, Status::Completed);
    assert_eq!(data(&events), [json!("Hi Hi")], "version 1: twice, by the pinned repeat component");
    assert!(runtime().load_process(file).is_err(), "version 2 on disk no longer even loads");
}

/// A clock one millisecond later at every reading.
struct Ticking(AtomicU64);

impl Clock for Ticking {
    fn now_ms(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

#[test]
fn a_run_commits_its_start_and_each_superstep_and_ends_in_the_last_unless_it_published() {
    // With the clock moving at every reading, waking a run up after its first superstep commits no time
    // of its own (that superstep's commit moved the run's time to its clock reading). A 2-step chain of
    // echo steps publishes nothing: its commits are its start and its two supersteps, the second's
    // checkpoint already saying `completed`.
    let fx = Fixture::new();
    let clock = Ticking(AtomicU64::new(TEST_TIME_MS));
    let driver = Driver::new(fx.store.clone(), runtime(), &clock);
    let yaml = "name: quiet\nversion: 1.0.0\nsteps:\n  - id: a\n    component: {steps}/echo.wasm\n  - id: b\n    \
                component: {steps}/echo.wasm\ninputs:\n  - event: Start\n    to: [{ step: a }]\nedges:\n  - from: \
                { step: a, result: echo }\n    to: [{ step: b, parameter: message }]\n";
    let quiet = write_definition(fx.dir.path(), "quiet", yaml);
    let mut held = start(&driver, &quiet, "q");
    assert!(drive(&driver, &mut held).is_empty(), "nothing published");
    let loaded = fx.store.load("q").unwrap();
    assert_eq!((loaded.state.status, loaded.state.superstep), (Status::Completed, 2));
    assert_eq!(loaded.info.revision, 3, "the start and two supersteps, each one commit");
    let (history, _) = fx.store.history("q", 0, 100).unwrap();
    assert!(matches!(&history.last().unwrap().record, HistoryRecord::Status { status: Status::Completed }));

    // linear.yaml publishes "Hi Hi" in its second superstep: the run ends in a commit of its own, which
    // records that the sink took the event, so that no checkpoint ends the run with an event another
    // driver would have to publish.
    let mut held = start(&driver, &fx.file, "r");
    let mut out = Vec::new();
    let mut relay = driver.relay(&held, &mut out);
    driver.drive(&mut held, &mut relay).unwrap();
    assert!(fx.store.unacked("r", 0, 10).unwrap().is_empty(), "acknowledged by the commit that ended it");
    driver.finish(&held, relay).unwrap();
    assert_eq!(data(&lines(out)), [json!("Hi Hi")]);
    let loaded = fx.store.load("r").unwrap();
    assert_eq!((loaded.state.status, loaded.state.superstep), (Status::Completed, 2));
    assert_eq!(loaded.info.revision, 4, "the start, two supersteps and the end");
}

#[test]
fn a_slice_yields_when_its_supersteps_are_spent_even_with_a_timer_due_at_once() {
    // A counter that counts again 1 ms later: after each superstep the run waits on a timer that the
    // moving clock already made due. A driver given one superstep (a server's slice) still yields after it,
    // and the next slice goes on from there.
    let fx = Fixture::new();
    let yaml = "name: ticking\nversion: 1.0.0\nsteps:\n  - id: counter\n    component: {steps}/counter.wasm\n    \
                state: { count: 0, limit: 5 }\ninputs:\n  - event: Start\n    to: [{ step: counter }]\nedges:\n  \
                - from: { step: counter, event: Again }\n    to: [{ step: counter, delay: 1ms }]\n";
    let file = write_definition(fx.dir.path(), "ticking", yaml);
    let clock = Ticking(AtomicU64::new(TEST_TIME_MS));
    let driver = Driver::new(fx.store.clone(), runtime(), &clock);
    let mut held = start(&driver, &file, "t");
    let mut relay = driver.relay(&held, Vec::new());
    driver.drive_for(&mut held, &mut relay, 1).unwrap();
    assert_eq!(held.run().state().superstep, 1, "one superstep, then it yielded");
    assert_eq!(fx.store.load("t").unwrap().state.superstep, 1, "and its checkpoint says so");
    driver.drive_for(&mut held, &mut relay, 2).unwrap();
    assert_eq!(held.run().state().superstep, 3, "two more");
    driver.drive(&mut held, &mut relay).unwrap();
    assert_eq!(held.run().state().status, Status::Completed);
    assert_eq!(held.run().state().step_states[0].as_ref().map(|s| s.to_value()["count"].clone()), Some(json!(5)));
    // docs/semantics.md, "Ending and statuses": the run waited at the end of its first superstep, its timer
    // fired, and it ran again.
    let (history, _) = fx.store.history("t", 0, 100).unwrap();
    let after_first: Vec<&HistoryRecord> =
        history.iter().filter(|e| e.superstep == 1).map(|e| &e.record).skip_while(|r| !is_status(r)).collect();
    assert!(
        matches!(
            after_first[..],
            [
                HistoryRecord::Status { status: Status::Waiting },
                HistoryRecord::TimerFired { .. },
                HistoryRecord::Status { status: Status::Running },
                ..
            ]
        ),
        "{after_first:?}"
    );
}

fn is_status(record: &HistoryRecord) -> bool {
    matches!(record, HistoryRecord::Status { .. })
}

#[test]
fn a_pinned_process_loaded_from_the_store_does_not_keep_the_store_open() {
    // The runtime keeps what it loaded (and so each component's blob) as long as the process: a blob
    // read from the store holds it weakly, so that a `weft` command closes its store when it drops it.
    let fx = Fixture::new();
    drop(start(&fx.driver(), &fx.file, "w"));
    // A runtime that has loaded nothing yet, as in a `weft resume`: it loads the components from the store.
    let cache_dir = Some(weft_tests::root().join("target").join("weft-test-cache"));
    let config = RuntimeConfig { cache_dir, environment: test_environment(), ..RuntimeConfig::default() };
    let fresh = Runtime::new(config).unwrap();
    // Without renewal: a heartbeat thread would hold the store for a moment of its own.
    let driver = Driver::new(fx.store.clone(), &fresh, &fx.clock).without_renewal();
    let mut held = driver.open("w").unwrap();
    assert_eq!(data(&drive(&driver, &mut held)), [json!("Hi Hi")]);
    drop((held, driver));
    assert_eq!(Arc::strong_count(&fx.store), 1, "only the fixture holds the store");
}

#[test]
fn a_cancelled_run_never_runs_again() {
    let fx = Fixture::new();
    let (file, store, driver) = (&fx.file, &fx.store, fx.driver());
    drop(start(&driver, file, "c"));
    let mut held = driver.open_running("c").unwrap();
    let mut relay = driver.relay(&held, Vec::new());
    driver.cancel(&mut held, &mut relay).unwrap();
    driver.finish(&held, relay).unwrap();
    assert_eq!(held.run().state().status, Status::Cancelled);
    // The start's checkpoint said running: the superstep it was followed by (echo's) ran first, by the
    // replay rule, then the cancel was taken; repeat never ran.
    assert_eq!(held.run().state().invocations, 1);
    let repeat = held.run().state().step_states[1].as_ref().map(|s| s.to_value());
    assert_eq!(repeat, Some(json!({"times": 2})), "repeat's initial state, untouched");
    drop(held);
    assert!(matches!(driver.open("c"), Err(DurableError::Ended { status, .. }) if status == "cancelled"));
    assert!(matches!(driver.open_running("c"), Err(DurableError::Ended { .. })));
    let (history, _) = store.history("c", 0, 100).unwrap();
    assert!(matches!(&history.last().unwrap().record, HistoryRecord::Status { status: Status::Cancelled }));
}

#[test]
fn a_driver_without_renewal_renews_nothing_and_its_expired_holds_still_commit() {
    // What `weft run --in-memory` uses: nobody else reaches its store, so a lease that runs out is still
    // its own. The same wait with renewal (the default) renews the lease.
    let fx = Fixture::new();
    let until = |id: &str| fx.store.load(id).unwrap().info.holder.expect("held").until_ms;
    let period = Duration::from_millis(60);
    let renewing = fx.driver().with_lease(period);
    let kept = start(&renewing, &fx.file, "renewed");
    let sole = fx.driver().without_renewal().with_lease(period);
    assert!(!sole.leases().renews(), "a lease period set afterwards keeps the choice");
    let mut held = start(&sole, &fx.file, "sole");
    let (kept_until, held_until) = (until("renewed"), until("sole"));
    std::thread::sleep(period * 4);
    assert!(until("renewed") > kept_until, "the default renews its leases");
    assert_eq!(until("sole"), held_until, "nothing renewed the lease, which has run out");
    let events = drive(&sole, &mut held);
    assert_eq!(data(&events), [json!("Hi Hi")], "its commits were taken all the same");
    assert_eq!(fx.store.load("sole").unwrap().state.status, Status::Completed);
    drop(kept);
}

#[test]
fn a_live_holder_keeps_an_instance_and_one_that_stops_renewing_is_taken_over_and_fenced() {
    let fx = Fixture::new();
    let driver = fx.driver().with_lease(Duration::from_millis(1500));
    let held = start(&driver, &fx.file, "h");

    // Another driver is refused while the first renews its lease (its heartbeat), naming the holder.
    let other = fx.driver().with_lease(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    match other.open("h") {
        Err(e @ DurableError::Store(StoreError::Held { .. })) => {
            assert!(e.to_string().contains(driver.leases().owner()), "names the holder: {e}");
        }
        Err(e) => panic!("expected Held, got {e}"),
        Ok(_) => panic!("a live holder was taken over"),
    }
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "refused once the holder renewed, not after waiting it out"
    );
    drop(held);
    drop(other.open("h").expect("let go of: taken at once"));

    // A holder that stops renewing (here: its keeper's lease is taken by hand, and never renewed) is
    // taken over when its lease runs out, and its later commits are refused.
    let stalled = Leases::new(fx.store.clone(), Duration::from_millis(200));
    let lease = fx.store.acquire("h", stalled.owner(), 0, 1).expect("free");
    let mut taken = other.open("h").expect("the stalled lease ran out long ago");
    assert_eq!(taken.lease().epoch, lease.epoch + 1);
    let events = drive(&other, &mut taken);
    assert_eq!(data(&events), [json!("Hi Hi")]);
    let revision = fx.store.load("h").unwrap().info.revision;
    let state = fx.store.load("h").unwrap().state;
    let stale = weft_engine::store::Commit {
        id: "h",
        lease: &lease,
        expected_revision: revision,
        checkpoint: weft_engine::store::Checkpoint {
            state: &state,
            history: &[],
            outbox: &[],
            acks: &[],
            now_ms: 0,
            encoded: None,
        },
    };
    assert!(matches!(fx.store.commit(&stale), Err(StoreError::LeaseLost(_))));
}

#[test]
fn upgrade_rebinds_a_compatible_run_and_refuses_an_incompatible_one_saying_why() {
    let fx = Fixture::new();
    let (dir, file, store, driver) = (fx.dir.path(), &fx.file, &fx.store, fx.driver());
    drop(start(&driver, file, "up")); // a message for echo.echo is queued
    let upgrade = |driver: &Driver<'_>| {
        let mut held = driver.open_running("up")?;
        let mut relay = driver.relay(&held, Vec::new());
        driver.upgrade(&mut held, &mut relay).map(|()| held)
    };

    // Incompatible: step echo is now a counter, without the `echo` function the queued message needs.
    // (The superstep the start left in flight runs first, on the pinned version: echo takes the message,
    // and repeat's queued value needs a `repeat` function.)
    let v1 = std::fs::read_to_string(file).unwrap();
    let v2 = v1.replace("steps/repeat.wasm", "steps/counter.wasm").replace("parameter: message", "function: tick");
    std::fs::copy(tests_dir("steps/counter.wasm"), dir.join("steps/counter.wasm")).unwrap();
    std::fs::write(file, v2).unwrap();
    let revision = store.load("up").unwrap().info.revision;
    let refused = upgrade(&driver).err().expect("refused").to_string();
    assert!(
        refused.contains("step \"repeat\": kernel function \"repeat\" is gone, and a message is on its way to it"),
        "{refused}"
    );
    assert!(refused.contains("it stays on the version it is pinned to"), "{refused}");
    let loaded = store.load("up").unwrap();
    assert_eq!(loaded.info.revision, revision + 1, "only the superstep in flight was committed, not the rebinding");

    // Compatible: repeat.wasm is now the Python build of the same step.
    std::fs::write(file, v1).unwrap();
    std::fs::copy(tests_dir("steps/py-repeat.wasm"), dir.join("steps/repeat.wasm")).unwrap();
    let before = store.load("up").unwrap().info.components;
    let mut held = driver.open_running("up").unwrap();
    let mut out = Vec::new();
    let mut relay = driver.relay(&held, &mut out);
    driver.upgrade(&mut held, &mut relay).unwrap();
    let after = store.load("up").unwrap().info.components;
    assert_eq!(before[0], after[0], "echo is the same component");
    assert_ne!(before[1], after[1], "repeat is rebound to the new file");
    driver.drive(&mut held, &mut relay).unwrap();
    driver.finish(&held, relay).unwrap();
    let events = lines(out);
    assert_eq!(data(&events), [json!("Hi Hi")]);
    assert_eq!(held.run().state().status, Status::Completed);
    let (history, _) = store.history("up", 0, 100).unwrap();
    assert!(
        history.iter().any(|e| matches!(&e.record, HistoryRecord::Rebound { components, .. } if *components == after))
    );
}

/// A run waiting for a parameter, its await still open, upgraded to a version of the step in which that
/// parameter is optional: the value already queued is a complete set on its own, and the function fires
/// when the upgraded run is driven, not at the run's next event; the history says it ran again.
#[test]
fn an_upgrade_that_completes_a_queued_set_fires_it_while_the_run_waits() {
    let fx = Fixture::new();
    let dir = fx.dir.path();
    std::fs::copy(tests_dir("steps/combine.wasm"), dir.join("steps/combine.wasm")).unwrap();
    let file = dir.join("waits.yaml");
    let yaml = "name: waits\nversion: 1.0.0\nsteps:\n  - id: echo\n    component: steps/echo.wasm\n  \
                - id: combine\n    component: steps/combine.wasm\ninputs:\n  - event: Start\n    to: [{ step: echo }]\n  \
                - event: Right\n    to: [{ step: combine, parameter: right }]\nedges:\n  - from: { step: echo, result: echo }\n    \
                to:\n      - { step: combine, parameter: left }\n      - await: Right\n        timeout: 30d\n        \
                onTimeout: [{ step: combine, parameter: right }]\n";
    std::fs::write(&file, yaml).unwrap();
    let driver = fx.driver();
    let mut held = start(&driver, &file, "w");
    assert!(drive(&driver, &mut held).is_empty());
    assert_eq!(held.run().state().status, Status::Waiting, "combine waits for `right`");
    drop(held);

    std::fs::copy(tests_dir("steps/combine-optional.wasm"), dir.join("steps/combine.wasm")).unwrap();
    let (held, events) = upgrade_and_drive(&driver, "w");
    assert_eq!(data(&events), [json!("Hi")], "`left` alone, combined");
    assert_eq!(held.run().state().status, Status::Waiting, "the await is still open");
    let (history, _) = fx.store.history("w", 0, 100).unwrap();
    let records: Vec<_> = history.iter().map(|e| &e.record).collect();
    let rebound = records.iter().position(|r| matches!(r, HistoryRecord::Rebound { .. })).expect("rebound");
    assert!(matches!(records[rebound + 1], HistoryRecord::Status { status: Status::Running }), "{records:?}");
}

#[test]
fn a_sub_process_is_pinned_with_its_parent() {
    let fx = Fixture::new();
    let (dir, driver) = (fx.dir.path(), fx.driver());
    let nested = std::fs::read_to_string(tests_dir("processes/nested.yaml")).unwrap().replace("../steps/", "steps/");
    std::fs::copy(tests_dir("steps/recorder.wasm"), dir.join("steps/recorder.wasm")).unwrap();
    let file = dir.join("nested.yaml");
    std::fs::write(&file, nested).unwrap();
    drop(start(&driver, &file, "nested"));

    // The sub-process's file is gone from the disk: the run goes on with the text it started with.
    std::fs::remove_file(&fx.file).unwrap();
    let mut held = driver.open("nested").unwrap();
    let events = drive(&driver, &mut held);
    assert_eq!(held.run().state().status, Status::Completed);
    assert_eq!(data(&events), [json!("Hi Hi"), json!("Hi Hi Hi Hi"), json!("Hi Hi Hi Hi")]);
}

/// `yaml` (with `{steps}` for the built test components) written to `<dir>/<name>.yaml`.
fn write_definition(dir: &Path, name: &str, yaml: &str) -> std::path::PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml.replace("{steps}", &tests_dir("steps").to_string_lossy())).unwrap();
    file
}

/// A run cancelled after a commit whose events were never published (its driver died first) publishes
/// them as it ends; nothing is left for a later driver.
#[test]
fn cancelling_publishes_what_was_committed_and_never_published() {
    let fx = Fixture::new();
    let file = write_definition(
        fx.dir.path(),
        "audited",
        "name: audited\nversion: 1.0.0\nsteps:\n  - id: echo\n    component: '{steps}/echo.wasm'\n\
         inputs:\n  - event: Start\n    to: [{ topic: Audit }, { step: echo }]\n",
    );
    let driver = fx.driver();
    drop(start(&driver, &file, "x")); // committed with the Audit event in its outbox, never driven
    let mut held = driver.open_running("x").unwrap();
    let mut out = Vec::new();
    let mut relay = driver.relay(&held, &mut out);
    driver.cancel(&mut held, &mut relay).unwrap();
    driver.finish(&held, relay).unwrap();
    let published = lines(out);
    assert_eq!(data(&published), [json!("Hi")]);
    assert!(fx.store.unacked("x", 0, 10).unwrap().is_empty());
    drop(held);
    assert!(matches!(driver.open("x"), Err(DurableError::Ended { .. })), "nothing left to publish");
}

/// Two awaits of one event, with different timeouts and timeout paths: after an upgrade each open await
/// keeps its own (matched by where it is declared, not by its event), so each timeout takes its own path.
#[test]
fn an_upgrade_keeps_each_of_two_awaits_of_one_event_on_its_own_timeout_path() {
    let fx = Fixture::new();
    let yaml = "name: twice\nversion: 1.0.0\nsteps:\n  - id: echo\n    component: '{steps}/echo.wasm'\n  \
                - id: short\n    component: '{steps}/recorder.wasm'\n  - id: long\n    component: '{steps}/recorder.wasm'\n\
                inputs:\n  - event: Start\n    to: [{ step: echo }]\n  - event: Reply\n    to: [{ step: short }]\n\
                edges:\n  - from: { step: echo, result: echo }\n    to:\n      - await: Reply\n        timeout: 1h\n        \
                onTimeout: [{ step: short }]\n  - from: { step: echo, result: echo }\n    to:\n      - await: Reply\n        \
                timeout: 2h\n        onTimeout: [{ step: long }]\n";
    let file = write_definition(fx.dir.path(), "twice", yaml);
    let driver = fx.driver();
    let mut held = start(&driver, &file, "t");
    drive(&driver, &mut held);
    assert_eq!(held.run().state().status, Status::Waiting);
    drop(held);
    // Version 2 accepts one more input event; its awaits are declared where they were.
    let v2 = yaml.replace("inputs:\n", "inputs:\n  - event: Ping\n    to: [{ step: long }]\n");
    write_definition(fx.dir.path(), "twice", &v2);
    let mut held = driver.open_running("t").unwrap();
    let mut relay = driver.relay(&held, Vec::new());
    driver.upgrade(&mut held, &mut relay).unwrap();
    driver.finish(&held, relay).unwrap();
    drop(held);
    // Three hours later both have timed out: one value each, not two for `short`.
    let later = FixedClock(TEST_TIME_MS + 3 * 3_600_000);
    let late = Driver::new(fx.store.clone(), runtime(), &later);
    let mut held = late.open("t").unwrap();
    drive(&late, &mut held);
    let states = &held.run().state().step_states;
    let seen = |i: usize| states[i].as_ref().map(|s| s.to_value()["seen"].as_array().unwrap().len());
    assert_eq!((seen(1), seen(2)), (Some(1), Some(1)), "{states:?}");
}

/// An upgrade that gives a topic a file sink publishes the topic's later events to that file, through the
/// relay the driver opened before the upgrade (as `weft resume --upgrade` does), and acknowledges them
/// under the file sink's cursor.
#[test]
fn an_upgrade_publishes_to_the_sinks_of_the_new_version() {
    let fx = Fixture::new();
    let v1 = std::fs::read_to_string(&fx.file).unwrap()
        + "  - from: { step: repeat, result: repeat }\n    to: [{ topic: Audit }]\n";
    std::fs::write(&fx.file, &v1).unwrap();
    let driver = fx.driver();
    drop(start(&driver, &fx.file, "s")); // a message for echo.echo is queued; repeat runs after the upgrade
    std::fs::write(&fx.file, v1 + "sinks:\n  - topic: Audit\n    to: { file: audit.jsonl }\n").unwrap();
    let (held, printed) = upgrade_and_drive(&driver, "s");
    assert_eq!(held.run().state().status, Status::Completed);
    assert!(printed.iter().all(|e| !e.contains("\"type\":\"Audit\"")), "not on the default output: {printed:?}");
    let audit = std::fs::read_to_string(fx.dir.path().join("audit.jsonl")).unwrap_or_default();
    let lines: Vec<String> = audit.lines().map(str::to_owned).collect();
    assert_eq!(data(&lines), [json!("Hi Hi")], "{audit}");
    assert!(fx.store.unacked("s", 0, 10).unwrap().is_empty(), "acknowledged under the file sink's cursor");
}

/// A component file unchanged since an earlier load (and settled, see `load::digests`) is neither read
/// nor hashed again: its blob stays in the file until a store that lacks it asks, and is checked then. A
/// rebuilt file is read again; one rebuilt after it was loaded unread is refused at the store, not
/// pinned under the wrong digest.
#[test]
fn an_unchanged_component_file_is_not_read_again_and_a_changed_one_is() {
    use weft_engine::load::digests::SETTLED;
    use weft_engine::load::{Runtime, RuntimeConfig};
    let dir = tempfile::tempdir().unwrap();
    let file = linear_in(dir.path());
    let cache = dir.path().join("cache");
    let load = || {
        let runtime = Runtime::new(RuntimeConfig { cache_dir: Some(cache.clone()), ..RuntimeConfig::default() });
        (runtime.unwrap().load_process(&file).unwrap(), file.clone())
    };
    let unread = |process: &weft_engine::load::Process| -> Vec<bool> {
        process.pins.iter().filter(|p| !p.key.starts_with("process:")).map(|p| !p.blob.is_read()).collect()
    };
    std::thread::sleep(SETTLED + Duration::from_millis(100));
    let (first, _) = load();
    assert_eq!(unread(&first), [false, false], "read and hashed the first time");
    let (second, _) = load();
    assert_eq!(unread(&second), [true, true], "recalled: neither read nor hashed");
    let digests =
        |p: &weft_engine::load::Process| p.pins.iter().map(|p| p.blob.digest().to_owned()).collect::<Vec<_>>();
    assert_eq!(digests(&first), digests(&second));

    // A store that lacks them reads them then; the run pinned to them resumes from the store alone.
    let fixture = Fixture::new();
    let driver = fixture.driver();
    let process = Arc::new(second);
    let data = Json::from_value(&json!("Hi")).unwrap();
    let mut held = driver.start(process, &file, "unread", "Start", data.clone(), None).unwrap();
    drive(&driver, &mut held);
    for pin in &first.pins {
        let stored = fixture.store.blob(pin.blob.digest()).unwrap().expect("pinned");
        assert_eq!(stored, &*pin.blob.bytes().unwrap(), "{}", pin.key);
    }

    // echo.wasm rebuilt (here: repeat.wasm copied over it) after a load that did not read it: the store
    // refuses to pin it, saying what changed; nothing is created.
    let (third, _) = load();
    assert_eq!(unread(&third), [true, true]);
    let echo = dir.path().join("steps/echo.wasm");
    std::fs::copy(dir.path().join("steps/repeat.wasm"), &echo).unwrap();
    let fresh = Fixture::new();
    let driver = fresh.driver();
    let Err(refused) = driver.start(Arc::new(third), &file, "changed", "Start", data, None) else {
        panic!("a changed file was pinned")
    };
    let message = refused.to_string();
    assert!(message.contains("echo.wasm changed while Weft was using it"), "{message}");
    assert!(matches!(fresh.store.load("changed"), Err(StoreError::NotFound(_))), "nothing was created");
    // Written again (with its first bytes back): the next load sees the write and reads the file again.
    std::fs::copy(tests_dir("steps/echo.wasm"), &echo).unwrap();
    let (fourth, _) = load();
    assert_eq!(unread(&fourth), [false, true], "the rewritten file is read again, the other still recalled");
    assert_eq!(digests(&fourth), digests(&first));
}

/// A run's pinned components are read from the store only when they must be compiled: opening a run
/// whose components this runtime has loaded reads none of them; a runtime with nothing compiled reads
/// them, and a blob whose content is not what its digest names is refused then, naming the blob.
#[test]
fn a_pinned_component_is_read_from_the_store_only_to_be_compiled() {
    use weft_engine::load::{Runtime, RuntimeConfig};
    let dir = tempfile::tempdir().unwrap();
    let file = linear_in(dir.path());
    let path = dir.path().join("weft.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, Default::default()).unwrap());
    let clock = FixedClock(TEST_TIME_MS);
    let cached = || {
        let cache_dir = Some(dir.path().join("cache"));
        Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() }).unwrap()
    };
    let first = cached();
    let driver = Driver::new(store.clone(), &first, &clock);
    let process = Arc::new(first.load_process(&file).unwrap());
    let data = Json::from_value(&json!("Hi")).unwrap();
    let mut held = driver.start(process, &file, "pinned", "Start", data, None).unwrap();
    drive(&driver, &mut held);
    drop(held);
    let components = |process: &weft_engine::load::Process| -> Vec<bool> {
        process.pins.iter().filter(|p| !p.key.starts_with("process:")).map(|p| p.blob.is_read()).collect()
    };
    // Another runtime (another command) with the compiled forms in its cache reads no component.
    let second = cached();
    let opened = Driver::new(store.clone(), &second, &clock).open_any("pinned").unwrap();
    assert_eq!(components(opened.run().process()), [false, false], "compiled already: nothing read");
    drop(opened);

    // A runtime without a cache compiles them: it reads them from the store, and checks them.
    let uncached = Runtime::new(RuntimeConfig { cache_dir: None, ..RuntimeConfig::default() }).unwrap();
    let opened = Driver::new(store.clone(), &uncached, &clock).open_any("pinned").unwrap();
    assert_eq!(components(opened.run().process()), [true, true]);
    drop(opened);
    let echo = opened_digest(&store, "pinned", "echo");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE blobs SET content = x'0061736d' WHERE digest = ?1", [&echo])
        .unwrap();
    let fresh = Runtime::new(RuntimeConfig { cache_dir: None, ..RuntimeConfig::default() }).unwrap();
    let Err(refused) = Driver::new(store, &fresh, &clock).open_any("pinned") else { panic!("a damaged blob was run") };
    let message = refused.to_string();
    assert!(message.contains(&format!("the store's blob {echo} holds content of SHA-256")), "{message}");
}

/// The digest instance `id` of `store` pinned for step `step`.
fn opened_digest(store: &Arc<dyn Store>, id: &str, step: &str) -> String {
    let info = store.load(id).unwrap().info;
    info.components.iter().find(|(key, _)| key == step).map(|(_, digest)| digest.clone()).unwrap()
}

#[test]
fn instances_made_ahead_of_need_change_nothing_the_run_gives() {
    // linear.yaml runs echo, then repeat. Driven with warming, repeat's instance is made on a thread of its
    // own from the start on (echo's is not: the first superstep invokes echo at once) and taken when
    // repeat is first invoked: the same step, limits, grants and seeded host state, so the run gives the
    // same events, states and history as one that makes its instances as it goes. In `branch`, the
    // instance is made for `unused`, the first step of repeat's component, which never runs, and handed to
    // `repeat` as a take-over would hand it.
    let fx = Fixture::new();
    let branch = fx.dir.path().join("branch.yaml");
    let linear = std::fs::read_to_string(&fx.file).unwrap();
    let with_unused = linear.replace(
        "  - id: repeat\n",
        "  - id: unused\n    component: steps/repeat.wasm\n    state: { times: 3 }\n  - id: repeat\n",
    );
    assert_ne!(with_unused, linear);
    std::fs::write(&branch, with_unused.replace("name: linear", "name: branch")).unwrap();
    for file in [&fx.file, &branch] {
        let (warmed, taken) = run_warmed_or_not(&fx.clock, file, true);
        let (unwarmed, none) = run_warmed_or_not(&fx.clock, file, false);
        let file = file.display();
        assert_eq!((taken, none), (1, 0), "{file}: repeat took the instance made ahead of need");
        assert_eq!(warmed, unwarmed, "{file}");
        assert_eq!(data(&warmed.events), [json!("Hi Hi")], "{file}");
        assert_eq!(warmed.instances, 2, "{file}: one instance per step that ran, the one made ahead of need counted");
    }
}

#[test]
fn an_instance_that_cannot_be_made_ahead_of_need_fails_its_step_as_without() {
    // repeat may hold 64 KiB of memory, less than its component starts with: making its instance fails on
    // the warming thread, and again when repeat is invoked, which then fails with the usual message. The
    // run gives the same failure, states and history with warming as without, and takes nothing made
    // ahead of need.
    let fx = Fixture::new();
    let tight = fx.dir.path().join("tight.yaml");
    let linear = std::fs::read_to_string(&fx.file).unwrap();
    let limited =
        linear.replace("    state: { times: 2 }\n", "    state: { times: 2 }\n    limits: { memory: 64KiB }\n");
    assert_ne!(limited, linear);
    std::fs::write(&tight, limited).unwrap();
    let (warmed, taken) = run_warmed_or_not(&fx.clock, &tight, true);
    let (unwarmed, _) = run_warmed_or_not(&fx.clock, &tight, false);
    assert_eq!(taken, 0, "nothing was made ahead of need");
    assert_eq!(warmed, unwarmed);
    let failed =
        warmed.history.iter().find_map(|r| r.pointer("/invoked/error").filter(|e| e["type"] == "memory-limit"));
    let message = failed.and_then(|e| e["message"].as_str()).unwrap_or_default();
    assert!(
        message.starts_with("cannot instantiate: the instance reached its memory limit of 64KiB (limits.memory) at its start: it asked for "),
        "{:#?}",
        warmed.history
    );
    assert_eq!(warmed.status["status"], "failed", "{:#?}", warmed.status);
}

/// What a run of `file` (as instance `w`, in a store of its own) gives, driven with or without instances
/// made ahead of need.
#[derive(Debug, PartialEq)]
struct Given {
    events: Vec<String>,
    states: serde_json::Value,
    /// Its history, durations left out.
    history: Vec<serde_json::Value>,
    status: serde_json::Value,
    invocations: u64,
    instances: u64,
}

/// Run `file` to its end with warming on (`warm`) or off: what it gave, and how many instances made
/// ahead of need its steps took.
fn run_warmed_or_not(clock: &FixedClock, file: &Path, warm: bool) -> (Given, u64) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let driver = Driver::new(store.clone(), runtime(), clock);
    let driver = if warm { driver.with_warming() } else { driver };
    let mut held = start(&driver, file, "w");
    held.run().settle_warming();
    let events = drive(&driver, &mut held);
    let run = held.run();
    let (history, _) = store.history("w", 0, 100).unwrap();
    let given = Given {
        events,
        states: serde_json::to_value(&run.state().step_states).unwrap(),
        history: history.into_iter().map(|r| without_durations(serde_json::to_value(r.record).unwrap())).collect(),
        status: serde_json::to_value(&run.state().status).unwrap(),
        invocations: run.state().invocations,
        instances: run.instances_created(),
    };
    (given, run.instances_warmed())
}

/// `value` without the invocations' measured durations (which differ from run to run).
fn without_durations(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !k.to_ascii_lowercase().starts_with("duration"));
            for v in map.values_mut() {
                *v = without_durations(v.take());
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                *v = without_durations(v.take());
            }
        }
        _ => {}
    }
    value
}
