//! Durable runs through the library: a run pinned to the files it started with, cancelling, holding.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use weft_engine::data::Json;
use weft_engine::durable::{Driver, DurableError, Owner, is_gone};
use weft_engine::runner::{FixedClock, HistoryRecord, Status};
use weft_engine::store::sqlite::SqliteStore;
use weft_engine::store::{Store, StoreError};
use weft_tests::{TEST_TIME_MS, runtime, tests_dir};

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

fn start(driver: &Driver<'_>, file: &Path, id: &str) {
    let process = Arc::new(runtime().load_process(file).unwrap());
    driver.start(process, file, id, "Start", Json::from_value(&json!("Hi")).unwrap()).unwrap();
}

/// linear.yaml and its components in a temporary folder, an in-memory store and a fixed clock.
struct Fixture {
    dir: tempfile::TempDir,
    file: std::path::PathBuf,
    store: SqliteStore,
    clock: FixedClock,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = linear_in(dir.path());
        Fixture { dir, file, store: SqliteStore::in_memory().unwrap(), clock: FixedClock(TEST_TIME_MS) }
    }

    fn driver(&self) -> Driver<'_> {
        Driver::new(&self.store, runtime(), &self.clock)
    }
}

fn data(events: &[String]) -> Vec<serde_json::Value> {
    events.iter().map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap()["data"].clone()).collect()
}

#[test]
fn a_run_finishes_on_the_definition_and_components_it_started_with() {
    let fx = Fixture::new();
    let (dir, file, driver) = (fx.dir.path(), &fx.file, fx.driver());
    start(&driver, file, "pinned");

    // Version 2 on disk: repeat five times, and repeat.wasm replaced by another component.
    let v2 = std::fs::read_to_string(file).unwrap().replace("times: 2", "times: 5");
    std::fs::write(file, v2).unwrap();
    std::fs::copy(tests_dir("steps/counter.wasm"), dir.join("steps/repeat.wasm")).unwrap();

    let mut held = driver.open("pinned").unwrap();
    let mut events = Vec::new();
    driver.drive(&mut held, &mut events).unwrap();
    assert_eq!(held.run().state().status, Status::Completed);
    assert_eq!(data(&events), [json!("Hi Hi")], "version 1: twice, by the pinned repeat component");
    assert!(runtime().load_process(file).is_err(), "version 2 on disk no longer even loads");
}

#[test]
fn a_cancelled_run_never_runs_again() {
    let fx = Fixture::new();
    let (file, store, driver) = (&fx.file, &fx.store, fx.driver());
    start(&driver, file, "c");
    let cancelled = driver.cancel("c").unwrap();
    assert_eq!(cancelled.run().state().status, Status::Cancelled);
    assert_eq!(cancelled.run().state().invocations, 0);
    assert!(matches!(driver.open("c"), Err(DurableError::Ended { status, .. }) if status == "cancelled"));
    assert!(matches!(driver.cancel("c"), Err(DurableError::Ended { .. })));
    let history = store.history("c").unwrap();
    assert!(matches!(&history.last().unwrap().record, HistoryRecord::Status { status: Status::Cancelled }));
}

#[test]
fn a_live_holder_keeps_an_instance_and_a_dead_one_is_taken_over() {
    let fx = Fixture::new();
    let (file, store, driver) = (&fx.file, &fx.store, fx.driver());
    start(&driver, file, "h"); // held by this process until driven

    let me = Owner::current().to_string();
    let someone = Owner { pid: 1, ..Owner::current() }.to_string();
    match store.acquire("h", &someone, &is_gone) {
        Err(e @ StoreError::Held { .. }) => assert!(e.to_string().contains(&me), "names the holder: {e}"),
        other => panic!("expected Held, got {other:?}"),
    }
    // A holder whose process is gone (a pid that cannot exist) is taken over.
    let dead = Owner { pid: u32::MAX - 1, ..Owner::current() }.to_string();
    store.acquire("h", &dead, &|_| false).unwrap_err();
    store.release("h", &me, 0).unwrap();
    store.acquire("h", &dead, &is_gone).unwrap();
    store.acquire("h", &someone, &is_gone).unwrap();
    assert_eq!(store.load("h").unwrap().info.owner.as_deref(), Some(someone.as_str()));
}

#[test]
fn upgrade_rebinds_a_compatible_run_and_refuses_an_incompatible_one_saying_why() {
    let fx = Fixture::new();
    let (dir, file, store, driver) = (fx.dir.path(), &fx.file, &fx.store, fx.driver());
    start(&driver, file, "up"); // a message for echo.echo is queued
    store.release("up", &Owner::current().to_string(), 0).unwrap();

    // Incompatible: step echo is now a counter, without the `echo` function the queued message needs.
    let v1 = std::fs::read_to_string(file).unwrap();
    let v2 = v1.replace("steps/echo.wasm", "steps/counter.wasm").replace("result: echo", "result: tick");
    std::fs::copy(tests_dir("steps/counter.wasm"), dir.join("steps/counter.wasm")).unwrap();
    std::fs::write(file, v2).unwrap();
    let refused = driver.upgrade("up").err().expect("refused").to_string();
    assert!(
        refused.contains("step \"echo\": kernel function \"echo\" is gone, and a message is on its way to it"),
        "{refused}"
    );
    assert!(refused.contains("it stays on the version it started with"), "{refused}");

    // Compatible: repeat.wasm is now the Python build of the same step.
    std::fs::write(file, v1).unwrap();
    std::fs::copy(tests_dir("steps/py-repeat.wasm"), dir.join("steps/repeat.wasm")).unwrap();
    let before = store.load("up").unwrap().info.components;
    let mut held = driver.upgrade("up").unwrap();
    let after = store.load("up").unwrap().info.components;
    assert_eq!(before[0], after[0], "echo is the same component");
    assert_ne!(before[1], after[1], "repeat is rebound to the new file");
    let mut events = Vec::new();
    driver.drive(&mut held, &mut events).unwrap();
    assert_eq!(data(&events), [json!("Hi Hi")]);
    let history = store.history("up").unwrap();
    assert!(
        history.iter().any(|e| matches!(&e.record, HistoryRecord::Rebound { components, .. } if *components == after))
    );
}

#[test]
fn a_sub_process_is_pinned_with_its_parent() {
    let fx = Fixture::new();
    let (dir, driver) = (fx.dir.path(), fx.driver());
    let nested = std::fs::read_to_string(tests_dir("processes/nested.yaml")).unwrap().replace("../steps/", "steps/");
    std::fs::copy(tests_dir("steps/recorder.wasm"), dir.join("steps/recorder.wasm")).unwrap();
    let file = dir.join("nested.yaml");
    std::fs::write(&file, nested).unwrap();
    start(&driver, &file, "nested");

    // The sub-process's file is gone from the disk: the run goes on with the text it started with.
    std::fs::remove_file(&fx.file).unwrap();
    let mut held = driver.open("nested").unwrap();
    let mut events = Vec::new();
    driver.drive(&mut held, &mut events).unwrap();
    assert_eq!(held.run().state().status, Status::Completed);
    assert_eq!(data(&events), [json!("Hi Hi"), json!("Hi Hi Hi Hi"), json!("Hi Hi Hi Hi")]);
}
