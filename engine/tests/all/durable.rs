//! Durable instances through the `weft` command: status, list, history, resume and cancel, and the errors
//! for an unknown id, an ended run and a file that is not a store.

use serde_json::Value;

use crate::{text, weft_in};

const LINEAR: &[&str] =
    &["run", "tests/processes/linear.yaml", "--event", "Start", "--data", "\"Hi\"", "--instance-id", "i-1"];

#[test]
fn a_finished_run_can_be_inspected_but_not_resumed_or_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("weft.db");
    assert_eq!(weft_in(&store, LINEAR, &[]).status.code(), Some(0));

    let status = weft_in(&store, &["status", "i-1", "--json"], &[]);
    let summary: Value = serde_json::from_str(text(&status.stdout).trim()).unwrap();
    assert_eq!((summary["status"].as_str(), summary["supersteps"].as_u64()), (Some("completed"), Some(2)));
    assert_eq!(summary["states"]["repeat"], serde_json::json!({"times": 2, "calls": 1}));

    let list = text(&weft_in(&store, &["list", "--status", "completed"], &[]).stdout);
    assert!(list.starts_with("i-1  completed  linear 1.0.0"), "{list}");
    assert!(text(&weft_in(&store, &["list", "--status", "running"], &[]).stdout).is_empty());

    let history = text(&weft_in(&store, &["history", "i-1", "--json"], &[]).stdout);
    let kinds: Vec<String> = history
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["record"].as_object().unwrap().keys().next().unwrap().clone()
        })
        .collect();
    assert_eq!(
        kinds,
        ["received", "invoked", "invoked", "state-changed", "emitted", "status"],
        "echo's result went to repeat, whose state changed and whose public event was published: {history}"
    );

    for command in ["resume", "cancel"] {
        let out = weft_in(&store, &[command, "i-1"], &[]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(text(&out.stderr).contains("\"i-1\" has already ended (completed)"), "{}", text(&out.stderr));
    }
    let again = weft_in(&store, LINEAR, &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exists"), "{}", text(&again.stderr));
}

#[test]
fn an_unknown_instance_is_a_clear_error_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("weft.db");
    for command in ["status", "resume", "cancel", "history"] {
        let out = weft_in(&store, &[command, "nope"], &[]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(text(&out.stderr).contains("no process instance has the id \"nope\""), "{}", text(&out.stderr));
    }
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("notes.txt");
    let content = "my notes, not a database ".repeat(200);
    std::fs::write(&store, &content).unwrap();
    let out = weft_in(&store, LINEAR, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a Weft store"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&store).unwrap(), content);
}

#[test]
fn in_memory_runs_keep_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("weft.db");
    let mut args = LINEAR.to_vec();
    args.push("--in-memory");
    assert_eq!(weft_in(&store, &args, &[]).status.code(), Some(0));
    assert!(!store.exists(), "no store was created");
}
