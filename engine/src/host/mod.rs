//! What the engine offers a step component: the `weft:step/context` imports, one module per capability
//! ([`events`], [`logging`], [`replay`] for the invocation id), and a WASI context with nothing in it (no
//! files, network or environment; clocks and random numbers fixed per invocation by [`replay`]) so that a
//! Rust, Python or JS guest can start.

pub mod events;
pub mod logging;
pub mod replay;
pub mod sandbox;

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Host bindings generated from `wit/step.wit` (world `weft:step/step`).
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weft:step/step",
        // A guest past its event limits is stopped at once (a flood would otherwise run to its deadline).
        imports: { "weft:step/context.emit": trappable },
    });
}

pub use bindings::weft::step::types::{
    ArgumentError, FunctionInfo, Invocation, Outcome, ParamInfo, StepError, StepInfo, Visibility,
};
pub use events::Emitted;

/// Per-instance host state, owned by the instance's wasmtime `Store`.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Events emitted during the current invocation, in emission order.
    pub events: events::EventBuffer,
    /// Who is running, for log lines.
    pub log: logging::LogContext,
    /// What the guest sees of time, chance and its invocation id.
    pub replay: replay::Replay,
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

/// A store for one instance of the step `owner` names, under `limits`: memory capped, and armed once
/// (instantiation runs guest code); arm it again before each call with [`sandbox::Limits::arm`].
pub fn new_store(engine: &wasmtime::Engine, owner: StoreOwner<'_>, limits: &sandbox::Limits) -> Store<HostState> {
    let replay = replay::Replay::new(owner.instance, owner.step);
    // Deliberately empty: no preopened directories, no environment, no sockets, no inherited stdio.
    let wasi = WasiCtx::builder()
        .wall_clock(replay.wall_clock())
        .monotonic_clock(replay.monotonic_clock())
        .secure_random(replay.random())
        .insecure_random(replay.random())
        .insecure_random_seed(replay.insecure_seed())
        .build();
    let state = HostState {
        wasi,
        table: ResourceTable::new(),
        events: events::EventBuffer::new(limits),
        log: logging::LogContext::new(owner.process, owner.step),
        replay,
        limiter: limits.limiter(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    limits.arm(&mut store);
    store
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl bindings::weft::step::types::Host for HostState {}

impl bindings::weft::step::context::Host for HostState {
    fn emit(&mut self, event_type: String, data: String, visibility: Visibility) -> wasmtime::Result<()> {
        self.events.push(event_type, data, visibility)
    }

    fn log(&mut self, level: bindings::weft::step::context::LogLevel, message: String) {
        self.log.write(level, &message);
    }

    fn invocation_id(&mut self) -> String {
        self.replay.invocation_id()
    }
}

/// A linker with WASI 0.2 and every Weft capability a step may import.
///
/// Errors: only if two capabilities define the same import (a bug in Weft, not in a guest).
pub fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    bindings::Step::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    Ok(linker)
}
