//! The `weft` command as a user runs it: output format, exit codes, error messages, the compiled-code cache.
//! Uses the components built by scripts/build-steps under tests/steps.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::{root, text, weft, weft_in, weft_with_cache};

#[test]
fn run_prints_public_events_as_cloudevents_then_a_summary() {
    let out = weft(&[
        "run",
        "tests/processes/linear.yaml",
        "--event",
        "Start",
        "--data",
        "\"Test\"",
        "--instance-id",
        "i-1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "one event and the summary");
    let event = &lines[0];
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "Repeated");
    assert_eq!(event["source"], "/processes/linear/instances/i-1/steps/repeat");
    assert_eq!(event["id"], "i-1-1");
    assert_eq!(event["datacontenttype"], "application/json");
    assert_eq!(event["data"], "Test Test");
    assert_eq!(event["weftsuperstep"], 2);
    assert!(event["time"].is_string());
    let summary = &lines[1];
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["supersteps"], 2);
    assert_eq!(summary["invocations"], 2);
    assert_eq!(summary["states"], json!({"echo": null, "repeat": {"times": 2, "calls": 1}}));
}

#[test]
fn human_summary_goes_to_stderr() {
    let out = weft(&["run", "tests/processes/cycle.yaml", "--event", "Start"]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.contains("stopped after 3 supersteps, 3 invocations"), "{err}");
    assert!(err.contains("state counter: {\"count\":3,\"limit\":3}"), "{err}");
}

#[test]
fn failed_run_exits_1_naming_step_function_and_message() {
    let out = weft(&["run", "tests/processes/failing.yaml", "--event", "Explode", "--data", "\"no funds\""]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("failed after 1 supersteps")
            && err.contains("\"step\":\"failer\"")
            && err.contains("\"function\":\"explode\"")
            && err.contains("no funds"),
        "{err}"
    );
}

#[test]
fn malformed_yaml_exits_2_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "name: x\nversion: 1\nsteps: [\n  {id: a,\n").unwrap();
    let out = weft(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.yaml:5:1: malformed YAML:"), "{err}");
}

#[test]
fn schema_violation_and_unknown_key_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "name: x\nversion: 1.0.0\nsteps:\n  - id: a\n    componnt: a.wasm\ninputs: []\n").unwrap();
    let out = weft(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.yaml:5:5: at /steps/0/componnt: unknown key \"componnt\""), "{err}");
    assert!(err.contains("did you mean \"component\"?"), "{err}");
    assert!(err.contains("bad.yaml:6:9: at /inputs:"), "an empty inputs list is a schema violation: {err}");
}

#[test]
fn validate_accepts_a_good_definition() {
    let out = weft(&["validate", "tests/processes/fan-in.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("process \"fan-in\" 1.0.0 is valid: 3 steps, 2 input events, 2 edges"));
    let out = weft(&["validate", "examples/support-ticket/process.yaml"]);
    assert!(text(&out.stdout).contains("is valid: 2 steps, 2 input events, 1 edge\n"), "{}", text(&out.stdout));
}

#[test]
fn bad_event_data_and_unknown_event_exit_2() {
    let out = weft(&["run", "tests/processes/linear.yaml", "--event", "Start", "--data", "{oops"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--data is not JSON"), "{}", text(&out.stderr));
    let out = weft(&["run", "tests/processes/linear.yaml", "--event", "Begin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no input event \"Begin\"; it accepts: Start"), "{}", text(&out.stderr));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = weft(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), std::fs::read_to_string(root().join("definitions/process.schema.json")).unwrap());
}

#[test]
fn describe_shows_functions_and_parameters() {
    let out = weft(&["describe", "tests/steps/repeat.wasm"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["state_version"], 1);
    assert_eq!(d["functions"][0]["name"], "repeat");
    assert_eq!(
        d["functions"][0]["params"][0],
        json!({"name": "message", "required": true, "schema": {"type": "string"}})
    );
    assert_eq!(
        d["functions"][0]["params"][1],
        json!({"name": "count", "required": false, "schema": {"type": "integer"}})
    );
}

#[test]
fn second_start_takes_compiled_code_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["-v", "validate", "tests/processes/linear.yaml"];
    let first = text(&weft_with_cache(&args, cache.path()).stderr);
    assert!(first.contains("cache=Miss") && !first.contains("cache=Hit"), "{first}");
    let second = text(&weft_with_cache(&args, cache.path()).stderr);
    assert!(second.contains("cache=Hit") && !second.contains("cache=Miss"), "{second}");
}

/// Several `weft` commands filling one empty cache at once (compiled code, descriptions, file digests,
/// accepted definitions, each written by temporary file and rename) all succeed, and leave entries a
/// later command takes whole, with no temporary file behind.
#[test]
fn commands_filling_one_empty_cache_at_once_all_succeed_and_leave_it_whole() {
    let cache = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let env = [("WEFT_CACHE_DIR", cache.path().to_str().unwrap())];
    let args = ["validate", "tests/processes/linear.yaml"];
    let started: Vec<_> = (0..4)
        .map(|i| {
            let db = store.path().join(format!("{i}.db"));
            crate::command(&db, &args, &env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in started {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let later = weft_with_cache(
        &["-v", "run", "tests/processes/linear.yaml", "--event", "Start", "--data", "\"Test\"", "--in-memory"],
        cache.path(),
    );
    let err = text(&later.stderr);
    assert!(later.status.success() && err.contains("cache=Hit") && !err.contains("cache=Miss"), "{err}");
    assert!(text(&later.stdout).contains("Test Test"), "{}", text(&later.stdout));
    let mut left = Vec::new();
    let mut dirs = vec![cache.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                dirs.push(entry.path());
            } else if entry.file_name().to_string_lossy().starts_with(".tmp") {
                left.push(entry.path());
            }
        }
    }
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

#[test]
fn missing_component_exits_2_naming_the_step_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    let yaml = "name: p\nversion: '1'\nsteps:\n  - id: a\n    component: nowhere.wasm\ninputs:\n  - event: Go\n    to: [{ step: a }]\n";
    std::fs::write(&file, yaml).unwrap();
    let out = weft(&["run", file.to_str().unwrap(), "--event", "Go"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("p.yaml:5:16: at /steps/0/component: step \"a\": component file "), "{err}");
    assert!(err.contains("/nowhere.wasm not found"), "the resolved path is named: {err}");
    assert!(err.contains("hint: build the steps (scripts/build-steps)"), "{err}");
}

#[test]
fn superstep_limit_exits_1_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    let counter = root().join("tests/steps/counter.wasm");
    let yaml = format!(
        "name: p\nversion: '1'\nsteps:\n  - id: c\n    component: '{}'\n    state: {{ count: 0, limit: 50 }}\n\
         inputs:\n  - event: Go\n    to: [{{ step: c }}]\nedges:\n  - from: {{ step: c, event: Again }}\n    to: [{{ step: c }}]\n\
         limits: {{ maxSupersteps: 4 }}\n",
        counter.display()
    );
    std::fs::write(&file, yaml).unwrap();
    let out = weft(&["run", file.to_str().unwrap(), "--event", "Go", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let summary: Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["error"]["type"], "superstep-limit");
    assert_eq!(summary["supersteps"], 4);
}

#[test]
fn graph_draws_the_declared_topology_and_nothing_more() {
    let out = weft(&["graph", "tests/processes/crash-loop.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mermaid = text(&out.stdout);
    for line in [
        "flowchart LR",
        "  in0([\"Start\"])",
        "  s0 -- \"Again, → left\" --> s2",
        "  s0 -- \"result tick, when .data % 50 == 0\" --> s1",
        "  s1 -- \"Recorded\" --> all4",
        "  s2 -- \"Tallied\" --> all4",
        "  all4 --> s3_in0",
        "  subgraph sub3[\"pairs: process crash-pairs.yaml\"]",
        "  s3_in0 --> s3_s0",
    ] {
        assert!(mermaid.lines().any(|l| l == line), "no line {line:?} in\n{mermaid}");
    }
    assert!(!mermaid.contains("End") && !mermaid.contains("Start -->"), "no invented start or end:\n{mermaid}");

    let out = weft(&["graph", "examples/support-ticket/process.yaml", "--format", "dot"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dot = text(&out.stdout);
    assert!(dot.starts_with("digraph \"support-ticket\" {"), "{dot}");
    assert!(dot.contains("[label=\"await AgentReplied (timeout 72h)\", shape=hexagon];"), "{dot}");
    assert!(dot.contains("-> s1 [label=\"on timeout, → escalate\"];"), "{dot}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "name: x\nversion: 1.0.0\nsteps:\n  - id: a\n    componnt: a.wasm\n").unwrap();
    let out = weft(&["graph", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown key \"componnt\""), "{}", text(&out.stderr));
}

/// `weft graph --run ID` marks what an instance took: the steps it invoked and the edges it fired, with
/// counts, in the definition it is pinned to. Account opening's two applicants take the two branches of
/// the conditional edge; the crash test's loop shows a cycle's counts, an all-of group, and a
/// sub-process entered through its input event.
#[test]
fn graph_of_a_run_marks_the_steps_it_invoked_and_the_edges_it_fired() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let weft = |args: &[&str]| {
        let out = weft_in(&store, args, &[]);
        assert_eq!(out.status.code(), Some(0), "{:?}: {}", args, text(&out.stderr));
        text(&out.stdout)
    };
    let account = "examples/account-opening/process.yaml";
    for applicant in ["manual-review", "approved"] {
        let data = format!("examples/account-opening/applicants/{applicant}.json");
        weft(&["run", account, "--event", "NewApplication", "--data-file", &data, "--instance-id", applicant]);
    }
    let review = weft(&["graph", "--run", "manual-review"]);
    let approved = weft(&["graph", account, "--run", "approved"]);
    let has = |mermaid: &str, line: &str| assert!(mermaid.lines().any(|l| l == line), "no {line:?} in\n{mermaid}");
    has(&review, "  s2 -- \"Underwritten, when .data.creditLimit > 5000 (×1)\" --> e3_topic0");
    has(&review, "  s2 -- \"Underwritten, default, → create\" --> s2");
    has(&review, "  s2[\"account (×1)\"]");
    has(&review, "  s3[\"welcome\"]");
    has(&approved, "  s2 -- \"Underwritten, when .data.creditLimit > 5000\" --> e3_topic0");
    has(&approved, "  s2 -- \"Underwritten, default, → create (×1)\" --> s2");
    has(&approved, "  s2[\"account (×2)\"]");
    has(&approved, "  s3[\"welcome (×1)\"]");
    has(&approved, "  s0 -- \"CreditApproved (×1)\" --> all2");
    has(&approved, "  class s0,s1,s2,s3 taken");
    // The drawing without a run carries no marks.
    let plain = text(&crate::weft(&["graph", account]).stdout);
    assert!(!plain.contains('×') && !plain.contains("linkStyle") && !plain.contains("classDef"), "{plain}");

    weft(&["run", "tests/processes/crash-loop.yaml", "--event", "Start", "--instance-id", "loop"]);
    let looped = weft(&["graph", "--run", "loop"]);
    for line in [
        "  s0[\"counter (×150)\"]",
        "  in0 -- \"×1\" --> s0",
        "  s0 -- \"Again (×149)\" --> s0",
        "  s0 -- \"result tick, when .data % 50 == 0 (×3)\" --> s1",
        "  s1 -- \"Recorded (×153)\" --> all4",
        "  all4 -- \"×149\" --> s3_in0",
        "    s3_s0[\"recorder (×149)\"]",
        "  s3_in0 -- \"×149\" --> s3_s0",
    ] {
        has(&looped, line);
    }
    // An await's timeout path, taken when the ticket nobody answered was escalated.
    let ticket = ["examples/support-ticket/process.yaml", "--event", "NewTicket", "--instance-id", "late"];
    let data = ["--data-file", "examples/support-ticket/tickets/refund.json"];
    let run: Vec<&str> = [&["run"][..], &ticket[..], &data[..]].concat();
    let out = weft_in(&store, &run, &[("WEFT_NOW", "2026-11-22T09:00:00Z")]);
    assert!(text(&out.stderr).contains("waiting"), "{}", text(&out.stderr));
    let out = weft_in(&store, &["resume", "late"], &[("WEFT_NOW", "2026-11-26T09:00:00Z")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let late = weft(&["graph", "--run", "late"]);
    has(&late, "  e0_await0 -- \"on timeout, → escalate (×1)\" --> s1");
    has(&late, "  linkStyle 0,2,3 stroke:#2b8a3e,stroke-width:3px");
    let dot = weft(&["graph", "--run", "loop", "--format", "dot"]);
    assert!(dot.contains("s0 -> s0 [label=\"Again (×149)\", color=\"#2b8a3e\", penwidth=2.5];"), "{dot}");

    let out = weft_in(&store, &["graph", "--run", "nobody"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no process instance has the id \"nobody\""), "{}", text(&out.stderr));
    let out = weft_in(&store, &["graph"], &[]);
    assert_eq!(out.status.code(), Some(2), "FILE or --run is required");
}

/// The arrows of a Mermaid flowchart as `(from, to)` by label, nodes named by their text (`s0["credit"]`
/// → `credit`), read back from `weft graph`'s output.
fn mermaid_arrows(mermaid: &str) -> Vec<(String, String)> {
    let mut names = std::collections::HashMap::new();
    let mut arrows = Vec::new();
    for line in mermaid.lines().map(str::trim) {
        if let Some((from, rest)) = line.split_once(" -- \"").or_else(|| line.split_once(" -->")) {
            let to = rest.rsplit("--> ").next().unwrap_or(rest).trim();
            arrows.push((from.to_string(), to.to_string()));
        } else if let (Some(open), Some(first), Some(last)) =
            (line.find(['[', '(', '{']), line.find('"'), line.rfind('"'))
        {
            names.insert(line[..open].to_string(), line[first + 1..last].to_string());
        }
    }
    let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    arrows.iter().map(|(f, t)| (name(f), name(t))).collect()
}

#[test]
fn graph_of_each_example_parses_back_to_the_definitions_edges() {
    for example in ["account-opening", "food-delivery", "support-ticket"] {
        let file = root().join(format!("examples/{example}/process.yaml"));
        let out = weft(&["graph", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let mut drawn = mermaid_arrows(&text(&out.stdout));
        let def = weft_definitions::load_file(&file).unwrap().definition;
        // What the definition says, as (source, target) by name: input events and step ids; an all-of
        // group's members go to its gate ("all of"), and the gate to its targets.
        let mut declared: Vec<(String, String)> = Vec::new();
        let target = |t: &weft_definitions::Target| match t {
            weft_definitions::Target::Function(f) => f.step.clone(),
            weft_definitions::Target::Stop(_) => "stop".into(),
            weft_definitions::Target::Topic(t) => format!("topic {}", t.topic),
            weft_definitions::Target::Await(a) => format!(
                "await {}{}",
                a.event,
                a.timeout.as_ref().map(|t| format!(" (timeout {})", t.0)).unwrap_or_default()
            ),
        };
        let add = |from: &str, targets: &[weft_definitions::Target], declared: &mut Vec<(String, String)>| {
            for t in targets {
                declared.push((from.to_string(), target(t)));
                if let weft_definitions::Target::Await(a) = t {
                    for t in &a.on_timeout {
                        declared.push((target(&weft_definitions::Target::Await(a.clone())), target(t)));
                    }
                }
            }
        };
        for input in &def.inputs {
            add(&input.event, &input.to, &mut declared);
        }
        for edge in &def.edges {
            match &edge.from {
                Some(from) => add(&from.step, &edge.to, &mut declared),
                None => {
                    declared.extend(edge.all_of.iter().map(|m| (m.step.clone(), "all of".to_string())));
                    add("all of", &edge.to, &mut declared);
                }
            }
        }
        add("any unhandled error", &def.on_error, &mut declared);
        drawn.sort();
        declared.sort();
        assert_eq!(drawn, declared, "{example}");
    }
}

#[test]
fn graph_mermaid_output_parses_with_mermaid_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, definition) in [
        "examples/account-opening/process.yaml",
        "examples/food-delivery/process.yaml",
        "examples/support-ticket/process.yaml",
        "tests/processes/two-sub-processes.yaml",
        "tests/processes/crash-loop.yaml",
        "tests/processes/map-process.yaml",
    ]
    .iter()
    .enumerate()
    {
        let out = weft(&["graph", root().join(definition).to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let file = dir.path().join(format!("{i}.mmd"));
        std::fs::write(&file, &out.stdout).unwrap();
        files.push(file);
    }
    // A graph marked with the path of a run (linkStyle, classDef and class lines).
    let store = dir.path().join("store.db");
    let data = "examples/account-opening/applicants/approved.json";
    let args = ["run", "examples/account-opening/process.yaml", "--event", "NewApplication", "--data-file", data];
    assert_eq!(weft_in(&store, &[&args[..], &["--instance-id", "a"]].concat(), &[]).status.code(), Some(0));
    let out = weft_in(&store, &["graph", "--run", "a"], &[]);
    assert!(text(&out.stdout).contains("linkStyle"), "{}", text(&out.stdout));
    let file = dir.path().join("run.mmd");
    std::fs::write(&file, &out.stdout).unwrap();
    files.push(file);
    let broken = dir.path().join("broken.mmd");
    std::fs::write(&broken, "flowchart LR\n  a -- \"x --> \n").unwrap();
    let check = root().join("scripts/mermaid/check.mjs");
    let run = |files: &[std::path::PathBuf]| {
        std::process::Command::new("node").arg(&check).args(files).output().expect("node runs (scripts/install-tools)")
    };
    let out = run(&files);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(text(&out.stdout).matches(": flowchart-v2").count(), files.len(), "{}", text(&out.stdout));
    assert_eq!(run(&[broken]).status.code(), Some(1), "the parser refuses broken text, so it checks something");
}

#[test]
fn validate_warns_of_steps_nothing_reaches_and_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let echo = root().join("tests/steps/echo.wasm");
    let file = dir.path().join("lonely.yaml");
    let yaml = format!(
        "name: lonely\nversion: 1.0.0\nsteps:\n  - id: a\n    component: '{0}'\n  - id: island\n    component: '{0}'\n\
         inputs:\n  - event: Start\n    to: [{{ step: a }}]\n",
        echo.display()
    );
    std::fs::write(&file, &yaml).unwrap();
    let out = weft(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "a warning does not fail validation: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: ") && err.contains("lonely.yaml:6:9: at /steps/1/id: step \"island\" is never reached"),
        "{err}"
    );

    let bad = yaml
        + "edges:\n  - from: { step: nosuch, event: X }\n    to: [{ step: a, function: nope }]\n  - from: { step: a, result: echo }\n    when: '.data +'\n    to: [stop]\n";
    std::fs::write(&file, bad).unwrap();
    let out = weft(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for problem in ["no step has the id \"nosuch\"", "not a valid jq expression"] {
        assert!(err.contains(problem), "every problem is reported; missing {problem:?} in {err}");
    }
}

/// SK's ProcessCloudEventsTests: echo's result goes to the external topic `EchoExternalTopic` (a file
/// sink) and to repeat, whose result goes to `RepeatExternalTopic` (standard output); both carry the
/// instance id. In memory and durable alike.
#[test]
fn external_topics_reach_their_sinks_as_cloudevents() {
    let dir = tempfile::tempdir().unwrap();
    let steps = root().join("tests/steps");
    let yaml = format!(
        "name: topics\nversion: 1.0.0\nsteps:\n  - id: echo\n    component: '{0}/echo.wasm'\n  - id: repeat\n    \
         component: '{0}/repeat.wasm'\n    state: {{ times: 2 }}\ninputs:\n  - event: Start\n    to: [{{ step: echo }}]\n\
         edges:\n  - from: {{ step: echo, result: echo }}\n    to: [{{ topic: EchoExternalTopic }}, {{ step: repeat, parameter: message }}]\n  \
         - from: {{ step: repeat, result: repeat }}\n    to: [{{ topic: RepeatExternalTopic }}]\n\
         sinks:\n  - topic: EchoExternalTopic\n    to: {{ file: echo.jsonl }}\n  - topic: RepeatExternalTopic\n    to: stdout\n",
        steps.display()
    );
    let file = dir.path().join("topics.yaml");
    std::fs::write(&file, yaml).unwrap();
    for (mode, instance) in [("--in-memory", "mem-1"), ("--json", "durable-1")] {
        let store = dir.path().join("store.db");
        let args =
            ["run", file.to_str().unwrap(), "--event", "Start", "--data", "\"Test\"", "--instance-id", instance, mode];
        let out = weft_in(&store, &args, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout: Vec<Value> = text(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|v: &Value| v.get("wefttopic").is_some())
            .collect();
        let echoed: Vec<Value> = std::fs::read_to_string(dir.path().join("echo.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &Value| v["source"].as_str().unwrap().contains(instance))
            .collect();
        let summary = |v: &Value| (v["type"].as_str().unwrap().to_string(), v["data"].clone());
        assert_eq!(echoed.iter().map(summary).collect::<Vec<_>>(), [("EchoExternalTopic".into(), json!("Test"))]);
        assert_eq!(
            stdout.iter().map(summary).collect::<Vec<_>>(),
            [("RepeatExternalTopic".into(), json!("Test Test"))]
        );
        assert_eq!(echoed[0]["source"], format!("/processes/topics/instances/{instance}/steps/echo"));
        assert_eq!(echoed[0]["wefttopic"], "EchoExternalTopic");
    }
    let out = weft(&["validate", file.to_str().unwrap()]);
    assert!(!text(&out.stderr).contains("warning"), "{}", text(&out.stderr));
    let unsunk =
        std::fs::read_to_string(&file).unwrap().replace("  - topic: RepeatExternalTopic\n    to: stdout\n", "");
    std::fs::write(&file, unsunk).unwrap();
    let out = weft(&["validate", file.to_str().unwrap()]);
    assert!(text(&out.stderr).contains("topic \"RepeatExternalTopic\" has no sink"), "{}", text(&out.stderr));
}

/// The bad command lines of the corpus (tests/corpus/cli.tsv: exit code, a text stderr must contain, the
/// arguments): each is refused with its message and exit code, without a panic, in under a second
/// (a run that would start is never reached). `WEFT_CORPUS_PRINT=1` prints what each gives instead.
#[test]
fn bad_command_lines_of_the_corpus_are_refused_with_their_messages() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, format!("\"{}\"", "x".repeat(20 << 20))).unwrap();
    let table = std::fs::read_to_string(root().join("tests/corpus/cli.tsv")).unwrap();
    // A case with a valid definition loads its components before refusing the event: compile them into
    // the shared cache first, so that the time bound measures the refusal, not a cold compile (a Python
    // component takes seconds).
    let warm = weft_in(&dir.path().join("weft.db"), &["validate", "examples/food-delivery/process.yaml"], &[]);
    assert_eq!(warm.status.code(), Some(0), "{}", text(&warm.stderr));
    let print = std::env::var_os("WEFT_CORPUS_PRINT").is_some();
    let mut cases = 0;
    for line in table.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let mut columns = line.split('\t');
        let (code, want) = (columns.next().unwrap(), columns.next().unwrap_or_default());
        let args: Vec<String> = columns.map(|a| a.replace("{big}", &big.to_string_lossy())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let out = weft_in(&dir.path().join("weft.db"), &args, &[]);
        let took = started.elapsed();
        let stderr = text(&out.stderr);
        if print {
            println!("== {:?} {args:?} ({took:?})\n{stderr}", out.status.code());
            continue;
        }
        assert_eq!(out.status.code().map(|c| c.to_string()).as_deref(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {want:?} not in {stderr}");
        assert!(took < std::time::Duration::from_secs(1), "{args:?} took {took:?}");
        cases += 1;
    }
    assert!(print || cases >= 10);
}
