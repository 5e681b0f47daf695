//! The engine's overhead per step hop, against the floor of a bare component call, and what one call and
//! one instantiation cost per guest language.
//!
//! - `floor/invoke`: one `invoke` of the counter component straight through wasmtime (instance reused):
//!   what any host pays for a call with this world's arguments.
//! - `hop/cycle`: a run of one counter step looping N times (`Again` → itself): per element, one full hop
//!   (queue, invoke, state snapshot, routing) with the instance reused.
//! - `hop/chain`: a chain of N echo steps sharing one component: per element, one hop plus instantiating
//!   that step (each step gets its own instance).
//! - `language/invoke/<lang>` and `language/instantiate/<lang>`: the echo step in Rust, Python and
//!   JavaScript (tests/steps/{echo,py-echo,js-echo}.wasm): one call with the instance reused, and one
//!   instantiation from the pre-linked component.
//!
//! - `durable/cycle/<mode>`: the `hop/cycle` run made durable: per element, one superstep committed to an
//!   SQLite store in a temporary file (checkpoint, history and outbox in one transaction), with
//!   `synchronous=FULL` (`full`, the default) or `NORMAL` (`normal`).
//!
//! - `durable/open/<lang>`: opening an ended instance of one echo step in Rust or Python: its lease taken
//!   and let go, its pinned process loaded.
//!
//! - `definition/parse/<n>`: the YAML text of the `hop/chain` definition read into JSON (per element, one
//!   step and one edge of text), before the schema and the checks.
//!
//! Engine overhead per hop ≈ `hop/cycle` per element − `floor/invoke`. Needs scripts/build-steps.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weft_engine::data::Json;
use weft_engine::durable::Driver;
use weft_engine::host::sandbox::Limits;
use weft_engine::host::{self, Invocation};
use weft_engine::load::{Process, Runtime, RuntimeConfig, StepComponent};
use weft_engine::runner::{FixedClock, Run};
use weft_engine::sinks::Discard;
use weft_engine::store::sqlite::{Durability, SqliteStore};

fn steps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/steps").canonicalize().expect("run scripts/build-steps first")
}

fn load(runtime: &Runtime, dir: &Path, name: &str, yaml: String) -> Arc<Process> {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    Arc::new(runtime.load_process(&file).unwrap_or_else(|e| panic!("{e}")))
}

fn cycle_yaml(steps: &Path, rounds: u64) -> String {
    format!(
        "name: cycle\nversion: '1'\nsteps:\n  - id: counter\n    component: '{}/counter.wasm'\n    state: {{ count: 0, limit: {rounds} }}\n\
         inputs:\n  - event: Start\n    to: [{{ step: counter }}]\nedges:\n  - from: {{ step: counter, event: Again }}\n    to: [{{ step: counter }}]\n\
         limits: {{ maxSupersteps: {} }}\n",
        steps.display(),
        rounds + 1
    )
}

fn chain(steps: &Path, length: usize) -> String {
    let mut yaml = String::from("name: chain\nversion: '1'\nsteps:\n");
    for i in 0..length {
        yaml += &format!("  - id: s{i}\n    component: '{}/echo.wasm'\n", steps.display());
    }
    yaml += "inputs:\n  - event: Start\n    to: [{ step: s0 }]\nedges:\n";
    for i in 1..length {
        yaml += &format!("  - from: {{ step: s{}, result: echo }}\n    to: [{{ step: s{i} }}]\n", i - 1);
    }
    yaml
}

/// Call `function` of `component` with `call` repeatedly on one instance.
fn bench_invoke(
    c: &mut Criterion,
    group: &str,
    name: &str,
    runtime: &Runtime,
    component: &StepComponent,
    call: &Invocation,
) {
    let limits = Limits::default();
    let owner = host::StoreOwner { process: "bench", instance: "bench", step: name };
    let mut store = host::new_store(runtime.engine(), owner, &limits, &host::Grants::default());
    let instance = component.pre.instantiate(&mut store).unwrap();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    g.bench_function(name, |b| {
        b.iter(|| {
            limits.arm(&mut store);
            let outcome = instance.weft_step_kernel().call_invoke(&mut store, call).unwrap();
            store.data_mut().events.take().unwrap();
            outcome
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let steps = steps_dir();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();

    let rounds = 1000u64;
    let cycle = load(&runtime, dir.path(), "cycle", cycle_yaml(&steps, rounds));
    let length = 100usize;
    let chain_text = chain(&steps, length);
    let chain = load(&runtime, dir.path(), "chain", chain_text.clone());

    let tick = Invocation {
        function: "tick".into(),
        args: vec![],
        state: Some(r#"{"count":0,"limit":1000000000}"#.into()),
        state_version: 1,
    };
    bench_invoke(c, "floor", "invoke", &runtime, cycle.steps[0].component().expect("a component step"), &tick);

    let mut hop = c.benchmark_group("hop");
    hop.throughput(Throughput::Elements(rounds));
    hop.bench_function(format!("cycle/{rounds}"), |b| {
        b.iter(|| {
            let mut run = Run::new(cycle.clone(), "bench");
            run.send("Start", Json::null()).unwrap();
            run.run_to_end(&mut Discard).clone()
        })
    });
    hop.throughput(Throughput::Elements(length as u64));
    hop.bench_function(format!("chain/{length}"), |b| {
        b.iter(|| {
            let mut run = Run::new(chain.clone(), "bench");
            run.send("Start", Json::parse("\"payload\"".into()).unwrap()).unwrap();
            run.run_to_end(&mut Discard).clone()
        })
    });
    hop.finish();

    // Reading the chain's definition text alone (YAML to JSON, before the schema and the checks).
    let mut definition = c.benchmark_group("definition");
    definition.throughput(Throughput::Elements(length as u64));
    definition.bench_function(format!("parse/{length}"), |b| {
        b.iter(|| weft_definitions::source::parse_yaml(&chain_text).expect("the chain parses"))
    });
    definition.finish();

    let durable_rounds = 200u64;
    let durable_cycle = load(&runtime, dir.path(), "durable", cycle_yaml(&steps, durable_rounds));
    let mut durable = c.benchmark_group("durable");
    durable.throughput(Throughput::Elements(durable_rounds));
    durable.sample_size(10);
    for (mode, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let store = Arc::new(SqliteStore::open(&dir.path().join(format!("{mode}.db")), durability).unwrap());
        let clock = FixedClock(1_795_305_600_000);
        let driver = Driver::new(store, &runtime, &clock);
        let file = dir.path().join("durable.yaml");
        let mut n = 0u64;
        durable.bench_function(format!("cycle/{mode}"), |b| {
            b.iter(|| {
                n += 1;
                let mut held = driver
                    .start(durable_cycle.clone(), &file, &format!("bench-{n}"), "Start", Json::null(), None)
                    .unwrap();
                let mut relay = driver.relay(&held, std::io::sink());
                driver.drive(&mut held, &mut relay).unwrap();
                driver.finish(&held, relay).unwrap();
                held
            })
        });
    }
    durable.finish();

    // Opening an ended instance of one echo step (Rust; Python, whose component is ~19 MB): take its
    // lease, load its pinned process, let go.
    let mut open = c.benchmark_group("durable/open");
    open.sample_size(10);
    let store = Arc::new(SqliteStore::open(&dir.path().join("open.db"), Durability::Full).unwrap());
    let clock = FixedClock(1_795_305_600_000);
    let driver = Driver::new(store, &runtime, &clock);
    for (lang, file) in [("rust", "echo.wasm"), ("python", "py-echo.wasm")] {
        let yaml = format!(
            "name: open-{lang}\nversion: '1'\nsteps:\n  - id: echo\n    component: '{}/{file}'\n\
             inputs:\n  - event: Start\n    to: [{{ step: echo }}]\n",
            steps.display()
        );
        let process = load(&runtime, dir.path(), &format!("open-{lang}"), yaml);
        let file = dir.path().join(format!("open-{lang}.yaml"));
        let data = Json::parse("\"hi\"".to_owned()).unwrap();
        let mut held = driver.start(process, &file, lang, "Start", data, None).unwrap();
        let mut relay = driver.relay(&held, std::io::sink());
        driver.drive(&mut held, &mut relay).unwrap();
        driver.finish(&held, relay).unwrap();
        drop(held);
        open.bench_function(lang, |b| b.iter(|| driver.open_any(lang).unwrap()));
    }
    open.finish();

    let echo = Invocation {
        function: "echo".into(),
        args: vec![("message".into(), "\"payload\"".into())],
        state: None,
        state_version: 1,
    };
    for (lang, file) in [("rust", "echo.wasm"), ("python", "py-echo.wasm"), ("javascript", "js-echo.wasm")] {
        let component = runtime.component_at(&steps.join(file)).unwrap();
        bench_invoke(c, "language/invoke", lang, &runtime, &component, &echo);
        let limits = Limits::default();
        let mut g = c.benchmark_group("language/instantiate");
        g.bench_function(lang, |b| {
            b.iter(|| {
                let owner = host::StoreOwner { process: "bench", instance: "bench", step: lang };
                let mut store = host::new_store(runtime.engine(), owner, &limits, &host::Grants::default());
                component.pre.instantiate(&mut store).unwrap();
                store
            })
        });
        g.finish();
    }
}

criterion_group!(name = step_hop; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(step_hop);
