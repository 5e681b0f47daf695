//! What the engine offers a step component: one WIT interface of `weft:step` per capability, each served
//! by its own module and its own part of the store's state, linked by one call each ([`linker`]):
//!
//! | interface | module | granted |
//! |---|---|---|
//! | `events` | [`events`] | always |
//! | `logging` | [`logging`] (and [`output`], the guest's captured stdout/stderr) | always |
//! | `invocation` | [`replay`] | always |
//! | `config` | [`config`] | the values the definition gives the step |
//! | `secrets` | [`secrets`] | the secrets the definition grants the step |
//! | `http` | [`http`] | the origins the definition allows the step |
//!
//! and a WASI context with nothing in it (no files, network or environment; clocks and random numbers
//! fixed per invocation by [`replay`]; stdout and stderr captured by [`output`]) so that a Rust, Python or
//! JS guest can start. What a step may use is its [`Grants`]; what it may spend is its
//! [`sandbox::Limits`].

pub mod config;
pub mod events;
pub mod http;
pub mod logging;
pub mod output;
pub mod replay;
pub mod sandbox;
pub mod secrets;

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// The `weft:step` package version of wit/step.wit, as a literal (so that `concat!` can use it); written
/// once here. A test checks it against the WIT file.
macro_rules! contract_version {
    () => {
        "0.3.0"
    };
}
pub(crate) use contract_version;

/// The `weft:step` package version this engine offers; a component built against another is refused at
/// load ([`crate::load::components`]).
pub const CONTRACT_VERSION: &str = contract_version!();

/// The name of the interface a step component exports, version included.
pub const KERNEL_EXPORT: &str = concat!("weft:step/kernel@", contract_version!());

/// Host bindings generated from `wit/step.wit` (world `weft:step/step`).
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weft:step/step",
        // A guest past its event limits is stopped at once (a flood would otherwise run to its deadline).
        imports: { "weft:step/events.emit": trappable },
    });
}

pub use bindings::weft::step::types::{
    ArgumentError, FunctionInfo, Invocation, Outcome, ParamInfo, StepError, StepInfo, Visibility,
};
pub use events::Emitted;

/// What the definition grants one step (`capabilities:`), resolved at load: nothing by default. Equal
/// grants are the same values (configuration, secrets, HTTP policy), not the same allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Configuration values by name.
    pub config: Arc<config::Config>,
    /// Secrets by name; also what is redacted from the step's output.
    pub secrets: Arc<secrets::Secrets>,
    /// Outbound HTTP, if granted.
    pub http: Option<Arc<http::HttpPolicy>>,
}

/// Per-instance host state, owned by the instance's wasmtime `Store`: one part per capability.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Events emitted during the current invocation, in emission order.
    pub events: events::EventBuffer,
    /// Who is running, for log lines.
    pub log: logging::LogContext,
    /// The guest's stdout and stderr of the current invocation.
    pub output: output::CapturedOutput,
    /// What the guest sees of time, chance and its invocation id.
    pub replay: replay::Replay,
    /// Its configuration values.
    pub config: config::ConfigHost,
    /// Its secrets.
    pub secrets: secrets::SecretsHost,
    /// Its outbound HTTP.
    pub http: http::HttpHost,
    /// The instance's memory cap.
    pub limiter: sandbox::MemoryLimiter,
}

/// Whose store it is: a step of an instance of a process.
#[derive(Debug, Clone, Copy)]
pub struct StoreOwner<'a> {
    /// Process name.
    pub process: &'a str,
    /// Process instance id.
    pub instance: &'a str,
    /// Step id.
    pub step: &'a str,
}

/// A store for one instance of the step `owner` names, under `limits` and `grants`: memory capped, and
/// armed once (instantiation runs guest code); arm it again before each call with
/// [`sandbox::Limits::arm`].
pub fn new_store(
    engine: &wasmtime::Engine,
    owner: StoreOwner<'_>,
    limits: &sandbox::Limits,
    grants: &Grants,
) -> Store<HostState> {
    let replay = replay::Replay::new(owner.instance, owner.step);
    let output = output::CapturedOutput::default();
    // Deliberately empty: no preopened directories, no environment, no sockets, no inherited stdio.
    let wasi = seeded(&mut WasiCtx::builder(), &replay)
        .wall_clock(replay.wall_clock())
        .monotonic_clock(replay.monotonic_clock())
        .stdout(output.stream("stdout"))
        .stderr(output.stream("stderr"))
        .build();
    let state = HostState {
        wasi,
        table: ResourceTable::new(),
        events: events::EventBuffer::new(limits, grants.secrets.clone()),
        log: logging::LogContext::new(owner, grants.secrets.clone()),
        output,
        replay,
        config: config::ConfigHost(grants.config.clone()),
        secrets: secrets::SecretsHost::new(owner.step, grants.secrets.clone()),
        http: http::HttpHost::new(owner.step, grants.http.clone(), limits.invocation_timeout),
        limiter: limits.limiter(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    limits.arm(&mut store);
    store
}

impl HostState {
    /// Prepare for one invocation of kernel function `function`, the run's `invocation`-th (for map item
    /// `item`, if any), in `superstep` at logical time `time_ms`: name it in log lines, fix what it sees of
    /// time and chance ([`replay::Replay::begin`]), and start the clock HTTP requests count their time
    /// against.
    pub fn begin(&mut self, function: &str, time_ms: u64, superstep: u64, invocation: u64, item: Option<usize>) {
        self.log.function.clear();
        self.log.function.push_str(function);
        self.replay.begin(time_ms, superstep, invocation, item);
        self.http.begin();
    }

    /// From the next invocation on, the instance serves step `step` of the same process instance, granted
    /// the same (see [`crate::runner::instances`]): log lines, messages, invocation ids and random numbers
    /// are that step's, as they would be in an instance made for it.
    pub fn hand_to(&mut self, step: &str) {
        self.log.hand_to(step);
        self.replay.hand_to(step);
        self.secrets.hand_to(step);
        self.http.hand_to(step);
        // WASI keeps the insecure seed as a number, not through `replay`: give it the new step's.
        let mut fresh = seeded(&mut WasiCtx::builder(), &self.replay).build();
        std::mem::swap(self.wasi.random(), fresh.random());
    }

    /// Finish an invocation: write what the guest printed to the log.
    pub fn end(&mut self) {
        self.output.flush_to(&self.log);
    }
}

/// `builder` with what a guest draws from `wasi:random` taken from `replay`: both generators and the
/// insecure seed. Every `wasi:random` setting belongs here: [`HostState::hand_to`] replaces the whole
/// random context with one this makes.
fn seeded<'a>(builder: &'a mut WasiCtxBuilder, replay: &replay::Replay) -> &'a mut WasiCtxBuilder {
    builder.secure_random(replay.random()).insecure_random(replay.random()).insecure_random_seed(replay.insecure_seed())
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl bindings::weft::step::types::Host for HostState {}

/// A linker with WASI 0.2 and every Weft capability a step may import, each linked to its own part of
/// [`HostState`].
///
/// Errors: only if two capabilities define the same import (a bug in Weft, not in a guest).
pub fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    use bindings::weft::step;
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    step::types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    step::events::add_to_linker::<HostState, HasSelf<events::EventBuffer>>(&mut linker, |s| &mut s.events)?;
    step::logging::add_to_linker::<HostState, HasSelf<logging::LogContext>>(&mut linker, |s| &mut s.log)?;
    step::invocation::add_to_linker::<HostState, HasSelf<replay::Replay>>(&mut linker, |s| &mut s.replay)?;
    step::config::add_to_linker::<HostState, HasSelf<config::ConfigHost>>(&mut linker, |s| &mut s.config)?;
    step::secrets::add_to_linker::<HostState, HasSelf<secrets::SecretsHost>>(&mut linker, |s| &mut s.secrets)?;
    step::http::add_to_linker::<HostState, HasSelf<http::HttpHost>>(&mut linker, |s| &mut s.http)?;
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use wasmtime_wasi::p2::bindings::random::insecure_seed::Host as _;

    use super::*;

    /// The insecure seed the guest reads through WASI, of a store made for `step` or handed to it.
    fn seed(store: &mut Store<HostState>) -> (u64, u64) {
        store.data_mut().wasi.random().insecure_seed().unwrap_or_default()
    }

    #[test]
    fn a_store_handed_to_another_step_gives_the_guest_that_steps_seed() {
        let engine = wasmtime::Engine::default();
        let (limits, grants) = (sandbox::Limits::default(), Grants::default());
        let owner = |step| StoreOwner { process: "p", instance: "i-1", step };
        let mut handed = new_store(&engine, owner("credit"), &limits, &grants);
        let before = seed(&mut handed);
        handed.data_mut().hand_to("audit");
        let mut made = new_store(&engine, owner("audit"), &limits, &grants);
        assert_eq!(seed(&mut handed), seed(&mut made));
        assert_ne!(seed(&mut handed), before);
    }

    /// What a subscriber wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Written(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_store_handed_to_another_step_names_that_step_in_its_log_lines() {
        let written = Written::default();
        let sink = written.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
        let engine = wasmtime::Engine::default();
        let owner = StoreOwner { process: "p", instance: "i-1", step: "credit" };
        let mut store = new_store(&engine, owner, &sandbox::Limits::default(), &Grants::default());
        tracing::subscriber::with_default(subscriber, || {
            // Callsites another test's subscriber saw first may have cached that nothing listens.
            tracing::callsite::rebuild_interest_cache();
            store.data().log.write(bindings::weft::step::logging::LogLevel::Info, "first");
            store.data_mut().hand_to("audit");
            store.data().log.output("stdout", "second");
        });
        let text = String::from_utf8_lossy(&written.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("step=\"credit\"") && lines[0].contains("first"), "{text}");
        assert!(lines[1].contains("step=\"audit\"") && lines[1].contains("second"), "{text}");
    }

    #[test]
    fn grants_are_equal_when_their_values_are() {
        let grants = |secret: &str, port| Grants {
            config: Arc::default(),
            secrets: Arc::new(secrets::Secrets::new([("key".to_string(), secret.to_string())])),
            http: Some(Arc::new(http::HttpPolicy::new(
                vec![("http".into(), "127.0.0.1".into(), port)],
                std::time::Duration::from_secs(1),
                1024,
            ))),
        };
        assert_eq!(grants("a", 80), grants("a", 80), "the same values in other allocations");
        assert_ne!(grants("a", 80), grants("b", 80), "another secret value");
        assert_ne!(grants("a", 80), grants("a", 81), "another allowed origin");
    }

    #[test]
    fn the_contract_version_is_the_wit_packages() {
        let wit = include_str!("../../../wit/step.wit");
        assert!(wit.contains(&format!("package weft:step@{};", super::CONTRACT_VERSION)));
        assert_eq!(super::KERNEL_EXPORT, format!("weft:step/kernel@{}", super::CONTRACT_VERSION));
    }
}
