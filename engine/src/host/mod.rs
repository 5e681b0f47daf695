//! What the engine offers a step component: the `weft:step/context` imports, one module per capability
//! ([`events`], [`logging`]), and a WASI context with nothing in it (no files, network, environment or clock
//! beyond what WASI requires) so that a Rust, Python or JS guest can start.

pub mod events;
pub mod logging;
pub mod sandbox;

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Host bindings generated from `wit/step.wit` (world `weft:step/step`).
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weft:step/step",
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
    limits: wasmtime::StoreLimits,
}

/// A store for one instance of step `step_id` of process `process`, under `limits`: memory capped, and
/// armed once (instantiation runs guest code); arm it again before each call with [`sandbox::Limits::arm`].
pub fn new_store(
    engine: &wasmtime::Engine,
    process: &str,
    step_id: &str,
    limits: &sandbox::Limits,
) -> Store<HostState> {
    let state = HostState {
        // Deliberately empty: no preopened directories, no environment, no sockets, no inherited stdio.
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        events: events::EventBuffer::default(),
        log: logging::LogContext::new(process, step_id),
        limits: limits.store_limits(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
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
    fn emit(&mut self, event_type: String, data: String, visibility: Visibility) {
        self.events.push(event_type, data, visibility);
    }

    fn log(&mut self, level: bindings::weft::step::context::LogLevel, message: String) {
        self.log.write(level, &message);
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
