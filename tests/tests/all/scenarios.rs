//! docs/semantics.md scenarios against real components: linear, fan-out, fan-in, queued fan-in, a cycle that
//! stops, unhandled and routed errors, traps, determinism.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weft_engine::data::Json;
use weft_engine::host::sandbox::Limits;
use weft_engine::load::description::ParamDescription;
use weft_engine::load::{Delivery, Process, Runtime, RuntimeConfig};
use weft_engine::runner::rebind::rebind;
use weft_engine::runner::{Message, Run, RunError, RunState, Status};
use weft_tests::{load_yaml, process, run};

/// The run completed and the recorder received failer.explode's failure with `message`.
fn assert_recorded_failure(observed: &weft_tests::Observed, message: &str) {
    assert_eq!(observed.status, Status::Completed);
    let error = json!({"type": "failed", "message": message, "step": "failer", "function": "explode"});
    assert_eq!(observed.events(), vec![("Recorded".to_string(), error)]);
}

fn failed(status: &Status) -> &RunError {
    match status {
        Status::Failed { error } => error,
        other => panic!("expected a failed run, got {other:?}"),
    }
}

#[test]
fn linear_echo_then_repeat_twice() {
    let observed = run(&process("linear"), &[("Start", json!("Test"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.events(), vec![("Repeated".to_string(), json!("Test Test"))]);
    assert_eq!(observed.state.superstep, 2);
    assert_eq!(observed.state.invocations, 2);
    assert_eq!(observed.step_state(0), json!(null), "echo is stateless");
    assert_eq!(observed.step_state(1), json!({"times": 2, "calls": 1}));
    assert!(observed.state.unrouted.is_empty(), "a public event nobody listens to was published, not lost");
}

#[test]
fn an_internal_event_nobody_listens_to_is_recorded_not_lost() {
    let yaml = "name: lonely\nversion: '1'\nsteps:\n  - id: counter\n    component: '{steps}/counter.wasm'\n\
                inputs:\n  - event: Start\n    to: [{ step: counter }]\n";
    let (process, _dir) = load_yaml(yaml);
    let observed = run(&process.unwrap(), &[("Start", json!(null))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.state.unrouted.len(), 1);
    let record = &observed.state.unrouted[0];
    assert_eq!((record.event_type.as_str(), record.step.as_str(), record.superstep), ("Again", "counter", 1));
    assert_eq!(record.data.to_value(), json!(1));
}

#[test]
fn a_run_keeps_only_the_latest_unrouted_events_and_counts_them_all() {
    // The counter loops on its return value until `Done` stops the run; every round's `Again` goes nowhere.
    let yaml = [
        "name: chatty",
        "version: '1'",
        "steps:",
        "  - id: counter",
        "    component: '{steps}/counter.wasm'",
        "    state: { count: 0, limit: 150 }",
        "inputs:",
        "  - event: Start",
        "    to: [{ step: counter }]",
        "edges:",
        "  - from: { step: counter, result: tick }",
        "    to: [{ step: counter }]",
        "  - from: { step: counter, event: Done }",
        "    to: [stop]",
    ]
    .join("\n");
    let (process, _dir) = load_yaml(&yaml);
    let observed = run(&process.unwrap(), &[("Start", json!(null))]);
    assert_eq!(observed.status, Status::Stopped);
    assert_eq!(observed.state.unrouted_total, 149);
    assert_eq!(observed.state.unrouted.len(), weft_engine::runner::MAX_UNROUTED_KEPT);
    let data: Vec<serde_json::Value> = observed.state.unrouted.iter().map(|r| r.data.to_value()).collect();
    assert_eq!((data[0].clone(), data[99].clone()), (json!(50), json!(149)), "the latest, in order");
}

#[test]
fn fan_out_gives_each_target_its_own_copy() {
    let observed = run(&process("fan-out"), &[("Start", json!("Hi"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(
        observed.events(),
        vec![("Repeated".to_string(), json!("Hi Hi")), ("Recorded".to_string(), json!("Hi"))],
        "both targets ran in superstep 2, in definition order"
    );
    assert!(observed.events.iter().all(|e| e.superstep == 2));
    assert_eq!(observed.step_state(2), json!({"seen": ["Hi"]}));
}

#[test]
fn a_wide_fan_out_fires_every_target_as_often_as_it_was_sent_to() {
    // Ten echoes in superstep 1 send twenty messages, alternating between repeat and recorder: more
    // than the process has kernel functions, so superstep 2 looks at every function's queues.
    let words: Vec<String> = (0..10).map(|i| format!("w{i}")).collect();
    let inputs: Vec<_> = words.iter().map(|w| ("Start", json!(w))).collect();
    let observed = run(&process("fan-out"), &inputs);
    assert_eq!(observed.status, Status::Completed);
    let count = |t: &str| observed.events.iter().filter(|e| e.event_type == t && e.superstep == 2).count();
    assert_eq!((count("Repeated"), count("Recorded")), (10, 10), "each target fired once per message");
    assert_eq!(observed.step_state(2), json!({ "seen": words }));
}

#[test]
fn fan_in_of_two_parameters_fed_by_different_steps() {
    let observed = run(&process("fan-in"), &[("Left", json!("a")), ("Right", json!("x"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.events().last(), Some(&("Combined".to_string(), json!("a+x"))));
    assert_eq!(observed.state.superstep, 2);
}

#[test]
fn fan_in_waits_for_the_missing_parameter() {
    // Only `left` arrives: the function never fires, and the value is reported as waiting.
    let observed = run(&process("fan-in"), &[("Left", json!("a"))]);
    assert_eq!(observed.status, Status::Completed);
    assert!(observed.events().iter().all(|(t, _)| t != "Combined"));
    assert_eq!(observed.state.leftovers(), vec![(2, 0, 0, 1)]);
}

#[test]
fn queued_values_are_all_used_in_order() {
    let inputs = [("Left", json!("a")), ("Left", json!("b")), ("Right", json!("x")), ("Right", json!("y"))];
    let observed = run(&process("fan-in-queued"), &inputs);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.events(), vec![("Combined".to_string(), json!("a+x")), ("Combined".to_string(), json!("b+y"))]);
    // Superstep 1: left holds [a, b], echo fires twice. Superstep 2: right gets [x, y], combine fires twice.
    assert_eq!(observed.state.superstep, 2);
    assert_eq!(observed.state.invocations, 4);
    assert!(observed.state.leftovers().is_empty());
}

#[test]
fn cycle_exits_through_stop_after_exactly_three_rounds() {
    let observed = run(&process("cycle"), &[("Start", json!(null))]);
    assert_eq!(observed.status, Status::Stopped);
    assert_eq!(observed.state.superstep, 3);
    assert_eq!(observed.state.invocations, 3);
    assert_eq!(observed.step_state(0), json!({"count": 3, "limit": 3}));
    assert_eq!(observed.events(), vec![("Done".to_string(), json!(3))]);
    assert_eq!(observed.step_state(1), json!(null), "no superstep runs after stop, so the recorder never ran");
}

#[test]
fn unhandled_function_error_fails_the_run_with_step_function_and_message() {
    let observed = run(&process("failing"), &[("Explode", json!("insufficient funds"))]);
    let error = failed(&observed.status);
    assert_eq!(error.kind, "failed");
    assert_eq!(error.step.as_deref(), Some("failer"));
    assert_eq!(error.function.as_deref(), Some("explode"));
    assert_eq!(error.message, "insufficient funds");
    assert_eq!(observed.step_state(0), json!({"attempts": 0}), "a failed invocation leaves the state as it was");
    assert!(observed.events.is_empty(), "events of a failed invocation are discarded");
}

#[test]
fn error_routed_by_on_error_edge_keeps_the_run_going() {
    let observed = run(&process("error-handled"), &[("Explode", json!("card declined"))]);
    assert_recorded_failure(&observed, "card declined");
}

#[test]
fn a_trap_is_a_function_error_and_the_host_survives() {
    let observed = run(&process("failing"), &[("Crash", json!("boom"))]);
    let error = failed(&observed.status);
    assert_eq!(
        (error.kind.as_str(), error.step.as_deref(), error.function.as_deref()),
        ("trap", Some("failer"), Some("crash"))
    );
    assert!(error.message.contains("unreachable"), "{error}");
    assert_eq!(observed.step_state(0), json!({"attempts": 0}));
}

#[test]
fn after_a_trap_the_same_step_runs_again_in_the_same_run_from_its_last_snapshot() {
    let observed = run(&process("trap-recovery"), &[("Crash", json!("boom"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.state.superstep, 2);
    assert_eq!(observed.step_state(0), json!({"attempts": 1}), "crash's increment was discarded, count's kept");
    assert_eq!(observed.instances_created, 2, "the trapped instance was replaced");
}

/// The error of running `failing.yaml` on input `event` in a runtime with `limits`.
fn failure_under(limits: Limits, event: &str) -> RunError {
    let runtime = Runtime::new(RuntimeConfig { cache_dir: None, limits, ..RuntimeConfig::default() }).unwrap();
    let process = runtime.load_process(&weft_tests::tests_dir("processes/failing.yaml")).unwrap();
    failed(&run(&std::sync::Arc::new(process), &[(event, json!(null))]).status).clone()
}

#[test]
fn an_endless_loop_times_out_as_a_function_error() {
    let error = failure_under(Limits { invocation_timeout: Duration::from_secs(1), ..Limits::default() }, "Spin");
    assert_eq!((error.kind.as_str(), error.function.as_deref()), ("timeout", Some("spin")), "{error}");
}

#[test]
fn endless_allocation_hits_the_memory_limit_as_a_function_error() {
    let error = failure_under(Limits { memory_bytes: 64 << 20, ..Limits::default() }, "Hog");
    assert_eq!((error.kind.as_str(), error.function.as_deref()), ("memory-limit", Some("hog")), "{error}");
}

#[test]
fn a_guest_cannot_emit_the_engines_automatic_events() {
    let observed = run(&process("failing"), &[("Spoof", json!(null))]);
    let error = failed(&observed.status);
    assert_eq!(error.kind, "invalid-output");
    assert!(error.message.contains("explode.OnResult"), "{error}");
}

#[test]
fn the_process_error_handler_takes_unhandled_function_errors() {
    let observed = run(&process("error-handler"), &[("Explode", json!("late payment"))]);
    assert_recorded_failure(&observed, "late payment");
}

#[test]
fn an_input_event_routed_to_stop_stops_the_run_before_any_superstep() {
    let observed = run(&process("error-handler"), &[("Explode", json!("x")), ("Cancel", json!(null))]);
    assert_eq!(observed.status, Status::Stopped);
    assert_eq!(observed.state.superstep, 0);
    assert_eq!(observed.state.invocations, 0);
}

#[test]
fn bad_argument_is_a_typed_function_error() {
    let observed = run(&process("linear"), &[("Start", json!({"not": "a string"}))]);
    let error = failed(&observed.status);
    assert_eq!(
        (error.kind.as_str(), error.step.as_deref(), error.function.as_deref()),
        ("bad-argument", Some("echo"), Some("echo"))
    );
    assert!(error.message.contains("message"), "{error}");
}

#[test]
fn two_runs_on_the_same_input_give_the_same_events() {
    let inputs = [("Left", json!("a")), ("Right", json!("x")), ("Left", json!("b")), ("Right", json!("y"))];
    let first = run(&process("fan-in-queued"), &inputs);
    let second = run(&process("fan-in-queued"), &inputs);
    assert_eq!(first.events, second.events);
    assert_eq!(first.state.step_states, second.state.step_states);
}

#[test]
fn a_resumed_run_fires_a_function_whose_queues_were_already_complete() {
    // A superstep looks only at the functions its messages reached, except the first of a run resumed
    // from a state made elsewhere (a checkpoint, a rebinding), which may hold a complete set already.
    let linear = process("linear");
    let mut state = RunState::new(&linear, "resumed".into(), weft_tests::TEST_TIME_MS);
    // repeat's `message` holds a value (a complete set), and one message for echo is still to deliver.
    state.queue_mut(1, 0).push(Some(0), Json::from_value(&json!("Early")).unwrap());
    let to_echo = Delivery { step: 0, function: 0, param: Some(0) };
    state.pending.push(Message { to: to_echo, data: Json::from_value(&json!("Hi")).unwrap() });
    let mut run = Run::resume(Arc::clone(&linear), state).unwrap();
    let mut events = Vec::new();
    assert_eq!(run.run_to_end(&mut events), &Status::Completed);
    let repeated: Vec<_> =
        events.iter().filter(|e| e.event_type == "Repeated").map(|e| (e.superstep, e.data.to_value())).collect();
    assert_eq!(repeated, [(1, json!("Early Early")), (2, json!("Hi Hi"))], "the queued set fired in superstep 1");
}

#[test]
fn a_resumed_run_with_nothing_to_deliver_fires_a_complete_set_before_it_ends() {
    // A rebinding can leave a complete set and nothing to deliver (the new version made the missing
    // parameter optional): the run fires it, instead of completing (or waiting) with it still queued.
    let linear = process("linear");
    let mut state = RunState::new(&linear, "rebound".into(), weft_tests::TEST_TIME_MS);
    state.queue_mut(1, 0).push(Some(0), Json::from_value(&json!("Late")).unwrap());
    let mut run = Run::resume(Arc::clone(&linear), state).unwrap();
    let mut events = Vec::new();
    assert_eq!(run.run_to_end(&mut events), &Status::Completed);
    let repeated: Vec<_> =
        events.iter().filter(|e| e.event_type == "Repeated").map(|e| (e.superstep, e.data.to_value())).collect();
    assert_eq!(repeated, [(1, json!("Late Late"))]);
    assert!(run.state().queues[1][0].params[0].is_empty());
}

/// A run of `old` waiting with `"Hi"` queued for `repeat`'s `message`, not a complete set there: rebound to
/// `new`, it runs again and fires the set in its first superstep. The state the rebinding gave.
fn rebind_waiting_and_fire(old: &Arc<Process>, new: Arc<Process>) -> RunState {
    let mut state = RunState::new(old, "rebound".into(), weft_tests::TEST_TIME_MS);
    state.queue_mut(1, 0).push(Some(0), Json::from_value(&json!("Hi")).unwrap());
    state.status = Status::Waiting;
    assert_eq!(rebind(&state, old, old).unwrap().status, Status::Waiting, "nothing complete: it goes on waiting");

    let rebound = rebind(&state, old, &new).unwrap();
    assert_eq!(rebound.status, Status::Running);
    let mut run = Run::resume(new, rebound.clone()).unwrap();
    let mut events = Vec::new();
    assert_eq!(run.run_to_end(&mut events), &Status::Completed);
    let repeated: Vec<_> =
        events.iter().filter(|e| e.event_type == "Repeated").map(|e| (e.superstep, e.data.to_value())).collect();
    assert_eq!(repeated, [(1, json!("Hi Hi"))]);
    rebound
}

#[test]
fn a_waiting_run_rebound_to_a_version_that_completes_a_queued_set_fires_it() {
    // The pinned version's `repeat` needs `count` as well (its description changed here); the new one,
    // the component as built, takes it as optional. The queued message alone is then a complete set.
    let mut old = process("linear");
    let repeat = Arc::make_mut(&mut Arc::get_mut(&mut old).unwrap().steps[1].description);
    repeat.functions[0].params[1].required = true;
    rebind_waiting_and_fire(&old, process("linear"));
}

#[test]
fn a_waiting_run_rebound_to_a_version_without_the_parameter_it_waited_for_fires_the_queued_set() {
    // The pinned version's `repeat` also needs a parameter `times` (added to its description here) that
    // the new one, the component as built, does not have: the queued `message` alone is then a complete
    // set of the new version (docs/durability.md: a parameter "optional in the new version, or gone").
    let mut old = process("linear");
    let repeat = Arc::make_mut(&mut Arc::get_mut(&mut old).unwrap().steps[1].description);
    let times = ParamDescription { name: "times".into(), required: true, schema: None };
    repeat.functions[0].params.push(times);
    let rebound = rebind_waiting_and_fire(&old, process("linear"));
    assert_eq!(rebound.queues[1][0].params.len(), 2, "the new version's parameters: message and count");
}
