//! Map steps with real components, ported from SK's ProcessMapTests (Process.IntegrationTests.Shared):
//! docs/semantics.md, "Map steps".

use serde_json::{Value, json};
use weft_engine::runner::{ErrorKind, Status};
use weft_tests::{load_yaml, process, run};

/// The data of every public event of type `event_type`, in order.
fn published(observed: &weft_tests::Observed, event_type: &str) -> Vec<Value> {
    observed.events.iter().filter(|e| e.event_type == event_type).map(|e| e.data.to_value()).collect()
}

/// The data of every unrouted event of type `event_type` the run kept, in order.
fn unrouted(observed: &weft_tests::Observed, event_type: &str) -> Vec<Value> {
    observed.state.unrouted.iter().filter(|e| e.event_type == event_type).map(|e| e.data.to_value()).collect()
}

#[test]
fn a_map_over_a_component_gives_squares_and_cubes_to_sum() {
    let observed = run(&process("map"), &[("Start", json!([1, 2, 3, 4, 5]))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.step_state(1), json!({"square": 55, "cubic": 225}));
}

#[test]
fn a_map_over_a_process_gives_the_same() {
    let observed = run(&process("map-process"), &[("Start", json!([1, 2, 3, 4, 5]))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.step_state(1), json!({"square": 55, "cubic": 225}));
    // The items' public events are collected into the map's, each an array in input order, routed along the
    // map's edges and not published (a map publishes nothing, with items or without).
    assert!(published(&observed, "SquareResult").is_empty() && published(&observed, "CubicResult").is_empty());
    assert_eq!(observed.event_types(), ["SquareSummed", "CubicSummed"]);
}

#[test]
fn a_map_of_a_hundred_items_keeps_input_order() {
    let yaml = "name: hundred\nversion: '1'\nsteps:\n  - id: compute\n    map: { component: '{steps}/compute.wasm' }\n\
                inputs:\n  - event: Start\n    to: [{ step: compute, function: compute_public }]\n";
    let (process, _dir) = load_yaml(yaml);
    let process = process.unwrap_or_else(|e| panic!("{e}"));
    let items: Vec<i64> = (0..100).rev().collect();
    let observed = run(&process, &[("Start", json!(items))]);
    assert_eq!(observed.status, Status::Completed);
    let squares: Vec<i64> = items.iter().map(|i| i * i).collect();
    // No edge takes the map's events, and a map publishes nothing: they are kept as unrouted events.
    assert_eq!(unrouted(&observed, "SquareResult"), [json!(squares)]);
    assert!(observed.events.is_empty());
}

#[test]
fn a_map_over_an_empty_array_emits_empty_arrays() {
    for name in ["map", "map-process"] {
        let observed = run(&process(name), &[("Start", json!([]))]);
        assert_eq!(observed.status, Status::Completed, "{name}");
        assert_eq!(published(&observed, "SquareSummed"), [json!(0)], "{name}: the sum step got an array");
        assert_eq!(published(&observed, "CubicSummed"), [json!(0)], "{name}");
        assert_eq!(observed.event_types(), ["SquareSummed", "CubicSummed"], "{name}: the map published nothing");
    }
}

#[test]
fn an_item_that_fails_fails_the_map_naming_its_index() {
    for name in ["map", "map-process"] {
        let observed = run(&process(name), &[("Start", json!([1, -2, 3]))]);
        let Status::Failed { error } = &observed.status else { panic!("{name}: {:?}", observed.status) };
        assert_eq!(error.kind, ErrorKind::Failed, "{name}");
        assert!(
            error.message.contains("item 1 of 3 failed") && error.message.contains("-2 is negative"),
            "{name}: {}",
            error.message
        );
        assert_eq!(error.step.as_deref(), Some("compute"));
    }
}

#[test]
fn an_error_edge_takes_a_failed_item() {
    let yaml = "name: handled\nversion: '1'\nsteps:\n  - id: compute\n    map: { component: '{steps}/compute.wasm' }\n  \
                - id: recorder\n    component: '{steps}/recorder.wasm'\ninputs:\n  - event: Start\n    \
                to: [{ step: compute, function: compute }]\nedges:\n  - from: { step: compute, error: compute }\n    \
                to: [{ step: recorder }]\n";
    let (process, _dir) = load_yaml(yaml);
    let observed = run(&process.unwrap_or_else(|e| panic!("{e}")), &[("Start", json!([4, -1]))]);
    assert_eq!(observed.status, Status::Completed);
    let recorded = published(&observed, "Recorded");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["type"], "failed");
    assert_eq!(recorded[0]["message"], "item 1 of 2 failed: -1 is negative");
}

#[test]
fn a_map_sent_something_other_than_an_array_fails_with_bad_argument() {
    let observed = run(&process("map"), &[("Start", json!({"not": "an array"}))]);
    let Status::Failed { error } = &observed.status else { panic!("{:?}", observed.status) };
    assert_eq!(error.kind, ErrorKind::BadArgument);
    assert!(error.message.contains("a map step takes an array of items"), "{}", error.message);
}

#[test]
fn maps_that_cannot_work_are_load_errors() {
    let head = "name: bad\nversion: '1'\nsteps:\n  - id: m\n";
    let tail = "inputs:\n  - event: Start\n    to: [{ step: m }]\n";
    let cases = [
        ("    map: { component: '{steps}/combine.wasm' }\n", "once per item, with the item as its one parameter"),
        ("    map: { map: { component: '{steps}/echo.wasm' } }\n", "a map may not run another map"),
        ("    map: { component: '{steps}/echo.wasm', process: x.yaml }\n", "exactly one of `component` and `process`"),
        (
            "    component: '{steps}/echo.wasm'\n    process: x.yaml\n",
            "exactly one of `component`, `process` and `map`",
        ),
    ];
    for (step, expected) in cases {
        let (result, _dir) = load_yaml(&format!("{head}{step}{tail}"));
        let Err(e) = result else { panic!("{step} loaded") };
        assert!(e.to_string().contains(expected), "{step}: {e}");
    }
}

#[test]
fn a_mapped_process_that_awaits_or_sends_to_a_topic_is_a_load_error() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let echo = weft_tests::component("echo");
    let inner = |to: &str| {
        format!(
            "name: inner\nversion: '1'\nsteps:\n  - id: echo\n    component: '{}'\ninputs:\n  - event: Go\n    to: [{to}]\n  \
             - event: Later\n    to: [{{ step: echo }}]\n",
            echo.display()
        )
    };
    let outer = "name: outer\nversion: '1'\nsteps:\n  - id: m\n    map: { process: inner.yaml }\ninputs:\n  - event: Start\n    \
                 to: [{ step: m, event: Go }]\n";
    std::fs::write(dir.path().join("outer.yaml"), outer).expect("write outer");
    for (to, expected) in [("{ await: Later }", "awaits"), ("{ topic: Out }", "sends to external topics")] {
        std::fs::write(dir.path().join("inner.yaml"), inner(to)).expect("write inner");
        let Err(e) = weft_tests::runtime().load_process(&dir.path().join("outer.yaml")) else { panic!("{to} loaded") };
        assert!(e.to_string().contains(expected) && e.to_string().contains("outer.yaml:5:"), "{to}: {e}");
    }
}
