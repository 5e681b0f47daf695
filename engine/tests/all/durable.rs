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
    let bogus = weft_in(&store, &["list", "--status", "complete"], &[]);
    assert_eq!(bogus.status.code(), Some(2), "a status that does not exist is refused, not an empty list");
    assert!(text(&bogus.stderr).contains("there is no status \"complete\": give one of"), "{}", text(&bogus.stderr));

    let history = text(&weft_in(&store, &["history", "i-1", "--json"], &[]).stdout);
    let kinds: Vec<String> = history
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["record"].as_object().unwrap().keys().next().unwrap().clone()
        })
        .collect();
    assert_eq!(
        kinds,
        ["received", "fired", "invoked", "fired", "invoked", "state-changed", "emitted", "status"],
        "the input went to echo, echo's result to repeat (each edge fired), whose state changed and whose public \
         event was published: {history}"
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

/// The public events (type, data) in `stdout`.
fn events(stdout: &[u8]) -> Vec<(String, Value)> {
    text(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("specversion").is_some())
        .map(|v| (v["type"].as_str().unwrap_or_default().to_owned(), v["data"].clone()))
        .collect()
}

fn summary(stdout: &[u8]) -> Value {
    let last = text(stdout).lines().last().unwrap_or_default().to_owned();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}"))
}

const TICKET: &str = "examples/support-ticket/process.yaml";
const MONDAY: (&str, &str) = ("WEFT_NOW", "2026-11-23T09:00:00Z");

#[test]
fn support_ticket_waits_for_the_agent_and_closes_with_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("weft.db");
    let start = ["run", TICKET, "--event", "NewTicket", "--data-file", "examples/support-ticket/tickets/outage.json"];
    let out = weft_in(&store, &[&start[..], &["--instance-id", "T-1001", "--json"]].concat(), &[MONDAY]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let triaged = &events(&out.stdout)[0];
    assert_eq!(triaged.0, "TicketTriaged");
    assert_eq!((triaged.1["priority"].as_str(), triaged.1["queue"].as_str()), (Some("P1"), Some("incidents")));
    let waiting = summary(&out.stdout);
    assert_eq!(waiting["status"], "waiting");
    assert_eq!(
        waiting["awaits"],
        serde_json::json!([{"event": "AgentReplied", "deadline": "2026-11-26T09:00:00.000Z"}])
    );

    let wrong = weft_in(&store, &["send", "T-1001", "--event", "NewTicket", "--data", "{}"], &[MONDAY]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong.stderr)
            .contains("does not await \"NewTicket\"; it awaits: AgentReplied (until 2026-11-26T09:00:00.000Z)"),
        "{}",
        text(&wrong.stderr)
    );

    let later = ("WEFT_NOW", "2026-11-23T09:40:00Z");
    let reply = [
        "send",
        "T-1001",
        "--event",
        "AgentReplied",
        "--data-file",
        "examples/support-ticket/tickets/reply-1001.json",
        "--json",
    ];
    let out = weft_in(&store, &reply, &[later]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let resolved = &events(&out.stdout)[0];
    assert_eq!(resolved.0, "TicketResolved");
    assert_eq!(resolved.1["agent"], "Grace");
    assert_eq!(resolved.1["reference"], "T-1001:desk:2");
    assert_eq!(summary(&out.stdout)["status"], "completed");
    assert_no_log_left(&store);
    let again = weft_in(&store, &reply, &[later]);
    assert!(text(&again.stderr).contains("has already ended (completed)"), "{}", text(&again.stderr));
}

/// A `weft` command that has ended closed its store: the write-ahead log was checkpointed and deleted
/// (docs/durability.md, "One machine, local disk").
fn assert_no_log_left(store: &std::path::Path) {
    let log = store.with_extension("db-wal");
    assert!(!log.exists(), "{} was left behind", log.display());
}

#[test]
fn support_ticket_escalates_when_a_fresh_process_resumes_it_days_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("weft.db");
    let start = ["run", TICKET, "--event", "NewTicket", "--data-file", "examples/support-ticket/tickets/refund.json"];
    let out = weft_in(&store, &[&start[..], &["--instance-id", "T-1002"]].concat(), &[MONDAY]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let too_early = weft_in(&store, &["resume", "T-1002", "--json"], &[("WEFT_NOW", "2026-11-26T08:59:59Z")]);
    assert!(events(&too_early.stdout).is_empty());
    assert_eq!(summary(&too_early.stdout)["status"], "waiting");

    let thursday = weft_in(&store, &["resume", "T-1002", "--json"], &[("WEFT_NOW", "2026-11-26T09:00:00Z")]);
    let escalated = &events(&thursday.stdout)[0];
    assert_eq!(escalated.0, "TicketEscalated");
    assert_eq!(
        (escalated.1["priority"].as_str(), escalated.1["to"].as_str()),
        (Some("P3"), Some("billing-lead@example.com"))
    );
    assert_eq!(summary(&thursday.stdout)["status"], "completed");
    assert_no_log_left(&store);
    let history = text(&weft_in(&store, &["history", "T-1002"], &[]).stdout);
    assert!(history.contains("await-closed  event=\"AgentReplied\" timed_out=true"), "{history}");
}

#[test]
fn a_retry_succeeds_on_the_third_attempt_with_every_attempt_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("weft.db");
    let at = |time| ("WEFT_NOW", time);
    let run = [
        "run",
        "tests/processes/retry.yaml",
        "--event",
        "Call",
        "--data",
        "\"score?\"",
        "--instance-id",
        "r",
        "--json",
    ];
    let first = weft_in(&store, &run, &[at("2026-11-22T09:00:00Z")]);
    assert_eq!(summary(&first.stdout)["status"], "waiting", "{}", text(&first.stderr));
    assert_eq!(
        summary(&first.stdout)["timers"],
        serde_json::json!([{"due": "2026-11-22T09:00:01.000Z", "retry": true}])
    );
    let second = weft_in(&store, &["resume", "r", "--json"], &[at("2026-11-22T09:00:01Z")]);
    assert_eq!(summary(&second.stdout)["timers"][0]["due"], "2026-11-22T09:00:03.000Z", "the delay doubled");
    let third = weft_in(&store, &["resume", "r", "--json"], &[at("2026-11-22T09:00:03Z")]);
    assert_eq!(events(&third.stdout), [("Answered".to_string(), Value::from("score?"))]);
    assert_eq!(summary(&third.stdout)["status"], "completed");

    let history = text(&weft_in(&store, &["history", "r", "--json"], &[]).stdout);
    let attempts: Vec<(u64, bool)> = history
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).unwrap()["record"].get("invoked").cloned())
        .map(|i| (i["attempt"].as_u64().unwrap(), i.get("error").is_some()))
        .collect();
    assert_eq!(attempts, [(1, true), (2, true), (3, false)]);
}

#[test]
fn a_reply_sent_after_the_deadline_finds_the_await_timed_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("weft.db");
    let start = ["run", TICKET, "--event", "NewTicket", "--data-file", "examples/support-ticket/tickets/refund.json"];
    assert_eq!(weft_in(&store, &[&start[..], &["--instance-id", "T-9"]].concat(), &[MONDAY]).status.code(), Some(0));

    let late = ("WEFT_NOW", "2026-11-27T10:00:00Z");
    let reply = [
        "send",
        "T-9",
        "--event",
        "AgentReplied",
        "--data",
        "{\"ticketId\":\"T-9\",\"agent\":\"Al\",\"message\":\"hi\"}",
    ];
    let refused = weft_in(&store, &reply, &[late]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("does not await \"AgentReplied\"; it awaits: nothing"),
        "{}",
        text(&refused.stderr)
    );
    let resumed = weft_in(&store, &["resume", "T-9", "--json"], &[late]);
    assert_eq!(events(&resumed.stdout)[0].0, "TicketEscalated");
    assert_eq!(summary(&resumed.stdout)["status"], "completed");
}
