//! All-of edge groups (`allOf`) with real components: docs/semantics.md, "Conditional edges" and "All-of edge groups".

use serde_json::json;
use weft_engine::runner::Status;
use weft_tests::{load_yaml, process, run};

/// The data the recorder got, in order.
fn recorded(observed: &weft_tests::Observed) -> Vec<serde_json::Value> {
    observed.events.iter().filter(|e| e.event_type == "Recorded").map(|e| e.data.to_value()).collect()
}

#[test]
fn a_group_fires_once_every_member_arrived_with_their_data_by_source() {
    let observed = run(&process("all-of"), &[("Start", json!("Hi"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(recorded(&observed), [json!({"echo.echo.OnResult": "Hi", "repeat.Repeated": "Hi Hi"})]);
}

#[test]
fn arrivals_queue_per_member_and_nothing_is_dropped() {
    // Two full sets, paired first with first; then one more echo, which waits for a partner.
    let inputs = [("Start", json!("a")), ("Start", json!("b")), ("Extra", json!("c"))];
    let observed = run(&process("all-of"), &inputs);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(
        recorded(&observed),
        [
            json!({"echo.echo.OnResult": "a", "repeat.Repeated": "a a"}),
            json!({"echo.echo.OnResult": "b", "repeat.Repeated": "b b"}),
        ]
    );
    let waiting: Vec<Vec<serde_json::Value>> =
        observed.state.arrivals[0].iter().map(|q| q.iter().map(|d| d.to_value()).collect()).collect();
    assert_eq!(waiting, [vec![json!("c")], vec![]], "the third echo waits in its member's queue");
}

#[test]
fn bad_groups_are_load_errors() {
    let base = "name: bad\nversion: '1'\nsteps:\n  - id: echo\n    component: '{steps}/echo.wasm'\ninputs:\n  - event: Start\n    \
                to: [{ step: echo }]\nedges:\n";
    let cases = [
        ("  - allOf: [{ step: echo, result: echo }, { step: echo, result: echo }]\n", "listed twice"),
        ("  - allOf: [{ step: echo, result: echo }, { step: nosuch, event: X }]\n", "no step has the id \"nosuch\""),
        (
            "  - from: { step: echo, result: echo }\n    allOf: [{ step: echo, result: echo }, { step: echo, error: echo }]\n",
            "not both",
        ),
        ("  - allOf: [{ step: echo, result: echo }, { step: echo, result: nope }]\n", "no kernel function \"nope\""),
        (
            "  - allOf: [{ step: echo, result: echo }, { step: echo, error: echo }]\n    when: 'true'\n",
            "cannot have `when`",
        ),
    ];
    for (edge, message) in cases {
        let (process, _dir) = load_yaml(&format!("{base}{edge}    to: [{{ step: echo }}]\n"));
        let error = process.err().unwrap_or_else(|| panic!("{edge} was accepted")).to_string();
        assert!(error.contains(message), "{edge}: {error}");
    }
}
