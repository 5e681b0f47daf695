//! docs/authoring.md followed verbatim, as a user outside the repository would: every ```sh block run in
//! order in an empty temporary folder, every ```yaml file=NAME block written to NAME, with the built
//! `weft` on PATH and WEFT_HOME naming this checkout. Steps are scaffolded, built, unit-tested with
//! pytest, `node --test` and `cargo test`, invoked in the sandbox and run in processes (with the shared
//! example component, and all three in one). Then what `weft build` says of a broken step and of a folder
//! that is no step, and that the SDK packages carry the WIT the engine offers.

use std::path::Path;
use std::process::{Command, Output};

use crate::{cloudevents, root, text};

/// A block of the document: commands to run, or a file to write.
enum Block {
    Commands(String),
    File(String, String),
}

/// The ```sh and ```yaml file=NAME blocks of `markdown`, in order.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else { continue };
        let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        let body = body.join("\n") + "\n";
        let mut words = info.split_whitespace();
        match (words.next(), words.next().and_then(|w| w.strip_prefix("file="))) {
            (Some("sh"), _) => blocks.push(Block::Commands(body)),
            (_, Some(name)) => blocks.push(Block::File(name.to_string(), body)),
            _ => {}
        }
    }
    blocks
}

/// `bash` running `script` in `dir` as the tutorial's reader: the built weft first on PATH, WEFT_HOME
/// this checkout, no Python or Node environment of the repository's.
fn shell(dir: &Path, script: &str) -> Command {
    let weft_dir = Path::new(env!("CARGO_BIN_EXE_weft")).parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(weft_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("WEFT_HOME", root())
        .env("WEFT_CACHE_DIR", root().join("target/weft-test-cache"))
        // The tutorial's Rust step is a project of its own: its own target folder (kept, so that a second
        // run is quick), not the one `cargo test` holds locked.
        .env("CARGO_TARGET_DIR", root().join("target/authoring"))
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env_remove("VIRTUAL_ENV")
        .env_remove("NODE_PATH")
        .env_remove("RUST_LOG");
    command
}

fn run(dir: &Path, script: &str) -> Output {
    let out = shell(dir, script).output().expect("bash runs");
    assert!(
        out.status.success(),
        "this part of docs/authoring.md failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn types(out: &Output) -> Vec<String> {
    cloudevents(&out.stdout).iter().map(|e| e["type"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn the_authoring_guide_works_as_written_for_three_languages() {
    let doc = std::fs::read_to_string(root().join("docs/authoring.md")).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    let mut outputs: Vec<(String, Output)> = Vec::new();
    for block in blocks(&doc) {
        match block {
            Block::Commands(script) => {
                let out = run(dir, &script);
                outputs.push((script, out));
            }
            Block::File(name, body) => std::fs::write(dir.join(name), body).unwrap(),
        }
    }
    let output_of = |command: &str| -> &Output {
        &outputs
            .iter()
            .find(|(script, _)| script.contains(command))
            .unwrap_or_else(|| panic!("no block runs {command}"))
            .1
    };

    // Each language's process ran its new step: a public Greeted.
    for run in ["weft run hello.yaml", "weft run hello-js.yaml", "weft run hello-rs.yaml"] {
        assert_eq!(types(output_of(run)), ["Greeted"], "{run}");
    }
    // The invocation in the sandbox went on from the state given.
    let invoked = text(&output_of("--state '{\"greeted\": 41}'").stdout);
    assert!(invoked.contains("state {\"greeted\":42}"), "{invoked}");
    assert!(invoked.contains("event Greeted (public)"), "{invoked}");
    // The unit tests ran with each language's own runner and passed.
    assert!(text(&output_of(".venv/bin/pytest").stdout).contains("1 passed"));
    assert!(text(&output_of("npm test").stdout).contains("# pass 1"));
    // The shared component sent the notice the Python step made.
    let welcome = output_of("weft run welcome.yaml");
    assert_eq!(types(welcome), ["Greeted", "NotificationSent"]);
    let sent = &cloudevents(&welcome.stdout)[1];
    assert_eq!(sent["data"]["body"], "Dear Ada, welcome, you are greeting number 1.", "{sent}");
    // Three languages in one process, then the shared step.
    assert_eq!(types(output_of("weft run mixed.yaml")), ["Greeted", "Greeted", "Greeted", "NotificationSent"]);

    broken_steps(dir);
}

/// `weft build` of a broken step: the compiler's first error and status 1; of a folder that is no step:
/// a message saying so and status 2; of a Python step without its environment: what to install.
fn broken_steps(dir: &Path) {
    let build = |what: &str| shell(dir, &format!("weft build {what}")).output().unwrap();

    std::fs::write(dir.join("greeter/app.py"), "def broken(:\n").unwrap();
    let out = build("greeter");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("SyntaxError") && said.contains("app.py"), "{said}");
    assert!(!said.contains("Stack backtrace"), "componentize-py's own stack is left out: {said}");

    let lib = dir.join("hello/src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, code.replace("self.greeted += 1;", "self.greeted += \"one\"; let _: u8 = \"two\";")).unwrap();
    let out = build("hello");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("error[E") && said.contains("src/lib.rs"), "{said}");
    assert!(said.contains("and 1 more errors"), "only the first error is given in full: {said}");

    std::fs::write(dir.join("welcomer/app.js"), "export const kernel = {;\n").unwrap();
    let out = build("welcomer");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("app.js"), "{}", text(&out.stderr));

    std::fs::create_dir(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/todo.txt"), "nothing to build").unwrap();
    let out = build("notes");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a step (no Cargo.toml, app.py or app.js)"), "{}", text(&out.stderr));

    let out = shell(dir, "weft new step lonely --lang python && weft build lonely").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no Python environment for this step"), "{}", text(&out.stderr));
}

/// The SDK packages carry the WIT the engine offers, byte for byte.
#[test]
fn every_sdk_package_carries_the_engines_wit() {
    let wit = std::fs::read_to_string(root().join("wit/step.wit")).unwrap();
    for copy in ["step-sdk/rust/wit/step.wit", "step-sdk/python/weft_step/wit/step.wit", "step-sdk/js/wit/step.wit"] {
        let text = std::fs::read_to_string(root().join(copy)).unwrap();
        assert!(text == wit, "{copy} differs from wit/step.wit: copy wit/step.wit over it");
    }
}

/// `npm pack` of the JavaScript SDK gives a tarball that installs, and a step built on the installed copy
/// (not a link to the repository) runs.
#[test]
fn the_javascript_sdk_tarball_installs_and_builds() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    let sdk = root().join("step-sdk/js");
    let script = format!(
        "npm pack --silent --pack-destination . {sdk} && weft new step packed --lang javascript && \
         (cd packed && npm install --no-audit --no-fund --loglevel=error ../weft-step-*.tgz) && \
         weft build packed && weft invoke packed.wasm --function greet --args '{{\"customer\": {{\"name\": \"Ada\"}}}}'",
        sdk = sdk.display()
    );
    let out = run(dir, &script);
    assert!(text(&out.stdout).contains("result \"Hello, Ada!\""), "{}", text(&out.stdout));
    let installed = dir.join("packed/node_modules/weft-step");
    assert!(!installed.symlink_metadata().unwrap().file_type().is_symlink(), "installed as a copy");
    assert!(installed.join("wit/step.wit").is_file());
}

/// A step declares the events it emits (weft:step 0.3.0): `weft describe` lists them, and `weft validate`
/// warns about an edge on an event its step does not declare (a typo here), naming the ones it does.
#[test]
fn edges_on_events_a_step_never_declares_are_warned_about() {
    let notify = root().join("examples/shared/steps/notify.wasm");
    let described = crate::weft(&["describe", &notify.to_string_lossy()]);
    let description: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
    assert_eq!(description["events"], serde_json::json!([{ "name": "NotificationSent" }]));

    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: typo\nversion: 1.0.0\nsteps:\n  - id: notify\n    component: '{n}'\n  - id: again\n    component: '{n}'\n\
         inputs:\n  - event: Start\n    to: [{{ step: notify }}]\nedges:\n  - from: {{ step: notify, event: NotificationSnet }}\n    to: [{{ step: again }}]\n\
         \x20 - from: {{ step: notify, event: NotificationSent }}\n    to: [{{ step: again }}]\n",
        n = notify.display()
    );
    let file = crate::definition(dir.path(), "typo", &yaml);
    let out = crate::weft(&["validate", &file]);
    assert!(out.status.success(), "a warning, not an error: {}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("typo.yaml:12:")
            && said.contains("at /edges/0/from/event: step \"notify\" never declares the event \"NotificationSnet\""),
        "{said}"
    );
    assert!(said.contains("it declares: NotificationSent"), "{said}");
    assert_eq!(said.matches("never declares").count(), 1, "the declared event is not warned about: {said}");

    // The examples' steps declare every event their definitions route.
    for example in ["account-opening", "food-delivery", "support-ticket"] {
        let file = root().join("examples").join(example).join("process.yaml");
        let out = crate::weft(&["validate", &file.to_string_lossy()]);
        assert!(out.status.success() && !text(&out.stderr).contains("warning"), "{example}: {}", text(&out.stderr));
    }
}

/// `weft invoke --json` prints the call's result, state, events and log lines as one JSON object, and a
/// failure as its kind and message with exit code 1; `--config NAME=VALUE` reaches the step's
/// configuration (the payer step reads `url` from it, then finds it may make no HTTP request).
#[test]
fn weft_invoke_prints_json_and_passes_configuration() {
    let steps = root().join("tests/steps");
    let counter = steps.join("counter.wasm");
    let args = ["invoke", &counter.to_string_lossy(), "--function", "tick", "--state", r#"{"count": 4, "limit": 5}"#];
    let out = crate::weft(&[&args[..], &["--json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).expect("one JSON object");
    assert_eq!(printed["result"], 5, "{printed}");
    assert_eq!(printed["state"]["count"], 5, "{printed}");
    assert_eq!(printed["events"][0]["type"], "Done", "{printed}");
    assert_eq!(printed["events"][0]["data"], 5, "{printed}");

    let payer = steps.join("payer.wasm");
    let pay = ["invoke", &payer.to_string_lossy(), "--function", "pay", "--args", r#"{"order": {"id": 1}}"#, "--json"];
    let unconfigured = crate::weft(&pay);
    assert_eq!(unconfigured.status.code(), Some(1), "{}", text(&unconfigured.stderr));
    let failed: serde_json::Value = serde_json::from_str(text(&unconfigured.stdout).trim()).expect("one JSON object");
    assert!(failed["message"].as_str().unwrap_or_default().contains("no `url` in the step's config"), "{failed}");
    assert!(failed["kind"].is_string(), "{failed}");
    let configured = crate::weft(&[&pay[..], &["--config", "url=http://127.0.0.1:9/pay"]].concat());
    assert_eq!(configured.status.code(), Some(1), "{}", text(&configured.stderr));
    let failed: serde_json::Value = serde_json::from_str(text(&configured.stdout).trim()).expect("one JSON object");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(message.contains("HTTP request not allowed"), "past the config, at the request: {failed}");
}
