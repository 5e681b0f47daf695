//! Helpers for Weft's end-to-end tests: where the built step components are, one shared runtime, and a
//! function that runs a process on input events and returns everything observable about the run.
//!
//! The components are built from `tests/steps/*` by `scripts/build-steps` (which `scripts/test` runs
//! first); a test never builds them itself.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use weft_definitions::DefinitionError;
use weft_engine::data::Json;
use weft_engine::load::{Environment, Process, Runtime, RuntimeConfig};
use weft_engine::runner::{EventRecord, Run, RunState, Status};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `tests/<relative>`.
pub fn tests_dir(relative: &str) -> PathBuf {
    root().join("tests").join(relative)
}

/// The built test component `tests/steps/<name>.wasm`; panics with the fix if it was not built.
pub fn component(name: &str) -> PathBuf {
    let path = tests_dir(&format!("steps/{name}.wasm"));
    assert!(path.is_file(), "{} is missing: run scripts/build-steps first", path.display());
    path
}

/// One runtime for all tests of a binary, caching compiled code under `target/weft-test-cache`. Its
/// environment (for definitions' `{ env: NAME }`) is [`test_environment`], not the process's.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let cache_dir = Some(root().join("target").join("weft-test-cache"));
        let environment = test_environment();
        Runtime::new(RuntimeConfig { cache_dir, environment, ..RuntimeConfig::default() })
            .expect("the wasmtime engine starts")
    })
}

/// The variables tests' definitions read: the credit bureau's test key as `CREDIT_BUREAU_KEY`, and
/// `WEFT_TEST_REGION=eu-west`.
pub fn test_environment() -> Environment {
    let vars = [(credit_bureau::KEY_VARIABLE, credit_bureau::TEST_KEY), ("WEFT_TEST_REGION", "eu-west")];
    Environment::Fixed(Arc::new(vars.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
}

/// Load `tests/processes/<name>.yaml`; panics with the diagnostics if it does not load.
pub fn process(name: &str) -> Arc<Process> {
    let path = tests_dir(&format!("processes/{name}.yaml"));
    Arc::new(runtime().load_process(&path).unwrap_or_else(|e| panic!("{} does not load:\n{e}", path.display())))
}

/// Write `yaml` (with `{steps}` standing for the absolute `tests/steps` folder) to a temporary file and
/// load it. The file's folder is returned too so that it lives as long as the test needs it.
pub fn load_yaml(yaml: &str) -> (Result<Arc<Process>, DefinitionError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("process.yaml");
    let steps = tests_dir("steps");
    std::fs::write(&path, yaml.replace("{steps}", &steps.to_string_lossy())).expect("write the definition");
    (runtime().load_process(&path).map(Arc::new), dir)
}

/// Everything observable about a finished run.
pub struct Observed {
    /// How it ended.
    pub status: Status,
    /// Its public events, in order.
    pub events: Vec<EventRecord>,
    /// Its final state.
    pub state: RunState,
    /// Step instances it created.
    pub instances_created: u64,
}

impl Observed {
    /// The public events' types, in order.
    pub fn event_types(&self) -> Vec<String> {
        self.events.iter().map(|e| e.event_type.clone()).collect()
    }

    /// The public events as `(type, data)`.
    pub fn events(&self) -> Vec<(String, Value)> {
        self.events.iter().map(|e| (e.event_type.clone(), e.data.to_value())).collect()
    }

    /// The state snapshot of step `index` as a value (`Null` when it has none).
    pub fn step_state(&self, index: usize) -> Value {
        self.state.step_states[index].as_ref().map_or(Value::Null, Json::to_value)
    }
}

/// The logical time test runs start at: 2026-11-22T00:00:00Z, in ms since the Unix epoch.
pub const TEST_TIME_MS: u64 = 1_795_305_600_000;

/// Run `process` on `inputs` (event type and data, sent in order before the first superstep), with its
/// logical time fixed at [`TEST_TIME_MS`].
pub fn run(process: &Arc<Process>, inputs: &[(&str, Value)]) -> Observed {
    let mut run = Run::starting_at(process.clone(), "test", TEST_TIME_MS);
    for (event, data) in inputs {
        run.send(event, Json::from_value(data).expect("test data is shallow")).expect("a declared input event");
    }
    let mut events = Vec::new();
    let status = run.run_to_end(&mut events).clone();
    Observed { status, events, state: run.state().clone(), instances_created: run.instances_created() }
}

/// Run `examples/<example>/process.yaml` on input event `event` with the JSON data in
/// `examples/<example>/<file>`; panics unless the run completes.
pub fn run_example(example: &str, event: &str, file: &str) -> Observed {
    if example == "account-opening" {
        credit_bureau::for_tests();
    }
    let dir = root().join("examples").join(example);
    let process = Arc::new(runtime().load_process(&dir.join("process.yaml")).unwrap_or_else(|e| panic!("{e}")));
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let data: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let observed = run(&process, &[(event, data)]);
    assert_eq!(observed.status, Status::Completed, "{example} on {file}");
    observed
}
