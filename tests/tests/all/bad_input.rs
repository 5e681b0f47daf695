//! Bad definitions and components: each is a clear error placed at file:line:column, never a panic.

use serde_json::json;
use weft_engine::runner::Status;
use weft_tests::{load_yaml, run};

/// Load `yaml` and return its error text; panics if it loads.
fn load_error(yaml: &str) -> String {
    match load_yaml(yaml).0 {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

const LINEAR: &str = "\
name: linear
version: 1.0.0
steps:
  - id: echo
    component: '{steps}/echo.wasm'
  - id: combine
    component: '{steps}/combine.wasm'
inputs:
  - event: Start
    to: [{ step: echo }]
edges:
  - from: { step: echo, result: echo }
    to:
      - step: combine
        parameter: left
";

#[test]
fn the_template_loads() {
    let (process, _dir) = load_yaml(LINEAR);
    process.unwrap();
}

#[test]
fn missing_component_file() {
    let e = load_error(&LINEAR.replace("combine.wasm", "nothing-here.wasm"));
    assert!(e.contains("process.yaml:7:16: at /steps/1/component: step \"combine\": component file"), "{e}");
    assert!(e.contains("not found") && e.contains("hint: build the steps"), "{e}");
}

/// The distinct components a definition names load side by side before its steps are put together;
/// each that fails is still reported once, at its own step, and the others load.
#[test]
fn each_failing_component_is_reported_once_at_its_step() {
    let (_, dir) = load_yaml("");
    let text = dir.path().join("text.wasm");
    std::fs::write(&text, "this is not wasm").unwrap();
    let more = format!(
        "  - id: bad\n    component: '{}'\n  - id: missing\n    component: nothing-here.wasm\n  \
         - id: sum\n    component: '{{steps}}/sum.wasm'\ninputs:",
        text.display()
    );
    let yaml = LINEAR.replace("inputs:", &more);
    let e = load_error(&yaml);
    for (at, what) in [("/steps/2/component", "is not a WebAssembly component"), ("/steps/3/component", "not found")] {
        assert_eq!(e.matches(&format!("at {at}:")).count(), 1, "{at} reported once:\n{e}");
        assert!(e.contains(what), "{e}");
    }
    assert!(!e.contains("/steps/0/") && !e.contains("/steps/1/") && !e.contains("/steps/4/"), "{e}");
}

#[test]
fn file_that_is_not_a_component() {
    let (_, dir) = load_yaml("");
    let text = dir.path().join("text.wasm");
    std::fs::write(&text, "this is not wasm").unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    for (bad, what) in [(&text, "not WebAssembly at all"), (&core, "a core WebAssembly module")] {
        let e = load_error(&LINEAR.replace("'{steps}/combine.wasm'", &format!("'{}'", bad.display())));
        assert!(e.contains("at /steps/1/component") && e.contains("is not a WebAssembly component: it is"), "{e}");
        assert!(e.contains(what) && e.contains("wasm32-wasip2"), "{e}");
    }
}

#[test]
fn edge_to_a_function_the_component_lacks() {
    let e = load_error(&LINEAR.replace("      - step: combine\n", "      - step: combine\n        function: combin\n"));
    assert!(
        e.contains("process.yaml:15:19: at /edges/0/to/0/function: step \"combine\" has no kernel function \"combin\""),
        "{e}"
    );
    assert!(e.contains("did you mean \"combine\"? (known: combine)"), "{e}");
}

#[test]
fn edge_to_a_parameter_the_function_lacks() {
    let e = load_error(&LINEAR.replace("parameter: left", "parameter: lefty"));
    assert!(
        e.contains("process.yaml:15:20: at /edges/0/to/0/parameter") && e.contains("has no parameter \"lefty\""),
        "{e}"
    );
    assert!(e.contains("did you mean \"left\"? (known: left, right)"), "{e}");
}

#[test]
fn edge_from_a_result_of_an_unknown_function() {
    let e = load_error(&LINEAR.replace("result: echo", "result: ech"));
    assert!(e.contains("at /edges/0/from/result: step \"echo\" has no kernel function \"ech\""), "{e}");
}

#[test]
fn ambiguous_bindings_are_refused() {
    let e = load_error(&LINEAR.replace("        parameter: left\n", ""));
    assert!(e.contains("at /edges/0/to/0: kernel function \"combine\" of step \"combine\" has 2 parameters"), "{e}");
    assert!(e.contains("add `parameter:` with one of: left, right"), "{e}");
    let failer = LINEAR.replace("combine.wasm", "failer.wasm").replace("parameter: left", "parameter: reason");
    let e = load_error(&failer);
    assert!(e.contains("step \"combine\" has 11 kernel functions; the target must name one"), "{e}");
    assert!(e.contains("add `function:` with one of: explode, crash, spin, hog, spoof, flood, huge,"), "{e}");
}

#[test]
fn superstep_limit_fails_the_run_and_says_so() {
    let yaml = "\
name: limited
version: 1.0.0
steps:
  - id: counter
    component: '{steps}/counter.wasm'
    state: { count: 0, limit: 100 }
inputs:
  - event: Start
    to: [{ step: counter }]
edges:
  - from: { step: counter, event: Again }
    to: [{ step: counter }]
limits:
  maxSupersteps: 5
";
    let (process, _dir) = load_yaml(yaml);
    let observed = run(&process.unwrap(), &[("Start", json!(null))]);
    let Status::Failed { error } = &observed.status else { panic!("{:?}", observed.status) };
    assert_eq!(error.kind, "superstep-limit");
    assert!(error.message.contains("superstep limit of 5") && error.message.contains("maxSupersteps"), "{error}");
    assert_eq!(observed.state.superstep, 5);
    assert_eq!(observed.step_state(0), json!({"count": 5, "limit": 100}));
}

#[test]
fn unknown_input_event_lists_the_declared_ones() {
    let (process, _dir) = load_yaml(LINEAR);
    let process = process.unwrap();
    let mut run = weft_engine::runner::Run::new(process, "x");
    let e = run.send("Begin", weft_engine::data::Json::null()).unwrap_err().to_string();
    assert_eq!(e, "process \"linear\" has no input event \"Begin\"; it accepts: Start");
}

#[test]
fn state_nested_deeper_than_json_allows_is_refused_at_its_place() {
    let deep = format!("{}1{}", "[".repeat(130), "]".repeat(130));
    let e = load_error(&LINEAR.replace(
        "    component: '{steps}/echo.wasm'\n",
        &format!("    component: '{{steps}}/echo.wasm'\n    state: {deep}\n"),
    ));
    assert!(e.contains("process.yaml:6:12: at /steps/0/state: step \"echo\": state: arrays and objects are nested more than 127 deep"), "{e}");
}

#[test]
fn a_bad_duration_is_placed_with_the_fix() {
    let e =
        load_error(&LINEAR.replace("        parameter: left\n", "        parameter: left\n        delay: 3 days\n"));
    assert!(e.contains("process.yaml:16:16: at /edges/0/to/0/delay"), "{e}");
    assert!(e.contains("hint:"), "{e}");
}

#[test]
fn an_await_of_an_event_that_is_not_an_input_is_refused() {
    let e = load_error(&LINEAR.replace(
        "      - step: combine\n        parameter: left\n",
        "      - await: Approved\n        timeout: 72h\n",
    ));
    assert!(e.contains("at /edges/0/to/0/await: the awaited event \"Approved\" is not an input event"), "{e}");
    assert!(e.contains("declare it under `inputs`") && e.contains("declared: Start"), "{e}");
}

#[test]
fn a_retry_of_a_function_the_step_lacks_names_what_exists() {
    let e = load_error(&LINEAR.replace(
        "    component: '{steps}/echo.wasm'\n",
        "    component: '{steps}/echo.wasm'\n    retries:\n      ecko: { attempts: 3 }\n",
    ));
    assert!(e.contains("at /steps/0/retries/ecko: step \"echo\" has no kernel function \"ecko\" to retry"), "{e}");
    assert!(e.contains("did you mean \"echo\""), "{e}");
}

/// A step's `limits`: sizes and durations that do not parse or are out of range, unknown keys, and limits
/// on a sub-process step, each placed at its key with what would fix it.
#[test]
fn bad_step_limits() {
    let with = |limits: &str| {
        LINEAR.replace(
            "    component: '{steps}/echo.wasm'\n",
            &format!("    component: '{{steps}}/echo.wasm'\n    limits: {limits}\n"),
        )
    };
    for (limits, expected) in [
        ("{ memory: 64 }", "process.yaml:6:23: at /steps/0/limits/memory: 64 is not of type \"string\""),
        ("{ memory: 64M }", "process.yaml:6:23: at /steps/0/limits/memory: \"64M\" is not a size"),
        ("{ memory: 8GiB }", "process.yaml:6:23: at /steps/0/limits/memory: `memory: 8GiB` is out of range"),
        ("{ maxEventSize: 0B }", "/steps/0/limits/maxEventSize: `maxEventSize: 0B` is out of range"),
        ("{ timeout: 0s }", "/steps/0/limits/timeout: `timeout: 0s` is out of range"),
        ("{ timeout: 2d }", "hint: give one from 1ms to 24h"),
        ("{ timeout: fast }", "/steps/0/limits/timeout: \"fast\" is not a duration"),
        ("{ maxEvents: -1 }", "/steps/0/limits/maxEvents"),
        ("{ fuel: 1000 }", "unknown key \"fuel\""),
    ] {
        let e = load_error(&with(limits));
        assert!(e.contains(expected), "{limits}: {e}");
    }
    let (process, _dir) =
        load_yaml(&with("{ timeout: 2s, memory: 64MiB, maxEvents: 5, maxEventSize: 1KB, maxStateSize: 1KiB }"));
    let process = process.unwrap();
    let limits = &process.steps[0].limits;
    assert_eq!(
        (
            limits.invocation_timeout.as_millis(),
            limits.memory_bytes,
            limits.max_events,
            limits.max_event_bytes,
            limits.max_state_bytes
        ),
        (2_000, 64 << 20, 5, 1_000, 1_024)
    );
    assert_eq!(
        process.steps[1].limits,
        weft_engine::host::sandbox::Limits::default(),
        "the other step keeps the defaults"
    );
}
