//! Conditional edges (`when`, `default`) with real components: docs/semantics.md, "Conditional edges" and "All-of edge groups".

use serde_json::{Value, json};
use weft_engine::runner::{ErrorKind, Status};
use weft_tests::{load_yaml, process, run};

/// The steps that recorded something, in order, for one application.
fn recorded_by(application: Value) -> Vec<String> {
    let observed = run(&process("conditions"), &[("Application", application)]);
    assert_eq!(observed.status, Status::Completed);
    observed.events.iter().filter(|e| e.step != "intake").map(|e| e.step.clone()).collect()
}

#[test]
fn when_edges_fire_on_true_and_the_default_when_none_matched() {
    assert_eq!(recorded_by(json!({"score": 720, "flags": []})), ["approve"]);
    assert_eq!(recorded_by(json!({"score": 720, "flags": ["pep"]})), ["approve", "audit"], "both matched");
    assert_eq!(recorded_by(json!({"score": 500, "flags": []})), ["review"], "none matched: the default");
    assert_eq!(recorded_by(json!({"score": 500, "flags": ["pep"]})), ["audit"], "one matched: no default");
}

#[test]
fn a_condition_that_fails_at_run_time_fails_the_run_naming_edge_and_expression() {
    let observed = run(&process("conditions"), &[("Application", json!({"score": 720, "flags": 3}))]);
    let Status::Failed { error } = &observed.status else { panic!("expected failed, got {:?}", observed.status) };
    assert_eq!(error.kind, ErrorKind::ConditionFailed);
    assert_eq!(error.step.as_deref(), Some("intake"));
    assert!(error.message.contains("edge /edges/1"), "{}", error.message);
    assert!(error.message.contains("`.data.flags | any(. == \"pep\")`"), "{}", error.message);
    assert!(error.message.contains("event \"Recorded\" from step \"intake\""), "{}", error.message);
}

#[test]
fn conditions_see_the_cloudevent_attributes() {
    let yaml = [
        "name: attrs",
        "version: '1'",
        "steps:",
        "  - id: echo",
        "    component: '{steps}/echo.wasm'",
        "  - id: seen",
        "    component: '{steps}/recorder.wasm'",
        "inputs:",
        "  - event: Start",
        "    to: [{ step: echo }]",
        "edges:",
        "  - from: { step: echo, result: echo }",
        "    when: >-",
        "      .event.type == \"echo.OnResult\" and (.event.source | endswith(\"/steps/echo\"))",
        "      and (.event.id | startswith(\"test:echo:\")) and (.event.time | test(\"^2026-\"))",
        "    to: [{ step: seen }]",
    ]
    .join("\n");
    let (process, _dir) = load_yaml(&yaml);
    let observed = run(&process.unwrap(), &[("Start", json!("hi"))]);
    assert_eq!(observed.events(), vec![("Recorded".to_string(), json!("hi"))]);
}

#[test]
fn bad_conditions_are_load_errors_placed_in_the_file() {
    let cases = [
        ("    when: .data.score >=\n", ":11:", "/edges/0/when", "not a valid jq expression"),
        ("    when: nosuch(.data)\n", ":11:", "/edges/0/when", "undefined filter \"nosuch\""),
        ("    default: true\n", ":11:", "/edges/0/default", "no edge from step \"echo\" on that event has `when`"),
        ("    when: 'true'\n    default: true\n", ":12:", "/edges/0/default", "either conditional"),
    ];
    for (extra, line, pointer, message) in cases {
        let yaml = format!(
            "name: bad\nversion: '1'\nsteps:\n  - id: echo\n    component: '{{steps}}/echo.wasm'\ninputs:\n  - event: Start\n    \
             to: [{{ step: echo }}]\nedges:\n  - from: {{ step: echo, result: echo }}\n{extra}    to: [{{ step: echo }}]\n"
        );
        let (process, _dir) = load_yaml(&yaml);
        let error = process.err().unwrap_or_else(|| panic!("{extra} was accepted")).to_string();
        assert!(error.contains(message), "{extra}: {error}");
        assert!(error.contains(line) && error.contains(&format!(" at {pointer}: ")), "placed: {error}");
    }
}

/// A definition with a failer step whose `explode` fails, plus `extra` lines.
fn failing_with(extra: &[&str]) -> weft_tests::Observed {
    let mut lines = vec![
        "name: errors",
        "version: '1'",
        "steps:",
        "  - id: failer",
        "    component: '{steps}/failer.wasm'",
        "  - id: recorder",
        "    component: '{steps}/recorder.wasm'",
        "inputs:",
        "  - event: Explode",
        "    to: [{ step: failer, function: explode }]",
    ];
    lines.extend_from_slice(extra);
    let (process, _dir) = load_yaml(&lines.join("\n"));
    run(&process.unwrap(), &[("Explode", json!("boom"))])
}

#[test]
fn an_error_no_conditional_error_edge_takes_goes_on_to_the_handler_or_fails_the_run() {
    let edge = [
        "edges:",
        "  - from: { step: failer, error: explode }",
        "    when: .data.type == \"trap\"",
        "    to: [{ step: recorder }]",
    ];
    let observed = failing_with(&edge);
    let Status::Failed { error } = &observed.status else { panic!("expected failed, got {:?}", observed.status) };
    assert_eq!((error.kind, error.message.as_str()), (ErrorKind::Failed, "boom"), "not swallowed");

    let handled = failing_with(&[&edge[..], &["onError:", "  - step: recorder"]].concat());
    assert_eq!(handled.status, Status::Completed);
    assert_eq!(handled.events.len(), 1, "the handler got it: {:?}", handled.events);
}

#[test]
fn a_handler_that_would_send_the_error_back_to_the_failing_step_later_fails_the_run() {
    let observed = failing_with(&["onError:", "  - { step: failer, function: explode, delay: 1s }"]);
    assert!(matches!(observed.status, Status::Failed { .. }), "{:?}", observed.status);
}
