//! What keeps a store bounded (docs/durability.md, "Retention" and "History"): `weft prune` and `weft
//! delete` remove ended instances with everything only they refer to; waiting values are bounded; the
//! history records how a state changed, not the whole state each time.

use serde_json::Value;

use crate::{definition, text, weft_in};

fn blobs(store: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.query_row("SELECT count(*) FROM blobs", [], |r| r.get(0)).unwrap()
}

fn listed(store: &std::path::Path) -> Vec<String> {
    let out = weft_in(store, &["list"], &[]);
    text(&out.stdout).lines().map(|l| l.split_whitespace().next().unwrap_or_default().to_owned()).collect()
}

/// Prune removes ended instances before the date (not the waiting one, not those after it); delete refuses
/// a run that has not ended; once every instance is gone, so is every blob.
#[test]
fn prune_and_delete_remove_ended_instances_and_the_blobs_only_they_need() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let linear = |id: &str, time: &'static str| {
        let args = ["run", "tests/processes/linear.yaml", "--event", "Start", "--data", "\"Hi\"", "--instance-id", id];
        assert_eq!(weft_in(&store, &args, &[("WEFT_NOW", time)]).status.code(), Some(0));
    };
    linear("old", "2026-10-01T00:00:00Z");
    linear("new", "2026-11-20T00:00:00Z");
    let retry = ["run", "tests/processes/retry.yaml", "--event", "Call", "--data", "\"x\"", "--instance-id", "waits"];
    assert_eq!(weft_in(&store, &retry, &[("WEFT_NOW", "2026-10-01T00:00:00Z")]).status.code(), Some(0));

    let pruned = weft_in(&store, &["prune", "--ended-before", "2026-11-01T00:00:00Z", "--json"], &[]);
    assert_eq!(pruned.status.code(), Some(0), "{}", text(&pruned.stderr));
    let report: Value = serde_json::from_str(text(&pruned.stdout).trim()).unwrap();
    assert_eq!(report["instances"], 1, "{report}");
    assert_eq!(report["blobs"], 0, "old shares its definition, components and layout with new");
    let mut left = listed(&store);
    left.sort();
    assert_eq!(left, ["new", "waits"]);
    assert!(text(&weft_in(&store, &["history", "old"], &[]).stderr).contains("no process instance has the id \"old\""));

    let refused = weft_in(&store, &["delete", "waits"], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("has not ended (waiting); cancel it first"), "{}", text(&refused.stderr));
    assert_eq!(weft_in(&store, &["cancel", "waits"], &[]).status.code(), Some(0));
    for id in ["waits", "new"] {
        let out = weft_in(&store, &["delete", id], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert!(listed(&store).is_empty());
    assert_eq!(blobs(&store), 0);
}

/// A parameter that gets values every round while its partner never gets one fails the run once more
/// values wait than `limits.maxQueuedValues` allows, naming the parameter.
#[test]
fn values_that_never_form_a_set_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = definition(
        dir.path(),
        "unpaired",
        "name: unpaired\nversion: 1.0.0\nsteps:\n  - id: counter\n    component: '{steps}/counter.wasm'\n    \
         state: { count: 0, limit: 20 }\n  - id: tally\n    component: '{steps}/tally.wasm'\n\
         inputs:\n  - event: Start\n    to: [{ step: counter }]\nedges:\n  - from: { step: counter, event: Again }\n    \
         to: [{ step: counter }, { step: tally, parameter: left }]\nlimits:\n  maxQueuedValues: 3\n",
    );
    let out = weft_in(&dir.path().join("store.db"), &["run", &file, "--event", "Start", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["error"]["type"], "message-limit", "{summary}");
    let message = summary["error"]["message"].as_str().unwrap();
    assert!(message.contains("more than 3 values wait in the queue of parameter \"left\""), "{message}");
    assert_eq!(summary["supersteps"], 5, "failed in the superstep that queued the fourth value");
}

/// A step whose state grows every superstep: its history holds a patch per change and the whole state
/// every hundredth, so it grows with the number of supersteps, not with its square.
#[test]
fn a_growing_state_does_not_make_the_history_grow_with_its_square() {
    let dir = tempfile::tempdir().unwrap();
    let file = definition(
        dir.path(),
        "growing",
        "name: growing\nversion: 1.0.0\nsteps:\n  - id: counter\n    component: '{steps}/counter.wasm'\n    \
         state: { count: 0, limit: 1500 }\n  - id: recorder\n    component: '{steps}/recorder.wasm'\n\
         inputs:\n  - event: Start\n    to: [{ step: counter }]\nedges:\n  - from: { step: counter, event: Again }\n    \
         to: [{ step: counter }, { step: recorder }]\nlimits:\n  maxSupersteps: 2000\n",
    );
    let store = dir.path().join("store.db");
    let out = weft_in(&store, &["run", &file, "--event", "Start", "--instance-id", "g", "--fast-commits"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let history = weft_in(&store, &["history", "g", "--json"], &[]).stdout;
    let changes: Vec<Value> = text(&history)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).unwrap()["record"].get("state-changed").cloned())
        .filter(|c| c["step"] == "recorder")
        .collect();
    assert_eq!(changes.len(), 1499);
    // Whole on the first change, every hundredth, and while the state is smaller than a patch would be.
    let whole: Vec<usize> = (0..changes.len()).filter(|&i| changes[i].get("state").is_some()).collect();
    assert!(whole.len() < 30 && (0..1499).step_by(100).all(|i| whole.contains(&i)), "{whole:?}");
    assert_eq!(changes[150]["patch"], serde_json::json!([{"op": "add", "path": "/seen/150", "value": 151}]));
    // The whole state each time would be about 1499 * 7 KB / 2 = 5 MB; patches and snapshots stay small.
    let recorded: usize = changes.iter().map(|c| c.to_string().len()).sum();
    assert!(recorded < 250_000, "{recorded} bytes of state changes");
    let final_state = text(&weft_in(&store, &["status", "g", "--json"], &[]).stdout);
    assert!(final_state.contains("1499]"), "the state itself is whole in the checkpoint");
}
