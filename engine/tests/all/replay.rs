//! What a durable run promises about events and idempotency keys, through the `weft` command: topic events
//! routed outside a superstep reach the outbox (and so a sink); a superstep a crash left in flight is run
//! again exactly — same invocation ids, same time — before any timer fires or any sent event is taken;
//! each item of a map is its own call, with its own id and random numbers (docs/durability.md).

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::service::{Reply, Service};
use crate::{cloudevents, command, definition, text, wait_for, weft_in};

const T0: &str = "2026-11-22T09:00:00Z";

/// An input event, a sent event and an await's timeout that each go to a topic: a durable run publishes
/// all three, as `weft run --in-memory` does.
#[test]
fn topic_events_routed_outside_a_superstep_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let file = definition(
        dir.path(),
        "audit",
        "name: audit\nversion: 1.0.0\nsteps:\n  - id: echo\n    component: '{steps}/echo.wasm'\n\
         inputs:\n  - event: Start\n    to: [{ topic: Audit }, { step: echo }]\n  \
         - event: Reply\n    to: [{ topic: Audit }]\n  - event: Late\n    to: [{ topic: Audit }]\n\
         edges:\n  - from: { step: echo, result: echo }\n    to:\n      - await: Reply\n      \
         - await: Late\n        timeout: 1h\n        onTimeout: [{ topic: Audit }]\n\
         sinks:\n  - topic: Audit\n    to: stdout\n",
    );
    let audit = |stdout: &[u8]| -> Vec<Value> {
        cloudevents(stdout).into_iter().filter(|e| e["type"] == "Audit").map(|e| e["data"].clone()).collect()
    };
    let store = dir.path().join("store.db");
    let at = |time: &'static str| [("WEFT_NOW", time)];
    let memory = weft_in(&store, &["run", &file, "--event", "Start", "--data", "\"in\"", "--in-memory"], &at(T0));
    assert_eq!(audit(&memory.stdout), [json!("in")], "{}", text(&memory.stderr));

    let run = weft_in(&store, &["run", &file, "--event", "Start", "--data", "\"in\"", "--instance-id", "a"], &at(T0));
    assert_eq!(audit(&run.stdout), [json!("in")], "the input event's topic event: {}", text(&run.stderr));
    let send = weft_in(&store, &["send", "a", "--event", "Reply", "--data", "\"reply\""], &at(T0));
    assert_eq!(audit(&send.stdout), [json!("reply")], "the sent event's: {}", text(&send.stderr));
    let resume = weft_in(&store, &["resume", "a"], &at("2026-11-22T10:00:01Z"));
    assert_eq!(audit(&resume.stdout), [json!("in")], "the timeout's: {}", text(&resume.stderr));
    assert!(text(&resume.stderr).contains("completed"), "{}", text(&resume.stderr));
}

/// The issue's replay case: `early` is delayed a minute, `payer` calls an outside service at once, `slow`
/// calls one that takes seconds. `weft` is killed while `slow`'s call is in flight (after `payer`'s), and
/// the run is resumed two minutes later (or sent an event). The superstep in flight runs again first, at
/// its own time: `payer` calls again with the same idempotency key, `<instance>:payer:1`, never another.
#[test]
fn a_superstep_a_crash_left_in_flight_runs_again_first_with_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    // The first slow call of each run hangs (the one `weft` is killed during); the one re-run answers.
    let slow_calls = Arc::new(AtomicUsize::new(0));
    let counted = slow_calls.clone();
    let service = Service::start(0, move |_, r| {
        let hangs = r.path == "/slow" && counted.fetch_add(1, Ordering::SeqCst).is_multiple_of(2);
        Reply::json(&json!({"ok": true}), Duration::from_millis(if hangs { 30_000 } else { 0 }))
    });
    let file = definition(
        dir.path(),
        "replay",
        &format!(
            "name: replay\nversion: 1.0.0\nsteps:\n  - id: early\n    component: '{{steps}}/recorder.wasm'\n  \
             - id: payer\n    component: '{{steps}}/payer.wasm'\n{}  - id: slow\n    component: '{{steps}}/payer.wasm'\n{}\
             inputs:\n  - event: Start\n    to:\n      - {{ step: early, delay: 1m }}\n      - {{ step: payer }}\n      \
             - {{ step: slow }}\n      - await: Go\n  - event: Go\n    to: [{{ step: early }}]\n",
            service.grant("/pay"),
            service.grant("/slow")
        ),
    );
    let store = dir.path().join("store.db");
    let env = |time: &'static str| [("WEFT_NOW", time), ("WEFT_LEASE", "300ms")];
    for (id, then) in [("resumed", vec!["resume", "resumed"]), ("sent", vec!["send", "sent", "--event", "Go"])] {
        service.clear();
        let mut run =
            command(&store, &["run", &file, "--event", "Start", "--data", "{}", "--instance-id", id], &env(T0))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
        wait_for("the slow call", || service.requests().iter().any(|r| r.path == "/slow"));
        run.kill().unwrap();
        run.wait().unwrap();
        // Only the slow call answers quickly now; the run goes on two minutes later, when `early` is due.
        let later = weft_in(&store, &then, &env("2026-11-22T09:02:00Z"));
        let keys: Vec<String> = service
            .requests()
            .iter()
            .filter(|r| r.path == "/pay")
            .map(|r| r.header("idempotency-key").unwrap_or_default().to_owned())
            .collect();
        assert_eq!(keys, [format!("{id}:payer:1"), format!("{id}:payer:1")], "{id}: {}", text(&later.stderr));
        let paid: Vec<Value> = cloudevents(&later.stdout).into_iter().filter(|e| e["type"] == "Paid").collect();
        assert!(
            paid.iter().all(|e| e["time"] == "2026-11-22T09:00:00Z"),
            "{id}: the re-run saw its own time: {paid:?}"
        );
    }
}

/// Each item of a map over a component is its own call: the outside service sees one idempotency key per
/// item, `<instance>:<step>:<n>/<item>`, and each item draws its own random numbers (the same again when
/// the run is repeated).
#[test]
fn each_map_item_has_its_own_invocation_id_and_random_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(0, |_, r| Reply::json(&json!({"charged": r.body["amount"]}), Duration::ZERO));
    let file = definition(
        dir.path(),
        "payments",
        &format!(
            "name: payments\nversion: 1.0.0\nsteps:\n  - id: payments\n    map: {{ component: '{{steps}}/payer.wasm' }}\n{}\
             inputs:\n  - event: Start\n    to: [{{ step: payments, function: pay }}]\n",
            service.grant("/pay")
        ),
    );
    let store = dir.path().join("store.db");
    let orders = r#"[{"amount": 5}, {"amount": 7}, {"amount": 9}]"#;
    let mut draws = Vec::new();
    for id in ["m", "m-again"] {
        let out = weft_in(&store, &["run", &file, "--event", "Start", "--data", orders, "--instance-id", id], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let history = weft_in(&store, &["history", id, "--json"], &[]);
        let paid = text(&history.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find_map(|e| {
                e["record"]["emitted"].as_object().filter(|r| r["event"] == "Paid").map(|r| r["data"].clone())
            })
            .expect("the map's Paid event is in the history");
        let keys: Vec<&str> = paid.as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
        assert_eq!(keys, [format!("{id}:payments:1/0"), format!("{id}:payments:1/1"), format!("{id}:payments:1/2")]);
        draws.push(paid.as_array().unwrap().iter().map(|p| p["draw"].clone()).collect::<Vec<_>>());
    }
    let sent: Vec<String> =
        service.requests().iter().map(|r| r.header("idempotency-key").unwrap_or_default().to_owned()).collect();
    assert_eq!(sent.len(), 6);
    assert_eq!(sent.iter().collect::<std::collections::BTreeSet<_>>().len(), 6, "one key per item: {sent:?}");
    let first = &draws[0];
    assert!(
        first[0] != first[1] && first[1] != first[2] && first[0] != first[2],
        "each item its own numbers: {first:?}"
    );
    assert_ne!(draws[0], draws[1], "another instance draws others");
}
