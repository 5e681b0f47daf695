//! Sub-processes with real components, ported from SK's ProcessTests (Process.IntegrationTests.Shared):
//! docs/semantics.md, "Sub-processes".

use serde_json::{Value, json};
use weft_engine::runner::Status;
use weft_tests::{load_yaml, process, run};

/// `(step, data)` of every public event of type `event_type`, in order.
fn published(observed: &weft_tests::Observed, event_type: &str) -> Vec<(String, Value)> {
    observed.events.iter().filter(|e| e.event_type == event_type).map(|e| (e.step.clone(), e.data.to_value())).collect()
}

#[test]
fn outer_then_inner_gives_test_four_times() {
    let observed = run(&process("nested"), &[("Start", json!("Test"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(
        published(&observed, "Repeated"),
        [("repeat".into(), json!("Test Test")), ("inner/repeat".into(), json!("Test Test Test Test"))]
    );
    assert_eq!(published(&observed, "Recorded"), [("recorder".into(), json!("Test Test Test Test"))]);
}

#[test]
fn a_public_inner_event_feeds_the_outer_steps() {
    let observed = run(&process("inner-to-outer"), &[("StartInnerProcess", json!("Test"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(
        published(&observed, "Repeated"),
        [("inner/repeat".into(), json!("Test Test")), ("repeat".into(), json!("Test Test Test Test"))]
    );
}

#[test]
fn two_sub_processes_of_ten_chained_steps_in_sequence_with_fan_in_inside_and_out() {
    let observed = run(&process("two-sub-processes"), &[("OnInput", json!("SomeData"))]);
    assert_eq!(observed.status, Status::Completed);
    let recorded: Vec<(String, Value)> = published(&observed, "Recorded");
    assert_eq!(
        recorded,
        [
            ("output1".into(), json!("SomeData")),
            ("output2".into(), json!("SomeData+SomeData")),
            ("output3".into(), json!("SomeData+SomeData+SomeData+SomeData")),
        ]
    );
    let combined = published(&observed, "Combined");
    assert_eq!(combined.last(), Some(&("last".into(), json!("SomeData+SomeData+SomeData+SomeData+SomeData"))));
    assert_eq!(combined[0].0, "sub1/e10");
    assert_eq!(combined[1].0, "sub2/e10");
    assert!(observed.state.leftovers().is_empty(), "every fan-in was completed: {:?}", observed.state.leftovers());
}

#[test]
fn a_public_inner_event_reaches_the_parent_and_an_internal_one_does_not() {
    let observed = run(&process("visibility"), &[("Internal", json!(3))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(published(&observed, "Recorded"), []);
    let observed = run(&process("visibility"), &[("Public", json!(3))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(published(&observed, "Recorded"), [("recorder".into(), json!(9))]);
}

#[test]
fn a_process_that_includes_itself_is_a_load_error_showing_the_cycle() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let step = |file: &str| {
        format!(
            "name: p\nversion: '1'\nsteps:\n  - id: s\n    process: {file}\ninputs:\n  - event: Go\n    to: [{{ step: s }}]\n"
        )
    };
    std::fs::write(dir.path().join("a.yaml"), step("b.yaml")).expect("write a");
    std::fs::write(dir.path().join("b.yaml"), step("./a.yaml")).expect("write b");
    let Err(e) = weft_tests::runtime().load_process(&dir.path().join("a.yaml")) else { panic!("a cycle loaded") };
    let text = e.to_string();
    assert!(text.contains("b.yaml:5:14"), "placed at b's `process` key: {text}");
    assert!(text.contains("includes itself") && text.contains("a.yaml → ") && text.contains("b.yaml → "), "{text}");
}

#[test]
fn sub_processes_that_cannot_work_are_load_errors() {
    let head = "name: bad\nversion: '1'\nsteps:\n  - id: inner\n    process: '{processes}/";
    let cases = [
        (
            "cycle.yaml'\ninputs:\n  - event: Go\n    to: [{ step: inner }]\n",
            "stops or awaits, which a sub-process may not do",
        ),
        (
            "linear.yaml'\ninputs:\n  - event: Go\n    to: [{ step: inner, event: Begin }]\n",
            "has no input event \"Begin\"",
        ),
        (
            "linear.yaml'\ninputs:\n  - event: Go\n    to: [{ step: inner, function: echo }]\n",
            "names one of its input events, not a `function`",
        ),
        ("missing.yaml'\ninputs:\n  - event: Go\n    to: [{ step: inner }]\n", "not found"),
        (
            "linear.yaml'\n    limits: { timeout: 1s }\ninputs:\n  - event: Go\n    to: [{ step: inner }]\n",
            "runs a process, whose steps have their own limits",
        ),
    ];
    let processes = weft_tests::tests_dir("processes");
    for (rest, expected) in cases {
        let yaml = format!("{head}{rest}").replace("{processes}", &processes.to_string_lossy());
        let (result, _dir) = load_yaml(&yaml);
        let Err(e) = result else { panic!("{rest} loaded") };
        assert!(e.to_string().contains(expected), "{rest}: {e}");
    }
}
