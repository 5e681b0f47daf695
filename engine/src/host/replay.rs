//! What a guest sees of time, chance and identity, fixed per invocation so that a superstep re-run after a
//! crash sees exactly what the first run saw (SEMANTICS.md, "Durability"):
//!
//! - `wasi:clocks` (wall and monotonic) say the run's logical time (the time of its last checkpoint);
//! - `wasi:random` (secure and insecure) give numbers from a generator seeded by the instance id, the step,
//!   the superstep and the invocation number;
//! - `context.invocation-id` gives `<instance>:<step>:<n>`, n counting the run's invocations from 1: stable
//!   across a re-run, so a step can pass it to an outside system as an idempotency key.
//!
//! The runner calls [`Replay::begin`] before each invocation. The generator is seeded lazily, on the
//! first random number an invocation asks for, so an invocation that asks for none pays nothing for it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{SeedableRng, TryRng};
use sha2::{Digest, Sha256};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// The per-invocation facts of one instance, shared by its WASI clocks and generators.
#[derive(Clone)]
pub struct Replay(Arc<Mutex<Facts>>);

struct Facts {
    /// SHA-256 of the instance id and step id: the constant part of every seed.
    identity: [u8; 32],
    instance: String,
    step: String,
    time_ns: u64,
    superstep: u64,
    invocation: u64,
    rng: Option<StdRng>,
}

impl Replay {
    /// The facts of step `step` of instance `instance`, at time 0 until [`Replay::begin`].
    pub fn new(instance: &str, step: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(instance.as_bytes());
        hasher.update([0]);
        hasher.update(step.as_bytes());
        let identity = hasher.finalize().into();
        let facts = Facts {
            identity,
            instance: instance.into(),
            step: step.into(),
            time_ns: 0,
            superstep: 0,
            invocation: 0,
            rng: None,
        };
        Replay(Arc::new(Mutex::new(facts)))
    }

    /// Fix what the next invocation sees: logical time `time_ms` (ms since the Unix epoch), superstep
    /// `superstep`, and the run's invocation number `invocation`.
    pub fn begin(&self, time_ms: u64, superstep: u64, invocation: u64) {
        let mut facts = self.lock();
        facts.time_ns = time_ms.saturating_mul(1_000_000);
        facts.superstep = superstep;
        facts.invocation = invocation;
        facts.rng = None;
    }

    /// The current invocation's id, `<instance>:<step>:<n>`.
    pub fn invocation_id(&self) -> String {
        let facts = self.lock();
        format!("{}:{}:{}", facts.instance, facts.step, facts.invocation)
    }

    /// The `wasi:random/insecure-seed` value: constant for the instance and step.
    pub fn insecure_seed(&self) -> u128 {
        let facts = self.lock();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&facts.identity[..16]);
        u128::from_le_bytes(bytes)
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

    fn lock(&self) -> MutexGuard<'_, Facts> {
        // Facts are plain values; a panic elsewhere cannot leave them inconsistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        let mut facts = self.lock();
        let facts = &mut *facts;
        let rng = facts.rng.get_or_insert_with(|| {
            let mut seed = facts.identity;
            for (byte, extra) in
                seed[16..].iter_mut().zip(facts.superstep.to_le_bytes().iter().chain(&facts.invocation.to_le_bytes()))
            {
                *byte ^= extra;
            }
            StdRng::from_seed(seed)
        });
        f(rng)
    }
}

struct LogicalClock(Replay);

impl HostWallClock for LogicalClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.lock().time_ns)
    }
}

impl HostMonotonicClock for LogicalClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        self.0.lock().time_ns
    }
}

/// Random numbers seeded per invocation (see the module documentation).
pub struct SeededRandom(Replay);

impl TryRng for SeededRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.0.with_rng(|r| rand::Rng::next_u32(r)))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0.with_rng(|r| rand::Rng::next_u64(r)))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.with_rng(|r| rand::Rng::fill_bytes(r, dst));
        Ok(())
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
        a.begin(1000, 3, 7);
        let first = draw(&a);
        a.begin(1000, 3, 7);
        assert_eq!(draw(&a), first, "a re-run of the invocation sees the same numbers");
        a.begin(1000, 3, 8);
        assert_ne!(draw(&a), first, "the next invocation sees others");
        let b = Replay::new("i-2", "credit");
        b.begin(1000, 3, 7);
        assert_ne!(draw(&b), first, "another instance sees others");
        assert_eq!(a.invocation_id(), "i-1:credit:8");
    }

    #[test]
    fn clocks_say_the_logical_time() {
        let r = Replay::new("i", "s");
        r.begin(1_700_000_000_123, 1, 1);
        assert_eq!(r.wall_clock().now(), Duration::from_millis(1_700_000_000_123));
        assert_eq!(r.monotonic_clock().now(), 1_700_000_000_123_000_000);
    }
}
