//! The crash test (docs/semantics.md, "Durability"): the real `weft` binary runs `tests/processes/crash-loop.yaml`
//! (over 150 supersteps: a loop with fan-out, a fan-in, a conditional edge, an all-of group and four stateful
//! steps) and is killed with SIGKILL at
//! random moments — while loading, mid-superstep, mid-commit — then resumed with `weft resume`, again and
//! again, until a resume finishes. The run must end exactly as an uncrashed run does: the same final step
//! states, the same published events (once each by id, in order, byte for byte, after de-duplicating the
//! re-publications), and the same history apart from timings: no message lost or delivered twice.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use serde_json::Value;

use crate::{command, history_of, killed_output, random_delay, summary_of, text, weft_in};

const PROCESS: &str = "tests/processes/crash-loop.yaml";
const INSTANCE: &str = "crash";
/// Every run sees this time, so that the crashed and uncrashed runs' events can be compared byte for byte.
const NOW: (&str, &str) = ("WEFT_NOW", "2026-11-22T09:00:00Z");
/// A killed `weft` leaves its lease behind: the next waits until it runs out, so keep it short.
const LEASE: (&str, &str) = ("WEFT_LEASE", "200ms");
/// Kills required over the whole test.
const KILLS: usize = 25;
/// Of those, kills after the attempt had committed and published at least one superstep (the rest land
/// while `weft` loads, or between its last commit and its exit).
const KILLS_MID_RUN: usize = 10;

/// Everything observable about a finished instance: its summary's states and status, its history without
/// timings, and the JSON lines of its published events as the store's outbox holds them.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: Value,
    states: Value,
    history: Vec<Value>,
}

fn outcome(store: &Path) -> Outcome {
    let summary = summary_of(store, INSTANCE);
    Outcome {
        status: summary["status"].clone(),
        states: summary["states"].clone(),
        history: history_of(store, INSTANCE),
    }
}

#[test]
fn a_run_killed_at_random_moments_and_resumed_ends_as_if_it_never_crashed() {
    let dir = tempfile::tempdir().unwrap();
    let reference_store = dir.path().join("reference.db");
    let started = Instant::now();
    let reference =
        weft_in(&reference_store, &["run", PROCESS, "--event", "Start", "--instance-id", INSTANCE], &[NOW, LEASE]);
    let full_run = started.elapsed();
    assert_eq!(reference.status.code(), Some(0), "{}", text(&reference.stderr));
    let expected_events = killed_output(&text(&reference.stdout));
    let expected = outcome(&reference_store);
    assert_eq!(expected.status, "completed");
    assert_eq!(
        expected_events.len(),
        452,
        "300 from the loop (Recorded and Tallied each round, and the final Recorded), 3 Recorded from the \
         conditional edge (rounds 50, 100, 150), 149 from pairs (one per Tallied; Recorded arrivals left waiting)"
    );

    let (mut kills, mut mid_run, mut instances) = (0, 0, 0);
    // Kills land at random within the time a whole run takes: the reference run's, or less once a whole
    // run is seen to take less (the reference may have run while the machine was busier).
    let mut window = full_run;
    while kills < KILLS || mid_run < KILLS_MID_RUN {
        assert!(instances < 200, "{kills} kills, {mid_run} mid-run, over {instances} instances");
        instances += 1;
        let store = dir.path().join(format!("crashed-{instances}.db"));
        let mut published: Vec<String> = Vec::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let args: &[&str] = if attempt == 1 {
                &["run", PROCESS, "--event", "Start", "--instance-id", INSTANCE]
            } else {
                &["resume", INSTANCE]
            };
            let stdout = dir.path().join(format!("out-{instances}-{attempt}.txt"));
            let mut child = command(&store, args, &[NOW, LEASE])
                .stdout(std::fs::File::create(&stdout).unwrap())
                .stderr(Stdio::piped())
                .spawn()
                .expect("weft starts");
            let began = Instant::now();
            let delay = random_delay(window);
            std::thread::sleep(delay);
            let _ = child.kill(); // SIGKILL; fails only when the child was already reaped
            let status = child.wait_with_output().unwrap();
            let killed = status.status.signal() == Some(9);
            if !killed && attempt == 1 {
                window = window.min(began.elapsed());
            }
            let attempt_events = killed_output(&std::fs::read_to_string(&stdout).unwrap());
            if killed {
                kills += 1;
                mid_run += usize::from(!attempt_events.is_empty());
                published.extend(attempt_events);
                continue;
            }
            published.extend(attempt_events);
            let stderr = text(&status.stderr);
            assert!(!stderr.contains("panicked"), "{stderr}");
            // Finished: this attempt ran the instance to its end, or a kill came after the end was committed
            // and everything published.
            if status.status.success() || stderr.contains("has already ended") {
                break;
            }
            // A kill before the instance was created leaves nothing to resume: start it again.
            assert!(stderr.contains("no process instance has the id"), "attempt {attempt}: {stderr}");
            attempt = 0;
        }
        // Every re-publication of an event is byte for byte the first one; de-duplicated, they are the
        // uncrashed run's events, in order.
        let mut first_by_id: HashMap<String, String> = HashMap::new();
        let mut distinct = Vec::new();
        for line in published {
            let id = serde_json::from_str::<Value>(&line).unwrap()["id"].as_str().unwrap().to_owned();
            match first_by_id.get(&id) {
                Some(first) => assert_eq!(first, &line, "event {id} was published again differently"),
                None => {
                    first_by_id.insert(id, line.clone());
                    distinct.push(line);
                }
            }
        }
        assert_eq!(distinct, expected_events, "instance {instances}: the published events");
        assert_eq!(outcome(&store), expected, "instance {instances}: states, status and history");
    }
    eprintln!("{kills} kills ({mid_run} mid-run) over {instances} instances, each resumed to the uncrashed run's end");
}

/// Several `weft` processes append to one topic file at once (docs/durability.md, "A file": written under
/// an exclusive lock, a line cut by a crash cut off by the next writer), half of them killed with SIGKILL
/// at random moments and resumed: every line of the file parses, every event of every instance is there,
/// and an event written twice (its acknowledgement lost with a kill) is the same line both times.
#[test]
fn several_processes_share_one_topic_file_through_kills() {
    let dir = tempfile::tempdir().unwrap();
    let file = crate::definition(
        dir.path(),
        "ticks",
        "name: ticks\nversion: 1.0.0\nsteps:\n  - id: counter\n    component: '{steps}/counter.wasm'\n    \
         state: { count: 0, limit: 800 }\ninputs:\n  - event: Start\n    to: [{ step: counter }]\nedges:\n  \
         - from: { step: counter, event: Again }\n    to: [{ step: counter }, { topic: Ticks }]\n\
         sinks:\n  - topic: Ticks\n    to: { file: ticks.jsonl }\n",
    );
    let store = dir.path().join("store.db");
    let ids: Vec<String> = (0..6).map(|n| format!("p-{n}")).collect();
    let children: Vec<_> = ids
        .iter()
        .map(|id| {
            command(&store, &["run", &file, "--event", "Start", "--instance-id", id], &[NOW, LEASE])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    for (n, mut child) in children.into_iter().enumerate() {
        if n % 2 == 0 {
            std::thread::sleep(random_delay(std::time::Duration::from_millis(1500)).saturating_sub(started.elapsed()));
            let _ = child.kill();
        }
        let _ = child.wait();
    }
    // Six runs of 800 supersteps at once take seconds here; kills within 1.5 s land mid-run.
    let cut = ids.iter().filter(|id| {
        let status = weft_in(&store, &["status", id, "--json"], &[]);
        status.status.code() != Some(0) || !text(&status.stdout).contains("\"status\":\"completed\"")
    });
    assert!(cut.count() >= 1, "no kill cut a run short");
    // Each goes on (or starts, when killed before it was created) until it completes.
    for id in &ids {
        let status = weft_in(&store, &["status", id, "--json"], &[]);
        let args: Vec<&str> = match status.status.code() {
            Some(0) => vec!["resume", id],
            _ => vec!["run", &file, "--event", "Start", "--instance-id", id],
        };
        let out = weft_in(&store, &args, &[NOW, LEASE]);
        let summary = summary_of(&store, id);
        assert_eq!(summary["status"], "completed", "{id}: {}", text(&out.stderr));
    }
    let written = std::fs::read_to_string(dir.path().join("ticks.jsonl")).unwrap();
    let mut lines_by_id: HashMap<String, &str> = HashMap::new();
    let mut data: HashMap<String, std::collections::BTreeSet<u64>> = HashMap::new();
    for line in written.lines() {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a line that does not parse ({e}): {line}"));
        let id = event["id"].as_str().unwrap().to_owned();
        if let Some(before) = lines_by_id.insert(id.clone(), line) {
            assert_eq!(before, line, "{id} written twice, differently");
        }
        let instance = event["source"].as_str().unwrap().split('/').nth(4).unwrap().to_owned();
        data.entry(instance).or_default().insert(event["data"].as_u64().unwrap());
    }
    for id in &ids {
        assert_eq!(data.get(id).map(|d| d.len()), Some(799), "{id}: every tick 1 to 799 is in the file");
    }
}
