//! What a guest sees of time, chance and identity, fixed per invocation so that a superstep re-run after a
//! crash sees exactly what the first run saw (docs/semantics.md, "Durability"):
//!
//! - `wasi:clocks` (wall and monotonic) say the run's logical time (the time of its last checkpoint);
//! - `wasi:random` (secure and insecure) give numbers from a generator seeded by the instance id, the step,
//!   the superstep, the invocation number and, in a map, the item's index;
//! - `invocation.invocation-id` gives `<instance>:<step>:<n>`, n counting the run's invocations from 1, and
//!   `<instance>:<step>:<n>/<item>` for item `item` (from 0) of a map: stable across a re-run and distinct
//!   for every call, so a step can pass it to an outside system as an idempotency key.
//!
//! The runner calls [`Replay::begin`] before each invocation, and [`Replay::hand_to`] when the instance
//! passes to another step (see [`crate::runner::instances`]): what the guest sees is then the new step's,
//! as if the instance had been made for it. The generator is seeded lazily, on the first random number an
//! invocation asks for, so an invocation that asks for none pays nothing for it.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{SeedableRng, TryRng};
use sha2::{Digest, Sha256};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// The id of the `n`-th invocation of a run of instance `instance`, made at step `step`:
/// `<instance>:<step>:<n>`, or `<instance>:<step>:<n>/<item>` for one item of a map.
pub fn invocation_id(instance: &str, step: &str, n: u64, item: Option<usize>) -> String {
    match item {
        Some(item) => format!("{instance}:{step}:{n}/{item}"),
        None => format!("{instance}:{step}:{n}"),
    }
}

/// The per-invocation facts of one instance, shared by its WASI clocks and generators. (Atomics, so that
/// fixing them before each invocation costs a few stores; the store is used by one thread at a time.)
#[derive(Clone)]
pub struct Replay(Arc<Facts>);

struct Facts {
    instance: String,
    /// The step the instance now serves, and what its seeds start from.
    owner: Mutex<Owner>,
    time_ns: AtomicU64,
    superstep: AtomicU64,
    invocation: AtomicU64,
    /// The map item the invocation runs, plus one; 0 outside a map.
    item: AtomicU64,
    /// Set by [`Replay::begin`]: the generator must be seeded again before its next number.
    reseed: AtomicBool,
}

struct Owner {
    /// SHA-256 of the instance id and step id: the constant part of every seed.
    identity: [u8; 32],
    step: String,
    rng: Option<StdRng>,
}

impl Owner {
    fn new(instance: &str, step: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(instance.as_bytes());
        hasher.update([0]);
        hasher.update(step.as_bytes());
        Owner { identity: hasher.finalize().into(), step: step.into(), rng: None }
    }
}

impl Replay {
    /// The facts of step `step` of instance `instance`, at time 0 until [`Replay::begin`].
    pub fn new(instance: &str, step: &str) -> Self {
        let facts = Facts {
            owner: Mutex::new(Owner::new(instance, step)),
            instance: instance.into(),
            time_ns: AtomicU64::new(0),
            superstep: AtomicU64::new(0),
            invocation: AtomicU64::new(0),
            item: AtomicU64::new(0),
            reseed: AtomicBool::new(true),
        };
        Replay(Arc::new(facts))
    }

    /// Fix what the next invocation sees: logical time `time_ms` (ms since the Unix epoch), superstep
    /// `superstep`, the run's invocation number `invocation`, and the map item it runs, if any.
    pub fn begin(&self, time_ms: u64, superstep: u64, invocation: u64, item: Option<usize>) {
        let facts = &self.0;
        facts.time_ns.store(time_ms.saturating_mul(1_000_000), Ordering::Relaxed);
        facts.superstep.store(superstep, Ordering::Relaxed);
        facts.invocation.store(invocation, Ordering::Relaxed);
        facts.item.store(item.map_or(0, |i| i as u64 + 1), Ordering::Relaxed);
        facts.reseed.store(true, Ordering::Relaxed);
    }

    /// From the next invocation on, the instance serves step `step` (of the same process instance): its
    /// invocation ids name that step and its numbers are drawn as that step's.
    pub fn hand_to(&self, step: &str) {
        *self.owner() = Owner::new(&self.0.instance, step);
    }

    /// The current invocation's id (see [`invocation_id`]).
    pub fn invocation_id(&self) -> String {
        let facts = &self.0;
        let item = facts.item.load(Ordering::Relaxed).checked_sub(1).and_then(|i| usize::try_from(i).ok());
        invocation_id(&facts.instance, &self.owner().step, facts.invocation.load(Ordering::Relaxed), item)
    }

    /// The `wasi:random/insecure-seed` value: constant for the instance and step.
    pub fn insecure_seed(&self) -> u128 {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.owner().identity[..16]);
        u128::from_le_bytes(bytes)
    }

    fn owner(&self) -> std::sync::MutexGuard<'_, Owner> {
        // The owner is plain data; a panic elsewhere cannot leave it inconsistent.
        self.0.owner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn time_ns(&self) -> u64 {
        self.0.time_ns.load(Ordering::Relaxed)
    }

    /// The wall clock a guest sees.
    pub fn wall_clock(&self) -> impl HostWallClock + 'static {
        LogicalClock(self.clone())
    }

    /// The monotonic clock a guest sees.
    pub fn monotonic_clock(&self) -> impl HostMonotonicClock + 'static {
        LogicalClock(self.clone())
    }

    /// The random generator a guest sees (used for both the secure and the insecure interface).
    pub fn random(&self) -> SeededRandom {
        SeededRandom(self.clone())
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        let facts = &self.0;
        let owner = &mut *self.owner();
        if facts.reseed.swap(false, Ordering::Relaxed) || owner.rng.is_none() {
            let mut seed = owner.identity;
            let superstep = facts.superstep.load(Ordering::Relaxed).to_le_bytes();
            let invocation = facts.invocation.load(Ordering::Relaxed).to_le_bytes();
            for (byte, extra) in seed[16..].iter_mut().zip(superstep.iter().chain(&invocation)) {
                *byte ^= extra;
            }
            for (byte, extra) in seed[8..16].iter_mut().zip(facts.item.load(Ordering::Relaxed).to_le_bytes()) {
                *byte ^= extra;
            }
            owner.rng = Some(StdRng::from_seed(seed));
        }
        f(owner.rng.get_or_insert_with(|| StdRng::from_seed(owner.identity)))
    }
}

struct LogicalClock(Replay);

impl HostWallClock for LogicalClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.time_ns())
    }
}

impl HostMonotonicClock for LogicalClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        self.0.time_ns()
    }
}

/// Random numbers seeded per invocation (see the module documentation).
pub struct SeededRandom(Replay);

impl TryRng for SeededRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.0.with_rng(rand::Rng::next_u32))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0.with_rng(rand::Rng::next_u64))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.with_rng(|r| rand::Rng::fill_bytes(r, dst));
        Ok(())
    }
}

impl crate::host::bindings::weft::step::invocation::Host for Replay {
    fn invocation_id(&mut self) -> String {
        Replay::invocation_id(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn draw(replay: &Replay) -> u64 {
        replay.random().next_u64()
    }

    #[test]
    fn the_same_invocation_draws_the_same_numbers_and_another_does_not() {
        let a = Replay::new("i-1", "credit");
        a.begin(1000, 3, 7, None);
        let first = draw(&a);
        a.begin(1000, 3, 7, None);
        assert_eq!(draw(&a), first, "a re-run of the invocation sees the same numbers");
        a.begin(1000, 3, 8, None);
        assert_ne!(draw(&a), first, "the next invocation sees others");
        let b = Replay::new("i-2", "credit");
        b.begin(1000, 3, 7, None);
        assert_ne!(draw(&b), first, "another instance sees others");
        assert_eq!(a.invocation_id(), "i-1:credit:8");
        let items: Vec<u64> = (0..3)
            .map(|item| {
                a.begin(1000, 3, 7, Some(item));
                draw(&a)
            })
            .collect();
        assert!(
            items[0] != first && items[0] != items[1] && items[1] != items[2],
            "each map item sees its own numbers"
        );
        assert_eq!(a.invocation_id(), "i-1:credit:7/2");
    }

    #[test]
    fn an_instance_handed_to_another_step_sees_what_one_made_for_it_sees() {
        let handed = Replay::new("i-1", "credit");
        handed.begin(1000, 3, 7, None);
        draw(&handed);
        handed.hand_to("audit");
        handed.begin(1000, 4, 8, None);
        let made = Replay::new("i-1", "audit");
        made.begin(1000, 4, 8, None);
        assert_eq!(draw(&handed), draw(&made));
        assert_eq!(handed.insecure_seed(), made.insecure_seed());
        assert_eq!(handed.invocation_id(), "i-1:audit:8");
    }

    #[test]
    fn clocks_say_the_logical_time() {
        let r = Replay::new("i", "s");
        r.begin(1_700_000_000_123, 1, 1, None);
        assert_eq!(r.wall_clock().now(), Duration::from_millis(1_700_000_000_123));
        assert_eq!(r.monotonic_clock().now(), 1_700_000_000_123_000_000);
    }
}
