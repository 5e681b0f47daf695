//! The inbox (docs/durability.md, "The inbox"): every event for an instance is appended to its inbox before
//! anything runs, keyed by CloudEvent `source` + `id`; a duplicate is recognised and never runs twice; an
//! event sent, or a cancel, while another driver holds the instance is taken by that driver at its next
//! superstep boundary.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::service::Service;
use crate::{cloudevents, command, definition, history_of, summary_of, text, wait_for, weft_in};

/// A process whose start calls a slow outside service (the first call takes `wait`) and awaits `Go`, which
/// goes to a recorder.
fn busy_process(dir: &std::path::Path, wait: Duration) -> (Service, String) {
    let service = Service::first_call_waits(wait);
    let file = definition(
        dir,
        "busy",
        &format!(
            "name: busy\nversion: 1.0.0\nsteps:\n  - id: payer\n    component: '{{steps}}/payer.wasm'\n{}  \
             - id: recorder\n    component: '{{steps}}/recorder.wasm'\n\
             inputs:\n  - event: Start\n    to: [{{ step: payer }}, {{ await: Go }}]\n  \
             - event: Go\n    to: [{{ step: recorder }}]\n",
            service.grant("/pay")
        ),
    );
    (service, file)
}

/// `weft run` of `file`'s `Start` as instance `id` into `store`, started and not waited for (its output
/// piped): the holder of the instance while its slow call lasts.
fn start_holding(store: &std::path::Path, file: &str, id: &str) -> std::process::Child {
    command(store, &["run", file, "--event", "Start", "--data", "{}", "--instance-id", id], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The `taken` records of a history, as (source, id, refused).
fn taken(history: &[Value]) -> Vec<(String, String, Value)> {
    history
        .iter()
        .filter_map(|e| e["record"].get("taken"))
        .map(|t| (t["source"].as_str().unwrap().into(), t["id"].as_str().unwrap().into(), t["refused"].clone()))
        .collect()
}

/// `weft send` (and `weft cancel`) while `weft run` holds the instance in the middle of a slow call: the
/// event is queued, and the holder takes it at its next superstep boundary and runs on with it.
#[test]
fn an_event_sent_while_another_driver_holds_the_instance_is_taken_by_that_driver() {
    for (name, last) in [("send", "Recorded"), ("cancel", "cancelled")] {
        let dir = tempfile::tempdir().unwrap();
        let (service, file) = busy_process(dir.path(), Duration::from_secs(2));
        let store = dir.path().join("store.db");
        let holder = start_holding(&store, &file, "b");
        wait_for("the slow call", || !service.requests().is_empty());
        let args: &[&str] = match name {
            "send" => &["send", "b", "--event", "Go", "--data", "\"go\"", "--event-id", "go-1"],
            _ => &["cancel", "b"],
        };
        let queued = weft_in(&store, args, &[]);
        assert_eq!(queued.status.code(), Some(0), "{name}: {}", text(&queued.stderr));
        assert!(
            text(&queued.stderr).contains("queued in the inbox of process instance \"b\" (position 1)"),
            "{}",
            text(&queued.stderr)
        );
        let done = holder.wait_with_output().unwrap();
        assert!(done.status.success(), "{name}: {}", text(&done.stderr));
        let summary = summary_of(&store, "b");
        let history = history_of(&store, "b");
        let records = taken(&history);
        assert_eq!(records.len(), 1, "{name}: {records:?}");
        if name == "send" {
            let published: Vec<Value> = cloudevents(&done.stdout).into_iter().map(|e| e["type"].clone()).collect();
            assert!(published.contains(&Value::from(last)), "the holder published what Go led to: {published:?}");
            assert_eq!(summary["status"], "completed");
            assert_eq!(records[0], ("weft:cli".into(), "go-1".into(), Value::Null));
        } else {
            assert_eq!(summary["status"], last);
            assert_eq!(summary["states"]["recorder"], Value::Null, "nothing ran after the cancel");
        }
    }
}

/// The same event sent twice (same source and id) is taken once; a start with an event id that was
/// received before creates no second instance.
#[test]
fn a_duplicate_event_is_recognised_and_never_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let ticket = "examples/support-ticket/process.yaml";
    let at = [("WEFT_NOW", "2026-11-23T09:00:00Z")];
    let start = |instance: &str| {
        let args = [
            "run",
            ticket,
            "--event",
            "NewTicket",
            "--data-file",
            "examples/support-ticket/tickets/outage.json",
            "--instance-id",
            instance,
            "--event-source",
            "crm",
            "--event-id",
            "ticket-1001",
        ];
        weft_in(&store, &args, &at)
    };
    assert_eq!(start("T-1").status.code(), Some(0));
    let again = start("T-2");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("was received before, by process instance \"T-1\""),
        "{}",
        text(&again.stderr)
    );
    assert!(text(&weft_in(&store, &["status", "T-2"], &at).stderr).contains("no process instance has the id \"T-2\""));

    let reply = [
        "send",
        "T-1",
        "--event",
        "AgentReplied",
        "--data-file",
        "examples/support-ticket/tickets/reply-1001.json",
        "--event-id",
        "reply-7",
    ];
    let first = weft_in(&store, &reply, &at);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(cloudevents(&first.stdout).len(), 1, "TicketResolved");
    let second = weft_in(&store, &reply, &at);
    assert!(text(&second.stderr).contains("it is not received again"), "{}", text(&second.stderr));
    assert!(cloudevents(&second.stdout).is_empty(), "nothing ran again");
    let history = history_of(&store, "T-1");
    assert_eq!(taken(&history), [("weft:cli".to_string(), "reply-7".to_string(), Value::Null)]);
    assert_eq!(summary_of(&store, "T-1")["status"], "completed");
}

/// Two `Go` events sent while `weft run` holds the instance in a slow call are both queued (the run awaits
/// `Go` when each is sent); the holder takes them in order: the first closes the await and runs, the second
/// is refused when taken. The history says why, and the refused event changes nothing else.
#[test]
fn an_event_whose_await_closed_before_it_was_taken_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough for two `weft send`s of a debug build (each watching the holder renew its lease first)
    // to queue their events while the call lasts, and within the grant's default 10 s timeout.
    let (service, file) = busy_process(dir.path(), Duration::from_secs(9));
    let store = dir.path().join("store.db");
    let holder = start_holding(&store, &file, "r");
    wait_for("the slow call", || !service.requests().is_empty());
    for (n, data) in [(1, "\"first\""), (2, "\"second\"")] {
        let id = format!("go-{n}");
        let queued = weft_in(&store, &["send", "r", "--event", "Go", "--data", data, "--event-id", &id], &[]);
        assert_eq!(queued.status.code(), Some(0), "{id}: {}", text(&queued.stderr));
        assert!(text(&queued.stderr).contains(&format!("(position {n})")), "{}", text(&queued.stderr));
    }
    let done = holder.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", text(&done.stderr));
    let history = history_of(&store, "r");
    let records = taken(&history);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0], ("weft:cli".into(), "go-1".into(), Value::Null));
    let refused = records[1].2.as_str().unwrap_or_default();
    assert!(records[1].1 == "go-2" && refused.contains("Go"), "the second is refused, saying why: {records:?}");
    let summary = summary_of(&store, "r");
    assert_eq!(summary["status"], "completed", "{summary}");
    let recorded = summary["states"]["recorder"].to_string();
    assert!(recorded.contains("first") && !recorded.contains("second"), "only the first ran: {recorded}");
}
