//! Hostile guests (tests/processes/hostile.yaml): a step under tight per-step limits loops, allocates,
//! floods, emits or keeps huge data, panics, and reaches for files and sockets. Each attempt is a function
//! error of that invocation, naming the limit and its value where one was hit; the process's error handler
//! records it, the failing step's state is as it was, and another step of the same component, invoked in
//! the same superstep, works.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_engine::runner::Status;
use weft_tests::{Observed, process, run};

/// Run `hostile.yaml` on `event` with `data`, and `Count` for the bystander beside it; the recorded error
/// (`{type, message, step, function}`) after checking that everything else held.
fn hostile(event: &str, data: Value) -> Value {
    let observed = run(&process("hostile"), &[(event, data), ("Count", json!(null))]);
    contained(&observed)
}

/// The one error the handler recorded, after checking that the run completed, the failing step's state
/// is untouched and the bystander counted.
fn contained(observed: &Observed) -> Value {
    assert_eq!(observed.status, Status::Completed, "the error handler took the error");
    assert_eq!(observed.step_state(0), json!({"attempts": 0}), "a failed invocation changes no state");
    assert_eq!(observed.step_state(1), json!({"attempts": 1}), "the bystander step ran beside it");
    let recorded: Vec<Value> = observed.events().into_iter().filter(|(t, _)| t == "Recorded").map(|(_, d)| d).collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    recorded[0].clone()
}

fn kind_and_message(error: &Value) -> (&str, &str) {
    (error["type"].as_str().unwrap_or_default(), error["message"].as_str().unwrap_or_default())
}

#[test]
fn an_endless_loop_stops_at_its_steps_time_limit() {
    let started = Instant::now();
    let error = hostile("Spin", json!(null));
    let took = started.elapsed();
    assert_eq!(
        kind_and_message(&error),
        ("timeout", "the invocation ran past its time limit of 300ms (limits.timeout)")
    );
    assert_eq!(error["function"], "spin");
    // 300 ms of the guest's, then the rest of the run (the bystander, the recorder): well under a second.
    assert!(took < Duration::from_millis(300 + 1_500), "took {took:?}");
}

#[test]
fn a_memory_bomb_stops_at_its_steps_memory_limit() {
    let error = hostile("Hog", json!(null));
    let (kind, message) = kind_and_message(&error);
    assert_eq!(kind, "memory-limit");
    assert!(message.starts_with("the instance reached its memory limit of 32MiB (limits.memory)"), "{message}");
}

#[test]
fn a_panic_becomes_an_on_error_event_with_its_message() {
    let error = hostile("Crash", json!("the guest gave up"));
    let (kind, message) = kind_and_message(&error);
    assert_eq!((kind, error["function"].as_str()), ("trap", Some("crash")));
    assert!(message.contains("unreachable"), "{message}");
}

#[test]
fn a_million_events_hit_the_event_limit() {
    let error = hostile("Flood", json!(1_000_000));
    assert_eq!(
        kind_and_message(&error),
        ("output-limit", "emitted more than 100 events in one invocation (limits.maxEvents: 100)")
    );
}

#[test]
fn event_data_over_the_size_limit_is_refused() {
    let error = hostile("Huge", json!(2));
    let (kind, message) = kind_and_message(&error);
    assert_eq!(kind, "output-limit");
    assert!(message.contains("over its limit of 1MiB (limits.maxEventSize)"), "{message}");
}

/// The bystander has the engine's default limits (1 GiB of memory, 16 MiB per event): it can build a
/// 100 MB payload, and the host refuses it.
#[test]
fn a_100_mb_payload_hits_the_default_event_size_limit() {
    let observed = run(&process("hostile"), &[("BigPayload", json!(100))]);
    assert_eq!(observed.status, Status::Completed);
    let recorded: Vec<Value> = observed.events().into_iter().map(|(_, d)| d).collect();
    let (kind, message) = kind_and_message(&recorded[0]);
    assert_eq!((kind, recorded[0]["step"].as_str()), ("output-limit", Some("bystander")));
    assert!(message.contains("with 95.4MiB of data, over its limit of 16MiB (limits.maxEventSize)"), "{message}");
}

#[test]
fn a_state_over_the_size_limit_is_refused() {
    let error = hostile("Bloat", json!(2));
    let (kind, message) = kind_and_message(&error);
    assert_eq!(kind, "output-limit");
    assert!(message.contains("returned a state of") && message.ends_with("(limits.maxStateSize)"), "{message}");
}

#[test]
fn a_guest_cannot_read_the_hosts_files() {
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "the host's secret").unwrap();
    let error = hostile("ReadFile", json!(secret.path().to_string_lossy()));
    let (kind, message) = kind_and_message(&error);
    assert_eq!(kind, "failed");
    assert!(message.starts_with("cannot read") && !message.contains("the host's secret"), "{message}");
}

#[test]
fn a_guest_cannot_open_a_socket() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let error = hostile("Connect", json!(address));
    let (kind, message) = kind_and_message(&error);
    assert!(kind == "failed" || kind == "trap", "{error}");
    assert!(message.contains(&address) || kind == "trap", "{message}");
    let accepted = listener.accept();
    assert!(accepted.is_err(), "the guest reached the listener: {accepted:?}");
}
