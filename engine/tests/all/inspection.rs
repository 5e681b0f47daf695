//! Reading a run back (docs/durability.md, "Pinning"): `weft status`, `list`, `history` and `graph --run`
//! read the store alone — no component compiled, no secret needed; a run keeps the configuration it
//! started with; a checkpoint this Weft cannot read whole is refused, never half-read.

use std::time::Duration;

use serde_json::{Value, json};

use crate::service::{Reply, Service};
use crate::{command, definition, text, weft_in};

/// The account-opening run needs the credit bureau's key (a secret) and its components; reading it back
/// needs neither: an empty compiled-code cache stays empty, with the key's variable unset.
#[test]
fn status_list_history_and_graph_read_the_store_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let run = [
        "run",
        "examples/account-opening/process.yaml",
        "--event",
        "NewApplication",
        "--data-file",
        "examples/account-opening/applicants/approved.json",
        "--instance-id",
        "acct",
    ];
    let out = weft_in(&store, &run, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cache = dir.path().join("empty-cache");
    std::fs::create_dir(&cache).unwrap();
    let cache_dir = cache.to_string_lossy().into_owned();
    for args in [
        vec!["status", "acct", "--json"],
        vec!["list", "--json"],
        vec!["history", "acct"],
        vec!["graph", "--run", "acct"],
    ] {
        let out = command(&store, &args, &[("WEFT_CACHE_DIR", &cache_dir)])
            .env_remove(credit_bureau::KEY_VARIABLE)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    let status = weft_in(&store, &["status", "acct", "--json"], &[]);
    let summary: Value = serde_json::from_str(text(&status.stdout).trim()).unwrap();
    assert_eq!((summary["status"].as_str(), summary["supersteps"].as_u64()), (Some("completed"), Some(4)));
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0, "nothing was compiled");
}

/// A run started with `PAY_URL` pointing at one service goes on, after a delay, calling that service
/// although `PAY_URL` now names another: its configuration was pinned when it started.
#[test]
fn a_run_keeps_the_configuration_it_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let first = Service::start(0, |_, _| Reply::json(&json!({"ok": 1}), Duration::ZERO));
    let second = Service::start(0, |_, _| Reply::json(&json!({"ok": 2}), Duration::ZERO));
    let file = definition(
        dir.path(),
        "later",
        &format!(
            "name: later\nversion: 1.0.0\nsteps:\n  - id: payer\n    component: '{{steps}}/payer.wasm'\n    \
             capabilities:\n      config: {{ url: {{ env: PAY_URL }} }}\n      http: {{ allow: ['{}', '{}'] }}\n\
             inputs:\n  - event: Start\n    to: [{{ step: payer, delay: 1m }}]\n",
            first.url(""),
            second.url("")
        ),
    );
    let store = dir.path().join("store.db");
    let (url1, url2) = (first.url("/pay"), second.url("/pay"));
    let run = ["run", &file, "--event", "Start", "--data", "{}", "--instance-id", "c"];
    let out = weft_in(&store, &run, &[("WEFT_NOW", "2026-11-22T09:00:00Z"), ("PAY_URL", &url1)]);
    assert!(text(&out.stderr).contains("waiting"), "{}", text(&out.stderr));
    let out = weft_in(&store, &["resume", "c"], &[("WEFT_NOW", "2026-11-22T09:02:00Z"), ("PAY_URL", &url2)]);
    assert!(text(&out.stderr).contains("completed"), "{}", text(&out.stderr));
    assert_eq!((first.requests().len(), second.requests().len()), (1, 0));
}

/// Run `sql` on the SQLite store at `store` directly.
fn sql(store: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(store).unwrap().execute_batch(sql).unwrap();
}

/// The checkpoint text of `id`.
fn checkpoint(store: &std::path::Path, id: &str) -> String {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.query_row("SELECT checkpoint FROM instances WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

/// A checkpoint of a newer format, or with a field this Weft does not know (a newer Weft's), is refused
/// by every command with a message saying so, and left as it was: an older Weft never drops what it does
/// not understand at its next commit.
#[test]
fn a_checkpoint_from_a_newer_weft_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let start = ["run", "tests/processes/retry.yaml", "--event", "Call", "--data", "\"x\"", "--instance-id", "f"];
    assert!(text(&weft_in(&store, &start, &[("WEFT_NOW", "2026-11-22T09:00:00Z")]).stderr).contains("waiting"));
    for (set, says) in [
        ("'$.format', 99", "written by a newer Weft (checkpoint format 99; this Weft reads up to 4)"),
        ("'$.deadlines', json('[]')", "unknown field `deadlines`"),
    ] {
        sql(&store, &format!("UPDATE instances SET checkpoint = json_set(checkpoint, {set})"));
        let before = checkpoint(&store, "f");
        for command in ["status", "resume", "cancel"] {
            let out = weft_in(&store, &[command, "f"], &[("WEFT_NOW", "2026-11-22T10:00:00Z")]);
            assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out.stderr));
            assert!(text(&out.stderr).contains(says), "{command}: {}", text(&out.stderr));
        }
        assert_eq!(checkpoint(&store, "f"), before, "left as it was");
        sql(
            &store,
            "UPDATE instances SET checkpoint = json_remove(json_set(checkpoint, '$.format', 4), '$.deadlines')",
        );
    }
    let out = weft_in(&store, &["resume", "f"], &[("WEFT_NOW", "2026-11-22T10:00:00Z")]);
    assert_eq!(out.status.code(), Some(0), "readable again: {}", text(&out.stderr));
}

/// A checkpoint of an older format is read as it is (docs/durability.md): a support ticket awaiting its
/// reply, its checkpoint written back as format 3 (no await correlation key), 2 (nor how far the run took
/// its inbox, and no inbox) and 1 (nor a format), each with the store rows a Weft of that time left; each
/// is read by `weft status`, takes its reply by `weft send` and completes, and is written back in this
/// Weft's format.
#[test]
fn a_checkpoint_of_an_older_format_is_read_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let older = [
        (3, "json_remove(json_set(checkpoint, '$.format', 3), '$.awaits[0].key')", false),
        (2, "json_remove(json_set(checkpoint, '$.format', 2), '$.awaits[0].key', '$.inbox_taken')", true),
        (1, "json_remove(checkpoint, '$.format', '$.awaits[0].key', '$.inbox_taken')", true),
    ];
    for (format, rewrite, no_inbox) in older {
        let id = format!("old-{format}");
        let out = weft_in(&store, &crate::new_ticket(&id), &[]);
        assert!(text(&out.stderr).contains("waiting"), "{}", text(&out.stderr));
        assert!(checkpoint(&store, &id).contains("\"key\""), "format 4 keeps the await's correlation key");
        let mut rows = format!(
            "UPDATE instances SET checkpoint = {rewrite}, correlated = 0 WHERE id = '{id}'; \
             DELETE FROM correlations WHERE instance = '{id}';"
        );
        if no_inbox {
            rows += &format!(
                "DELETE FROM inbox WHERE instance = '{id}'; \
                 UPDATE instances SET inbox_len = 0, inbox_taken = 0 WHERE id = '{id}';"
            );
        }
        sql(&store, &rows);
        let written: Value = serde_json::from_str(&checkpoint(&store, &id)).unwrap();
        assert_eq!(written.get("format").and_then(Value::as_u64).unwrap_or(1), format, "{written}");

        let status = weft_in(&store, &["status", &id, "--json"], &[]);
        assert_eq!(status.status.code(), Some(0), "format {format}: {}", text(&status.stderr));
        let summary: Value = serde_json::from_str(text(&status.stdout).trim()).unwrap();
        assert_eq!(summary["status"], "waiting", "format {format}: {summary}");
        let reply = [
            "send",
            &id,
            "--event",
            "AgentReplied",
            "--data",
            r#"{"ticketId":"T-1001","agent":"Ada","message":"Fixed."}"#,
        ];
        let out = weft_in(&store, &reply, &[]);
        assert_eq!(out.status.code(), Some(0), "format {format}: {}", text(&out.stderr));
        let after: Value = serde_json::from_str(&checkpoint(&store, &id)).unwrap();
        assert_eq!(after["format"], 4, "format {format}: written back in this Weft's format");
        assert_eq!(after["status"]["status"], "completed", "format {format}: {after}");
        assert_eq!(after["step_states"][1], json!({"resolved": 1, "escalated": 0}), "format {format}");
    }
}
