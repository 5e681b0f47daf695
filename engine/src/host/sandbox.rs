//! Containment of a step: each invocation (and each `describe`) runs under a deadline and each instance
//! under a memory limit, so a guest that loops or allocates without end fails its own invocation instead
//! of hanging or exhausting the host.
//!
//! Time uses wasmtime's epoch interruption: a ticker thread advances the engine's epoch every [`TICK`], and
//! a store's deadline is a number of ticks, so the cost in generated code is one counter check per loop
//! back-edge and function entry, with no signal handling.

use std::time::Duration;

use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};

/// How often the epoch advances: the granularity of invocation deadlines.
pub const TICK: Duration = Duration::from_millis(10);

/// Limits applied to every step instance.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest an invocation may run (wall-clock, rounded up to [`TICK`]). Default 30 s.
    pub invocation_timeout: Duration,
    /// Most linear memory one instance may hold, in bytes. Default 1 GiB.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { invocation_timeout: Duration::from_secs(30), memory_bytes: 1 << 30 }
    }
}

impl Limits {
    /// The store limiter for one instance: memory capped, and growth past the cap traps.
    pub fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new().memory_size(self.memory_bytes).trap_on_grow_failure(true).build()
    }

    /// Arm `store` for one call: the call traps with [`Trap::Interrupt`] after the invocation timeout.
    pub fn arm<T>(&self, store: &mut Store<T>) {
        let ticks = self.invocation_timeout.as_nanos().div_ceil(TICK.as_nanos()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    }
}

/// Start the thread that advances `engine`'s epoch every [`TICK`]; it ends when the engine is dropped.
pub fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("weft-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(TICK);
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch thread, so invocation deadlines will fire at once: {e}");
    }
}

/// The failure kind of a trap: `timeout` for a deadline, `memory-limit` for a refused memory growth,
/// else `trap`.
pub fn trap_kind(error: &wasmtime::Error) -> &'static str {
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        "timeout"
    } else if format!("{error:#}").contains("forcing trap when growing memory") {
        "memory-limit"
    } else {
        "trap"
    }
}
