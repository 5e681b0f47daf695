//! Containment of a step: each invocation (and each `describe`) runs under a deadline and each instance
//! under a memory limit, so a guest that loops or allocates without end fails its own invocation instead
//! of hanging or exhausting the host.
//!
//! Time uses wasmtime's epoch interruption: a ticker thread advances the engine's epoch every [`TICK`], and
//! a store's deadline is a number of ticks, so the cost in generated code is one counter check per loop
//! back-edge and function entry, with no signal handling.

use std::time::Duration;

use wasmtime::{Engine, PoolingAllocationConfig, ResourceLimiter, Store, Trap};
use weft_definitions::limits::human;
use weft_definitions::{Size, StepLimits};

use crate::runner::failure::ErrorKind;

/// How often the epoch advances: the granularity of invocation deadlines.
pub const TICK: Duration = Duration::from_millis(10);

/// Step component instances one runtime holds room for at once in its pool (a run keeps at most one per
/// step it has used lately, see [`crate::runner::instances::IDLE_SUPERSTEPS`], and under `weft run`,
/// `send` and `resume` one per component made ahead of need and not yet taken, see
/// [`crate::runner::warm`]). Instantiating into a pooled slot
/// reuses memory mapped once, instead of mapping and unmapping fresh memory for every instance
/// (wasmtime's pooling allocator, `PoolingAllocationConfig`).
pub const POOLED_COMPONENT_INSTANCES: u32 = 1_000;

/// The pooling allocator's settings: [`POOLED_COMPONENT_INSTANCES`] components, each with room for the
/// several core instances, memories and tables that a Python or JavaScript component holds (a
/// componentize-py component has about ten core instances); tables of up to 100,000 elements. Memory
/// slots are reserved as address space only; what a guest touches is returned to the system when the
/// instance is dropped. Memory size is capped by [`MemoryLimiter`], not by the pool.
///
/// Nothing is kept resident between instances (`linear_memory_keep_resident`): with Linux's
/// `PAGEMAP_SCAN` it would save a chain of Rust steps ~7 page faults per step (200 steps 15.8 → 11.5 ms of
/// CPU), but wasmtime 48's scan resets only pages that are present, so a page the guest wrote and the
/// system swapped out would reach the next instance in the slot, another step's (wasmtime pull request
/// 14357, open); without the scan, the fixed range it resets misses a Rust guest's stack and heap.
///
/// A table's first page is kept (`table_keep_resident`, 4 KiB, 512 function references): a dropped
/// instance's table page is zeroed in place instead of handed back with `madvise`, which spares each
/// instance two system calls (each a TLB flush) and two page faults when the slot is next used (a Rust
/// component has two tables of less than a page; 500-step chain 29.5 -> 27.5 ms). Zeroing writes every
/// byte of the page whether it is resident or not, so nothing of one instance's table reaches the next.
/// Pooled table slots that were used keep that page: at most 8 MiB with every slot used.
///
/// No execution stacks: the pool's stacks are for asynchronous calls, which Weft never makes
/// (`concurrency_support(false)`), and one per instance cost every `weft` command ~1,000 mappings with
/// guard pages at start-up (~2.7 ms of a 1-step `weft run`, `scripts/bench-run start`).
pub fn pooling() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOLED_COMPONENT_INSTANCES)
        .total_core_instances(POOLED_COMPONENT_INSTANCES * 10)
        .total_memories(POOLED_COMPONENT_INSTANCES * 2)
        .total_tables(POOLED_COMPONENT_INSTANCES * 2)
        .total_stacks(0)
        .max_tables_per_module(4)
        .max_memories_per_module(2)
        .table_elements(100_000)
        .table_keep_resident(4096);
    pool
}

/// What one invocation of a step may use: the engine's defaults, each overridable per step in the
/// definition (`limits:`, docs/semantics.md, "Limits"). Hitting one fails the invocation with a message
/// naming the limit and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest an invocation may run (wall-clock, rounded up to [`TICK`]). Default 30 s.
    pub invocation_timeout: Duration,
    /// Most linear memory one instance may hold, in bytes. Default 1 GiB.
    pub memory_bytes: usize,
    /// Most events one invocation may emit. Default 10,000.
    pub max_events: usize,
    /// Largest data of one event (the result included), in bytes of JSON text. Default 16 MiB.
    pub max_event_bytes: usize,
    /// Largest state snapshot, in bytes of JSON text. Default 16 MiB.
    pub max_state_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            invocation_timeout: Duration::from_secs(30),
            memory_bytes: 1 << 30,
            max_events: 10_000,
            max_event_bytes: 16 << 20,
            max_state_bytes: 16 << 20,
        }
    }
}

impl Limits {
    /// These limits with a step's overrides from its definition (values the definition checks passed).
    pub fn with(&self, step: &StepLimits) -> Limits {
        let bytes = |size: &Option<Size>, default: usize| {
            size.as_ref().and_then(Size::bytes).and_then(|b| usize::try_from(b).ok()).unwrap_or(default)
        };
        Limits {
            invocation_timeout: step
                .timeout
                .as_ref()
                .and_then(|t| t.millis())
                .map_or(self.invocation_timeout, Duration::from_millis),
            memory_bytes: bytes(&step.memory, self.memory_bytes),
            max_events: step.max_events.map_or(self.max_events, |n| n as usize),
            max_event_bytes: bytes(&step.max_event_size, self.max_event_bytes),
            max_state_bytes: bytes(&step.max_state_size, self.max_state_bytes),
        }
    }

    /// The message of an invocation stopped at its time limit.
    pub fn timeout_message(&self) -> String {
        format!("the invocation ran past its time limit of {} (limits.timeout)", duration_text(self.invocation_timeout))
    }

    /// The message of an instance stopped at its memory limit.
    pub fn memory_message(&self) -> String {
        memory_message(self.memory_bytes)
    }

    /// The resource limiter for one instance: memory capped, and growth past the cap traps.
    pub fn limiter(&self) -> MemoryLimiter {
        MemoryLimiter { memory_bytes: self.memory_bytes, hit: false }
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

/// Caps one instance's linear memory; a growth past the cap traps the guest and is remembered, so that the
/// failure is reported as [`ErrorKind::MemoryLimit`] without reading wasmtime's message.
#[derive(Debug)]
pub struct MemoryLimiter {
    memory_bytes: usize,
    hit: bool,
}

impl MemoryLimiter {
    /// Whether a growth was refused since the last call; resets the flag.
    pub fn take_hit(&mut self) -> bool {
        std::mem::take(&mut self.hit)
    }

    /// The message of an instance stopped at this limit (as [`Limits::memory_message`]).
    pub fn message(&self) -> String {
        memory_message(self.memory_bytes)
    }
}

/// `the instance reached its memory limit of 32MiB (limits.memory)`.
fn memory_message(bytes: usize) -> String {
    format!("the instance reached its memory limit of {} (limits.memory)", human(bytes as u64))
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit = true;
            wasmtime::bail!("it asked for {} of linear memory", human(desired as u64));
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|m| desired <= m))
    }
}

/// The failure kind of a trap: [`ErrorKind::Timeout`] for a deadline, [`ErrorKind::MemoryLimit`] when
/// `limiter` refused a memory growth, else [`ErrorKind::Trap`].
pub fn trap_kind(error: &wasmtime::Error, limiter: &mut MemoryLimiter) -> ErrorKind {
    if limiter.take_hit() {
        ErrorKind::MemoryLimit
    } else if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        ErrorKind::Timeout
    } else {
        ErrorKind::Trap
    }
}

/// `d` as a definition would write it: `30s`, `250ms`.
fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
}
