//! The crash test with time (docs/durability.md, "What you can rely on after a crash"): the real `weft`
//! binary drives `tests/processes/crash-time.yaml` — a map whose items call an outside payment service on
//! loopback with their invocation ids as idempotency keys, a retry that fails twice, a delayed edge, an
//! await answered by `weft send`, one that times out into a file topic, a sub-process, two payers in a
//! row of which the second takes over the first's instance — through a schedule of `weft run`, `weft
//! resume` and `weft send` with the injected clock moving forward between them. Every call is killed with
//! SIGKILL at random moments (while loading, mid-call to the service, mid-commit, mid-write to the topic's
//! file) and tried again, at the same time, until it finishes.
//!
//! Against an uncrashed run of the same schedule: the service sees the same idempotency keys and no other
//! (a key may come again, always with the same body: a step's own calls are at least once), the published
//! events and the topic's lines are identical by id (and every line of the file parses), and the final
//! states, status and history (timings aside) are equal.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::service::{Received, Reply, Service};
use crate::{command, history_of, killed_output, random_delay, root, summary_of, text, weft_in};

const INSTANCE: &str = "orders";
/// Kills required over the whole test.
const KILLS: usize = 25;
/// Of those, kills after the attempt committed something and before it finished.
const KILLS_MID_RUN: usize = 10;
/// A killed `weft` leaves its lease behind; the next waits for it to run out.
const LEASE: (&str, &str) = ("WEFT_LEASE", "200ms");

/// One call of the schedule.
#[derive(Clone, Copy)]
enum Call {
    Run,
    Resume,
    Send(&'static str),
}

/// The schedule: what runs when (the injected clock, `WEFT_NOW`).
const SCHEDULE: &[(&str, Call)] = &[
    // Three payments (each an outside call), the supplier's first failure, the input's audit line; the
    // payments open two awaits and a delayed booking.
    ("2026-11-22T09:00:00Z", Call::Run),
    // The supplier's first retry: it fails again.
    ("2026-11-22T09:01:00Z", Call::Resume),
    // Confirmed by hand; the second retry succeeds and is audited and booked.
    ("2026-11-22T09:02:00Z", Call::Send("Confirm")),
    // The delayed booking is due.
    ("2026-11-22T09:04:00Z", Call::Resume),
    // `Shipped` never came: its await times out into the audit topic and the reminder; the run completes.
    ("2026-11-22T09:06:00Z", Call::Resume),
];

/// A copy of the process (and its sub-process) in `dir`, its steps at their built paths and its service
/// at `port`; the definition's path.
fn process_in(dir: &Path, port: u16) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let steps = root().join("tests/steps");
    for name in ["crash-time", "crash-time-books"] {
        let text = std::fs::read_to_string(root().join(format!("tests/processes/{name}.yaml"))).unwrap();
        let text = text.replace("../steps/", &format!("{}/", steps.display())).replace("{port}", &port.to_string());
        std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    }
    dir.join("crash-time.yaml").to_string_lossy().into_owned()
}

/// The arguments of `call`, given whether the instance exists and whether a `send` was already taken.
fn args(call: Call, file: &str, created: bool, sent: bool) -> Vec<&str> {
    const ORDERS: &str = r#"[{"amount": 5}, {"amount": 7}, {"amount": 9}]"#;
    match call {
        Call::Run if !created => vec!["run", file, "--event", "Start", "--data", ORDERS, "--instance-id", INSTANCE],
        Call::Send(event) if !sent => {
            vec!["send", INSTANCE, "--event", event, "--data", r#"{"by": "ops"}"#, "--event-id", "confirm-1"]
        }
        _ => vec!["resume", INSTANCE],
    }
}

/// The revision of the instance in `store`, 0 when it does not exist (yet).
fn revision(store: &Path) -> i64 {
    let Ok(conn) = rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    conn.query_row("SELECT revision FROM instances WHERE id = ?1", [INSTANCE], |r| r.get(0)).unwrap_or(0)
}

/// Everything observable about a finished instance.
#[derive(Debug)]
struct Outcome {
    /// Its summary's status and step states.
    status: Value,
    states: Value,
    /// Its history, timings left out.
    history: Vec<Value>,
    /// Its published events, de-duplicated by id (first occurrences, in order).
    published: Vec<String>,
    /// The audit topic's lines, de-duplicated by id.
    audit: Vec<String>,
    /// Each idempotency key the service saw, with the one body it came with.
    keys: BTreeMap<String, Value>,
}

/// `lines` de-duplicated by CloudEvent id, asserting that every repetition is byte for byte the first.
fn by_id(lines: impl IntoIterator<Item = String>, what: &str) -> Vec<String> {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut distinct = Vec::new();
    for line in lines {
        let event: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what}: a line that does not parse ({e}): {line}"));
        let id = event["id"].as_str().expect("an id").to_owned();
        match first.get(&id) {
            Some(seen) => assert_eq!(seen, &line, "{what}: event {id} came again differently"),
            None => {
                first.insert(id, line.clone());
                distinct.push(line);
            }
        }
    }
    distinct
}

/// The keys in `requests`, each with its body, asserting that a key always comes with the same body.
fn keys(requests: &[Received]) -> BTreeMap<String, Value> {
    let mut keys = BTreeMap::new();
    for r in requests {
        let key = r.header("idempotency-key").expect("an idempotency key").to_owned();
        if let Some(body) = keys.insert(key.clone(), r.body.clone()) {
            assert_eq!(body, r.body, "key {key} came with another body");
        }
    }
    keys
}

fn outcome(store: &Path, dir: &Path, published: Vec<String>, requests: &[Received]) -> Outcome {
    let summary = summary_of(store, INSTANCE);
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).expect("the audit topic's file");
    Outcome {
        status: summary["status"].clone(),
        states: summary["states"].clone(),
        history: history_of(store, INSTANCE),
        published: by_id(published, "published events"),
        audit: by_id(audit.lines().map(str::to_owned), "the audit file"),
        keys: keys(requests),
    }
}

#[test]
fn a_schedule_killed_at_random_moments_ends_as_if_it_never_crashed() {
    // The payment service answers each charge after 150 ms, so that kills land while calls are in flight.
    let service =
        Service::start(0, |_, r| Reply::json(&json!({"charged": r.body["amount"]}), Duration::from_millis(150)));
    let base = tempfile::tempdir().unwrap();

    // The uncrashed run, and how long each call of it took.
    let dir = base.path().join("reference");
    let file = process_in(&dir, service.port());
    let store = dir.join("store.db");
    let (mut published, mut took) = (Vec::new(), Vec::new());
    for (i, &(time, call)) in SCHEDULE.iter().enumerate() {
        let started = Instant::now();
        let out = weft_in(&store, &args(call, &file, i > 0, false), &[("WEFT_NOW", time), LEASE]);
        took.push(started.elapsed());
        assert_eq!(out.status.code(), Some(0), "call {i}: {}", text(&out.stderr));
        published.extend(killed_output(&text(&out.stdout)));
    }
    let expected = outcome(&store, &dir, published, &service.requests());
    assert_eq!(expected.status, "completed");
    assert_eq!(expected.keys.len(), 5, "{:?}", expected.keys);
    assert!(
        expected.keys.keys().any(|k| k.contains(":balance:")),
        "the second payer's key names it: {:?}",
        expected.keys
    );
    assert_eq!(expected.audit.len(), 4, "the input, the payments, the supplier's answer, the timeout");
    let history = serde_json::to_string(&expected.history).unwrap();
    assert!(history.contains(r#""attempt":3"#) && history.contains(r#""timed_out":true"#), "{history}");

    let (mut kills, mut mid_run, mut instances) = (0, 0, 0);
    while kills < KILLS || mid_run < KILLS_MID_RUN {
        assert!(instances < 60, "{kills} kills, {mid_run} mid-run, over {instances} instances");
        instances += 1;
        service.clear();
        let dir = base.path().join(format!("crashed-{instances}"));
        let file = process_in(&dir, service.port());
        let store = dir.join("store.db");
        let mut published = Vec::new();
        for (i, &(time, call)) in SCHEDULE.iter().enumerate() {
            let (mut created, mut sent) = (i > 0, false);
            // Each call is killed up to three times, half of the kills late in the call (where it commits).
            let budget = random_delay(Duration::from_micros(4)).as_micros();
            let mut attempt = 0;
            loop {
                attempt += 1;
                let late = attempt % 2 == 0;
                let before = revision(&store);
                let stdout = dir.join(format!("out-{i}-{attempt}.txt"));
                let mut child = command(&store, &args(call, &file, created, sent), &[("WEFT_NOW", time), LEASE])
                    .stdout(std::fs::File::create(&stdout).unwrap())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("weft starts");
                if attempt as u128 <= budget {
                    let delay = random_delay(if late { took[i] / 2 } else { took[i] });
                    std::thread::sleep(if late { took[i] / 2 + delay } else { delay });
                    let _ = child.kill(); // SIGKILL; fails only when the child was already reaped
                }
                let out = child.wait_with_output().unwrap();
                published.extend(killed_output(&std::fs::read_to_string(&stdout).unwrap()));
                if out.status.signal() == Some(9) {
                    kills += 1;
                    mid_run += usize::from(revision(&store) > before);
                    continue;
                }
                let stderr = text(&out.stderr);
                assert!(!stderr.contains("panicked"), "{stderr}");
                if out.status.success() || stderr.contains("has already ended") {
                    break;
                }
                // A kill before the instance was created leaves nothing to resume; one after, nothing to
                // create; one after the sent event was taken, nothing to send.
                if stderr.contains("no process instance has the id") {
                    created = false;
                } else if stderr.contains("already exists") {
                    created = true;
                } else if stderr.contains("does not await \"Confirm\"") {
                    sent = true;
                } else {
                    panic!("instance {instances}, call {i}, attempt {attempt}: {stderr}");
                }
            }
        }
        let crashed = outcome(&store, &dir, published, &service.requests());
        if let Some(difference) = first_difference(&crashed, &expected) {
            panic!("instance {instances} ({} kills so far): {difference}", kills);
        }
    }
    eprintln!("{kills} kills ({mid_run} mid-run) over {instances} instances, each ending as the uncrashed run did");
}

/// Where `crashed` first differs from `expected`, in a few lines; none when they are equal.
fn first_difference(crashed: &Outcome, expected: &Outcome) -> Option<String> {
    fn list<T: std::fmt::Debug + PartialEq>(what: &str, a: &[T], b: &[T]) -> Option<String> {
        let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        (a != b).then(|| {
            format!(
                "{what} differ at {i} (crashed {} of them, uncrashed {}):\n  crashed:   {:?}\n  uncrashed: {:?}",
                a.len(),
                b.len(),
                a.get(i),
                b.get(i)
            )
        })
    }
    let keys = |o: &Outcome| o.keys.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>();
    list("statuses", std::slice::from_ref(&crashed.status), std::slice::from_ref(&expected.status))
        .or_else(|| list("states", std::slice::from_ref(&crashed.states), std::slice::from_ref(&expected.states)))
        .or_else(|| list("idempotency keys", &keys(crashed), &keys(expected)))
        .or_else(|| list("published events", &crashed.published, &expected.published))
        .or_else(|| list("audit lines", &crashed.audit, &expected.audit))
        .or_else(|| list("history entries", &crashed.history, &expected.history))
}
