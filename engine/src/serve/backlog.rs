//! Backpressure (docs/serving.md, "Backpressure"): when more instances wait for a worker than the bound
//! allows, a request that would add events is answered `429 Too Many Requests` with `Retry-After`, so
//! the store's backlog (and the time an accepted event waits) stays bounded however fast events arrive.
//! Nothing is held in memory for a refused request.
//!
//! The backlog is the number of instances the scheduler would drive now ([`Driver::ready`]: events in
//! their inbox, a timer due, running and nobody holding them), less those it leaves alone after failures
//! (an instance that can never be opened would otherwise count for ever), counted up to one past the
//! bound, at most once per [`REFRESH`] (between two counts the last is used).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::scheduler::Board;
use crate::durable::Driver;

/// How long a count of the backlog is used before it is counted again.
pub const REFRESH: Duration = Duration::from_millis(100);

/// The `Retry-After` a refused request is given, in seconds.
pub const RETRY_AFTER_S: u64 = 1;

/// The backlog bound, and its last count.
pub struct Backlog {
    bound: usize,
    /// When the server started: counts are timed from it.
    epoch: Instant,
    /// When the last count was taken (µs since `epoch`; 0: never), claimed by the request that counts.
    counted_us: AtomicU64,
    /// The last count.
    count: AtomicUsize,
}

impl Backlog {
    /// A bound of `bound` instances waiting for a worker (at least 1).
    pub fn new(bound: usize) -> Backlog {
        Backlog {
            bound: bound.max(1),
            epoch: Instant::now(),
            counted_us: AtomicU64::new(0),
            count: AtomicUsize::new(0),
        }
    }

    /// The bound.
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Whether the backlog is over the bound: the instances waiting for a worker, if it is. A store that
    /// cannot be read counts as not over (the request then meets the store's own error).
    pub fn over(&self, driver: &Driver<'_>, board: &Board) -> Option<usize> {
        let now_us = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
        let counted_us = self.counted_us.load(Ordering::Acquire);
        let stale = counted_us == 0 || now_us.saturating_sub(counted_us) >= REFRESH.as_micros() as u64;
        // One request counts; the others meanwhile go by the last count, never waiting for it.
        if stale && self.counted_us.compare_exchange(counted_us, now_us, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            let skipped = board.cooling_count();
            let ready = driver.ready(self.bound + 1 + skipped).unwrap_or_default();
            let count = board.not_cooling(&ready);
            self.count.store(count, Ordering::Release);
        }
        let count = self.count.load(Ordering::Acquire);
        (count > self.bound).then_some(count)
    }
}
