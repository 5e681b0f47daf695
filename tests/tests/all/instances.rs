//! Step instances across a run (docs/semantics.md, "Limits"; docs/durability.md, "What is not promised"):
//! one idle for `IDLE_SUPERSTEPS` supersteps is dropped and its pool slot reused, and one made anew starts
//! from the step's state snapshot; a map step keeps its items' instances however long it idles; a step
//! with no instance takes over one that another step of the same component, granted the same, did not use
//! in this superstep, and sees its own state, invocation ids and grants in it.

use std::fmt::Write;

use serde_json::{Value, json};
use weft_engine::host::sandbox::POOLED_COMPONENT_INSTANCES;
use weft_engine::runner::Status;
use weft_engine::runner::instances::IDLE_SUPERSTEPS;
use weft_tests::{Observed, load_yaml, run, runtime};

/// Steps `<prefix>1`..`<prefix><n>` of `tests/steps/<component>.wasm`, as items of `steps:`; with
/// `own_grants`, each granted a configuration value of its own (so that none takes over another's instance).
fn steps(prefix: &str, n: usize, component: &str, own_grants: bool) -> String {
    (1..=n).fold(String::new(), |mut yaml, i| {
        let _ = writeln!(yaml, "  - id: {prefix}{i}\n    component: \"{{steps}}/{component}.wasm\"");
        if own_grants {
            let _ = writeln!(yaml, "    capabilities: {{ config: {{ step: \"{prefix}{i}\" }} }}");
        }
        yaml
    })
}

/// Items of `edges:` passing the result of function `function` of each of those steps to parameter
/// `param` of the next.
fn links(prefix: &str, n: usize, function: &str, param: &str) -> String {
    (2..=n).fold(String::new(), |mut yaml, i| {
        let from = format!("{{ step: {prefix}{}, result: {function} }}", i - 1);
        let _ = writeln!(yaml, "  - from: {from}\n    to: [{{ step: {prefix}{i}, parameter: {param} }}]");
        yaml
    })
}

/// A counter (3 rounds) whose every round runs `n` recorders one after another, the last one ticking
/// the counter again: the counter runs every `n + 1` supersteps, each recorder too.
fn cycle(n: usize) -> Observed {
    let yaml = format!(
        "name: cycle\nversion: 1.0.0\nsteps:\n  - id: counter\n    component: \"{{steps}}/counter.wasm\"\n    \
         state: {{ count: 0, limit: 3 }}\n{}inputs:\n  - event: Start\n    to: [{{ step: counter }}]\nedges:\n  \
         - from: {{ step: counter, event: Again }}\n    to: [{{ step: r1, parameter: value }}]\n{}  \
         - from: {{ step: r{n}, result: record }}\n    to: [{{ step: counter }}]\n",
        steps("r", n, "recorder", true),
        links("r", n, "record", "value"),
    );
    let (process, _dir) = load_yaml(&yaml);
    let observed = run(&process.expect("the cycle loads"), &[("Start", json!(null))]);
    assert_eq!(observed.status, Status::Completed);
    let done: Vec<Value> = observed.events().into_iter().filter(|(t, _)| t == "Done").map(|(_, d)| d).collect();
    assert_eq!(done, vec![json!(3)], "the count went on from its snapshot");
    assert_eq!(observed.step_state(1), json!({"seen": [1, 2]}), "the first recorder kept both rounds");
    assert_eq!(observed.step_state(n), json!({"seen": [null, null]}));
    assert_eq!(observed.state.superstep, 2 * (n as u64 + 1) + 1);
    observed
}

#[test]
fn a_chain_longer_than_the_instance_pool_runs_each_step_once() {
    assert!(runtime().pooled(), "instances come from the pool, whose bound this test is about");
    let n = POOLED_COMPONENT_INSTANCES as usize + 200;
    let yaml = format!(
        "name: chain\nversion: 1.0.0\nlimits:\n  maxSupersteps: 2000\n\
         steps:\n{}  - id: last\n    component: \"{{steps}}/recorder.wasm\"\n\
         inputs:\n  - event: Start\n    to: [{{ step: e1 }}]\nedges:\n{}  - from: {{ step: e{n}, result: echo }}\n    \
         to: [{{ step: last, parameter: value }}]\n",
        steps("e", n, "echo", true),
        links("e", n, "echo", "message"),
    );
    let (process, _dir) = load_yaml(&yaml);
    let observed = run(&process.expect("the chain loads"), &[("Start", json!("hi"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.events(), vec![("Recorded".to_string(), json!("hi"))]);
    assert_eq!(observed.state.invocations, n as u64 + 1);
    assert_eq!(
        observed.instances_created,
        n as u64 + 1,
        "each step's instance (their grants differ) made once, in slots reused"
    );
}

#[test]
fn a_step_idle_for_longer_than_the_limit_is_made_anew_from_its_snapshot() {
    // A cycle one longer than the limit: the counter runs in supersteps 1, 10 and 19, each recorder in two
    // of them nine apart, so every instance goes the limit uninvoked before its next invocation.
    let n = IDLE_SUPERSTEPS as usize;
    let observed = cycle(n);
    assert_eq!(observed.instances_created, 3 + 2 * n as u64, "a new instance for every invocation after idling");
}

#[test]
fn a_step_in_a_cycle_as_long_as_the_limit_keeps_its_instance() {
    let n = IDLE_SUPERSTEPS as usize - 1;
    let observed = cycle(n);
    assert_eq!(observed.instances_created, 1 + n as u64, "one instance per step for the whole run");
}

#[test]
fn a_map_step_idle_for_longer_than_the_limit_keeps_its_items_instances() {
    // The map runs in superstep 1 and, after nine recorders passing the items on, in superstep 10: idle
    // past the limit, yet its two items' instances are those of its first invocation (docs/semantics.md,
    // "Limits").
    let n = IDLE_SUPERSTEPS as usize + 1;
    let relays = (2..=n).fold(String::new(), |mut yaml, i| {
        let _ = writeln!(yaml, "  - from: {{ step: r{}, event: Recorded }}\n    to: [{{ step: r{i} }}]", i - 1);
        yaml
    });
    let yaml = format!(
        "name: idle-map\nversion: 1.0.0\nsteps:\n  - id: m\n    map: {{ component: \"{{steps}}/echo.wasm\" }}\n{}\
         inputs:\n  - event: Start\n    to: [{{ step: m }}, {{ step: r1 }}]\n\
         edges:\n{relays}  - from: {{ step: r{n}, event: Recorded }}\n    to: [{{ step: m }}]\n",
        steps("r", n, "recorder", true),
    );
    let (process, _dir) = load_yaml(&yaml);
    let observed = run(&process.unwrap_or_else(|e| panic!("{e}")), &[("Start", json!(["a", "b"]))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.state.superstep, n as u64 + 1, "the map's second invocation came {n} supersteps later");
    assert_eq!(observed.state.invocations, n as u64 + 2);
    assert_eq!(observed.instances_created, n as u64 + 2, "one per recorder, and one per item once");
}

#[test]
fn steps_of_one_component_granted_the_same_run_on_one_instance_each_with_its_own_state_and_ids() {
    // Each tally adds the total of the one before to its own: its state is its own snapshot's, not what
    // the instance last held, and its invocation id names it.
    let yaml = format!(
        "name: tallies\nversion: 1.0.0\nsteps:\n{}inputs:\n  - event: Start\n    \
         to: [{{ step: t1, parameter: left }}, {{ step: t1, parameter: right }}]\nedges:\n{}",
        steps("t", 3, "tally", false),
        (2..=3).fold(String::new(), |mut yaml, i| {
            let to = format!("[{{ step: t{i}, parameter: left }}, {{ step: t{i}, parameter: right }}]");
            let _ = writeln!(yaml, "  - from: {{ step: t{}, result: add }}\n    to: {to}", i - 1);
            yaml
        }),
    );
    let (process, _dir) = load_yaml(&yaml);
    let observed = run(&process.unwrap_or_else(|e| panic!("{e}")), &[("Start", json!(1))]);
    assert_eq!(observed.status, Status::Completed);
    let tallied: Vec<Value> = observed.events().into_iter().map(|(_, data)| data).collect();
    let seen: Vec<(u64, u64, String)> = tallied
        .iter()
        .map(|t| (t["total"].as_u64().unwrap_or(0), t["pairs"].as_u64().unwrap_or(0), t["invocation"].to_string()))
        .collect();
    let instance = &observed.state.instance_id;
    let id = |step: &str, n: u32| format!("\"{instance}:{step}:{n}\"");
    assert_eq!(seen, vec![(2, 1, id("t1", 1)), (4, 1, id("t2", 2)), (8, 1, id("t3", 3))]);
    assert_eq!(observed.instances_created, 1, "each tally took over the instance of the one before");
}

#[test]
fn steps_invoked_in_the_same_superstep_do_not_share_an_instance() {
    // a and b run in superstep 1 and need two instances; c and d, in superstep 2, take one each.
    let yaml = "name: pairs\nversion: 1.0.0\nsteps:\n  - id: a\n    component: \"{steps}/echo.wasm\"\n  \
                - id: b\n    component: \"{steps}/echo.wasm\"\n  - id: c\n    component: \"{steps}/echo.wasm\"\n  \
                - id: d\n    component: \"{steps}/echo.wasm\"\ninputs:\n  - event: Start\n    \
                to: [{ step: a }, { step: b }]\nedges:\n  - from: { step: a, result: echo }\n    \
                to: [{ step: c, parameter: message }]\n  - from: { step: b, result: echo }\n    \
                to: [{ step: d, parameter: message }]\n";
    let (process, _dir) = load_yaml(yaml);
    let observed = run(&process.unwrap_or_else(|e| panic!("{e}")), &[("Start", json!("hi"))]);
    assert_eq!(observed.status, Status::Completed);
    assert_eq!(observed.state.invocations, 4);
    assert_eq!(observed.instances_created, 2);
}

#[test]
fn a_step_under_other_limits_or_grants_makes_its_own_instance() {
    // e2 may not take over e1's instance; e3 takes over e1's (e2's is not alike).
    for middle in ["limits: { timeout: 2s }", "capabilities: { config: { region: eu } }"] {
        let yaml = format!(
            "name: apart\nversion: 1.0.0\nsteps:\n  - id: e1\n    component: \"{{steps}}/echo.wasm\"\n  \
             - id: e2\n    component: \"{{steps}}/echo.wasm\"\n    {middle}\n  \
             - id: e3\n    component: \"{{steps}}/echo.wasm\"\ninputs:\n  - event: Start\n    to: [{{ step: e1 }}]\n\
             edges:\n{}",
            links("e", 3, "echo", "message"),
        );
        let (process, _dir) = load_yaml(&yaml);
        let observed = run(&process.unwrap_or_else(|e| panic!("{e}")), &[("Start", json!("hi"))]);
        assert_eq!(observed.status, Status::Completed, "{middle}");
        assert_eq!(observed.state.invocations, 3);
        assert_eq!(observed.instances_created, 2, "{middle}: e2 made its own");
    }
}
