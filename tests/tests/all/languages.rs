//! The same SK scenarios with Python and JavaScript implementations of echo, repeat and combine: the same
//! descriptions, events, states and supersteps as with the Rust ones.

use serde_json::{Value, json};
use weft_engine::load::Process;
use weft_engine::runner::Status;
use weft_tests::{Observed, load_yaml, run, runtime, tests_dir};

const LANGUAGES: [&str; 2] = ["py-", "js-"];
const STEPS: [&str; 3] = ["echo", "repeat", "combine"];

/// `tests/processes/<name>.yaml` with its steps taken from components named `<prefix><step>.wasm`.
fn variant(name: &str, prefix: &str) -> (std::sync::Arc<Process>, tempfile::TempDir) {
    let mut yaml = std::fs::read_to_string(tests_dir(&format!("processes/{name}.yaml"))).unwrap();
    for step in STEPS {
        yaml = yaml.replace(&format!("../steps/{step}.wasm"), &format!("'{{steps}}/{prefix}{step}.wasm'"));
    }
    let (process, dir) = load_yaml(&yaml);
    (process.unwrap_or_else(|e| panic!("{name} with {prefix} steps: {e}")), dir)
}

fn states(observed: &Observed) -> Vec<Value> {
    (0..observed.state.step_states.len()).map(|i| observed.step_state(i)).collect()
}

fn same_as_rust(name: &str, inputs: &[(&str, Value)]) {
    let (rust, _d) = variant(name, "");
    let expected = run(&rust, inputs);
    for prefix in LANGUAGES {
        let (process, _dir) = variant(name, prefix);
        let observed = run(&process, inputs);
        // Error messages are each SDK's own words; what failed, where and how must match.
        let failure = |o: &Observed| match &o.status {
            Status::Failed { error } => Some((error.kind, error.step.clone(), error.function.clone())),
            _ => None,
        };
        assert_eq!(failure(&observed), failure(&expected), "{name} {prefix}");
        assert_eq!(observed.status == Status::Completed, expected.status == Status::Completed, "{name} {prefix}");
        assert_eq!(observed.events(), expected.events(), "{name} {prefix}");
        assert_eq!(states(&observed), states(&expected), "{name} {prefix}");
        assert_eq!(
            (observed.state.superstep, observed.state.invocations),
            (expected.state.superstep, expected.state.invocations),
            "{name} {prefix}"
        );
    }
}

#[test]
fn descriptions_match_across_languages() {
    for step in STEPS {
        let rust = runtime().component_at(&tests_dir(&format!("steps/{step}.wasm"))).unwrap();
        for prefix in LANGUAGES {
            let other = runtime().component_at(&tests_dir(&format!("steps/{prefix}{step}.wasm"))).unwrap();
            assert_eq!(other.description, rust.description, "{prefix}{step}");
        }
    }
}

#[test]
fn linear_matches_rust() {
    same_as_rust("linear", &[("Start", json!("Test"))]);
    let (process, _dir) = variant("linear", "py-");
    assert_eq!(run(&process, &[("Start", json!("Test"))]).events(), vec![("Repeated".to_string(), json!("Test Test"))]);
}

#[test]
fn fan_in_matches_rust() {
    same_as_rust("fan-in", &[("Left", json!("a")), ("Right", json!("x"))]);
}

#[test]
fn queued_fan_in_matches_rust() {
    same_as_rust(
        "fan-in-queued",
        &[("Left", json!("a")), ("Left", json!("b")), ("Right", json!("x")), ("Right", json!("y"))],
    );
}

#[test]
fn a_bad_argument_is_the_same_typed_error_in_every_language() {
    let inputs = [("Start", json!({"not": "a string"}))];
    same_as_rust("linear", &inputs);
    let (rust, _dir) = variant("linear", "");
    assert!(matches!(run(&rust, &inputs).status, Status::Failed { .. }), "the comparison above compared failures");
}

#[test]
fn heavy_guests_are_instantiated_once_per_step_and_reused() {
    let inputs = [("Left", json!("a")), ("Left", json!("b")), ("Right", json!("x")), ("Right", json!("y"))];
    for prefix in LANGUAGES {
        let (process, _dir) = variant("fan-in-queued", prefix);
        let observed = run(&process, &inputs);
        assert_eq!(observed.state.invocations, 4, "{prefix}");
        assert_eq!(observed.instances_created, 2, "{prefix}: echo and combine, each invoked twice on one instance");
    }
}

/// The versioned step in `prefix`'s language, its initial state `{count: 40}` declared as `stateVersion`.
fn versioned(prefix: &str, state_version: u32) -> Observed {
    let yaml = format!(
        "name: versioned\nversion: '1'\nsteps:\n  - id: versioned\n    component: '{{steps}}/{prefix}versioned.wasm'\n    \
         state: {{ count: 40 }}\n    stateVersion: {state_version}\ninputs:\n  - event: Add\n    to: [{{ step: versioned }}]\n"
    );
    let (process, _dir) = load_yaml(&yaml);
    run(&process.unwrap_or_else(|e| panic!("{prefix}: {e}")), &[("Add", json!(2))])
}

#[test]
fn a_state_of_version_1_is_migrated_to_version_2_in_every_language() {
    for prefix in ["", "py-", "js-"] {
        let observed = versioned(prefix, 1);
        assert_eq!(observed.status, Status::Completed, "{prefix}");
        assert_eq!(observed.step_state(0), json!({"total": 42, "visits": 1}), "{prefix}versioned");
        assert_eq!(observed.state.state_versions, [2], "the new snapshot is of the step's own version");
    }
}

#[test]
fn a_state_newer_than_the_step_reads_is_refused_in_every_language() {
    for prefix in ["", "py-", "js-"] {
        let observed = versioned(prefix, 3);
        let Status::Failed { error } = &observed.status else { panic!("{prefix}: {:?}", observed.status) };
        assert_eq!(error.kind, "bad-state", "{prefix}");
        assert!(error.message.contains("state version 3, newer than the version 2"), "{prefix}: {error}");
        assert_eq!(observed.step_state(0), json!({"count": 40}), "{prefix}: the snapshot is kept, not dropped");
    }
}
