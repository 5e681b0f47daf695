//! The scheduler of `weft serve`: finds the instances that need a driver through the store
//! ([`Store::ready`](crate::store::Store::ready): running, a timer or deadline due, events waiting in the
//! inbox, and nobody holding them) and drives each on a bounded pool of worker threads, a slice of
//! supersteps at a time, so that no instance starves the others. A waiting instance costs a store row and
//! nothing in memory. Timers fire on their own: the scheduler looks again at least every
//! [`POLL`], and at once when the API received something. When it starts, it also hands out, up to half
//! of its idle workers at a time, the instances whose published events a sink never acknowledged
//! ([`Store::unpublished`]): a driver that crashed after a commit left them (a worker waits out a dead
//! holder's lease), and an ended instance is never ready again.
//!
//! [`Store::unpublished`]: crate::store::Store::unpublished

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::durable::{Driver, DurableError};
use crate::store::StoreError;

/// How many more ready instances the scheduler reads than it has idle workers for (those it handed out
/// are still listed until their worker takes hold of them).
pub const LOOK_AHEAD: usize = 16;

/// The longest the scheduler waits before looking for due instances again.
pub const POLL: Duration = Duration::from_millis(100);

/// What the API and the scheduler share to wake the scheduler up and stop it.
#[derive(Default)]
pub struct Signal {
    pending: Mutex<bool>,
    wake: Condvar,
    stopping: AtomicBool,
}

impl Signal {
    /// Something arrived: look for work now.
    pub fn notify(&self) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    /// Stop after the slices in flight.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// Whether the server is stopping.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Wait until notified, or `timeout`.
    fn wait(&self, timeout: Duration) {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (mut pending, _) =
            self.wake.wait_timeout_while(pending, timeout, |p| !*p).unwrap_or_else(|e| e.into_inner());
        *pending = false;
    }
}

/// Drive ready instances with `driver` on `workers` threads, `slice` supersteps at a time, until `signal`
/// says stop; then finish the slices in flight and return. Published events go to standard output.
pub fn run(driver: &Driver<'_>, signal: &Signal, board: &Board, workers: usize, slice: u64) {
    let (work, queue) = channel::<String>();
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| work_on(driver, signal, &queue, board, slice));
        }
        dispatch(driver, signal, &work, board, workers.max(1));
        drop(work);
    });
}

/// What the dispatcher, the workers and the API share: the instances handed out, and those that failed
/// lately (each left alone until its time: an instance that fails as soon as it is opened is ready again at
/// once, and would otherwise be handed out again and again ahead of the others).
#[derive(Default)]
pub struct Board {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    in_flight: HashSet<String>,
    cooling: HashMap<String, Cooling>,
}

impl Board {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many of `ids` are not left alone now after failures (what the backlog counts).
    pub fn not_cooling(&self, ids: &[String]) -> usize {
        let (state, now) = (self.lock(), Instant::now());
        ids.iter().filter(|id| !state.cooling(id, now)).count()
    }

    /// How many instances are left alone now, after failures.
    pub fn cooling_count(&self) -> usize {
        self.lock().cooling_count(Instant::now())
    }
}

/// An instance whose slices failed: how many times in a row, and until when it is left alone.
struct Cooling {
    failures: u32,
    until: Instant,
}

/// How long an instance whose slice failed is left alone after its first failure; each further failure
/// in a row doubles it, up to [`MAX_COOL_DOWN`] (an instance that can never be opened is tried, and
/// logged, a few times an hour, not every second).
pub const COOL_DOWN: Duration = Duration::from_secs(1);

/// The longest an instance whose slices keep failing is left alone.
pub const MAX_COOL_DOWN: Duration = Duration::from_secs(300);

impl State {
    /// Leave `id` alone after a failure: for how long.
    fn cool_down(&mut self, id: String, now: Instant) -> Duration {
        let cooling = self.cooling.entry(id).or_insert(Cooling { failures: 0, until: now });
        cooling.failures = cooling.failures.saturating_add(1);
        let wait = COOL_DOWN.saturating_mul(1 << (cooling.failures - 1).min(16)).min(MAX_COOL_DOWN);
        cooling.until = now + wait;
        wait
    }

    /// Leave `id` alone for [`COOL_DOWN`] (or as long as its failures in a row say, if longer), without
    /// counting a failure: for how long.
    fn rest(&mut self, id: String, now: Instant) -> Duration {
        let cooling = self.cooling.entry(id).or_insert(Cooling { failures: 0, until: now });
        cooling.until = cooling.until.max(now + COOL_DOWN);
        cooling.until - now
    }

    /// Whether `id` is left alone at `now`.
    fn cooling(&self, id: &str, now: Instant) -> bool {
        self.cooling.get(id).is_some_and(|c| c.until > now)
    }

    /// How many instances are left alone at `now`.
    fn cooling_count(&self, now: Instant) -> usize {
        self.cooling.values().filter(|c| c.until > now).count()
    }
}

/// How many unpublished instances the scheduler reads at a time.
const UNPUBLISHED_PAGE: usize = 256;

/// The instances with events to publish again, read a page at a time when the server starts, in id order.
struct Unpublished {
    queue: VecDeque<String>,
    /// The last id read, while there may be more.
    after: Option<String>,
}

impl Unpublished {
    fn new() -> Unpublished {
        Unpublished { queue: VecDeque::new(), after: Some(String::new()) }
    }

    /// The next one, reading the next page when the last is handed out.
    fn next(&mut self, driver: &Driver<'_>) -> Option<String> {
        if self.queue.is_empty()
            && let Some(after) = self.after.take()
        {
            match driver.unpublished(&after, UNPUBLISHED_PAGE) {
                Ok(page) => {
                    self.after = (page.len() == UNPUBLISHED_PAGE).then(|| page.last().cloned()).flatten();
                    self.queue.extend(page);
                }
                Err(e) => {
                    tracing::warn!("cannot find the instances with events to publish again (trying again): {e}");
                    self.after = Some(after);
                }
            }
        }
        self.queue.pop_front()
    }
}

/// Hand ready instances, each once at a time, to the workers until stopped; beside them, with at most
/// half of the idle workers, those with events to publish again (one a worker has, or that is cooling
/// down, is left to that worker's relay or to the next start).
fn dispatch(driver: &Driver<'_>, signal: &Signal, work: &Sender<String>, board: &Board, workers: usize) {
    let mut unpublished = Unpublished::new();
    while !signal.stopping() {
        // Only as many as there are idle workers: a server with a long backlog would otherwise read
        // hundreds of ids after every slice, to hand out one. Those handed out but not yet held, and those
        // cooling down, are still listed as ready: read that many more.
        let (free, skipped) = {
            let mut board = board.lock();
            let now = Instant::now();
            // Failures in a row are forgotten once the instance was not ready for as long as the longest
            // wait (it no longer fails, or is no longer due).
            board.cooling.retain(|_, c| c.until + MAX_COOL_DOWN > now);
            (workers.saturating_sub(board.in_flight.len()), board.cooling_count(now))
        };
        if free == 0 {
            signal.wait(POLL);
            continue;
        }
        // Whether `id` was handed to a worker (not when one has it, or it is cooling down); Err when the
        // workers are gone.
        let hand = |id: String| -> Result<bool, ()> {
            let take = {
                let mut board = board.lock();
                !board.cooling(&id, Instant::now()) && board.in_flight.insert(id.clone())
            };
            if take {
                work.send(id).map_err(drop)?;
            }
            Ok(take)
        };
        // Instances with events to publish again take at most half of the idle workers (at least one), so
        // that a long list of them, or webhooks still down, hold up no ready instance for long.
        let mut handed = 0;
        while handed < free.div_ceil(2) {
            let Some(id) = unpublished.next(driver) else { break };
            match hand(id) {
                Ok(taken) => handed += usize::from(taken),
                Err(()) => return,
            }
        }
        let ready = match handed < free {
            true => driver.ready(free + skipped + LOOK_AHEAD).unwrap_or_else(|e| {
                tracing::warn!("cannot find the instances that are ready (trying again): {e}");
                Vec::new()
            }),
            false => Vec::new(),
        };
        for id in ready {
            if handed == free {
                break;
            }
            match hand(id) {
                Ok(taken) => handed += usize::from(taken),
                Err(()) => return,
            }
        }
        if handed == 0 {
            signal.wait(POLL);
        }
    }
}

/// Take instances from `queue` and drive each one slice, until the queue closes.
fn work_on(driver: &Driver<'_>, signal: &Signal, queue: &Mutex<Receiver<String>>, board: &Board, slice: u64) {
    loop {
        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(id) = next else { return };
        // A panic in a slice (a defect: never a guest's doing) fails that instance, not the worker: its
        // thread goes on, and the instance is let go of and left alone like any that failed.
        let outcome = match signal.stopping() {
            true => Slice::Driven,
            false => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drive_once(driver, &id, slice)))
                .unwrap_or_else(|_| Slice::Failed("driving the instance panicked (a defect of Weft)".into())),
        };
        let wait = {
            let mut board = board.lock();
            board.in_flight.remove(&id);
            match outcome {
                Slice::Driven => {
                    board.cooling.remove(&id);
                    None
                }
                Slice::Failed(_) => Some(board.cool_down(id.clone(), Instant::now())),
                // Not the instance's failing: left alone for the first wait, the failures in a row as they are.
                Slice::Refused | Slice::Transient(_) => Some(board.rest(id.clone(), Instant::now())),
            }
        };
        if let (Slice::Failed(why) | Slice::Transient(why), Some(wait)) = (&outcome, wait) {
            tracing::warn!(instance = id, "{why} (left alone for {}s)", wait.as_secs());
        }
        // What it left (a yielded slice, events that came meanwhile) is found at once.
        signal.notify();
    }
}

/// How a slice went.
enum Slice {
    /// Without a failure (or the instance had ended meanwhile).
    Driven,
    /// Someone else holds the instance.
    Refused,
    /// It could not be opened or driven, for a reason of the moment (the database failed or was busy, the
    /// lease was lost, the instance moved on meanwhile): why.
    Transient(String),
    /// It could not be opened or driven: why.
    Failed(String),
}

impl Slice {
    /// A failure of `e`, transient or not, said after `what`.
    fn failed(what: &str, e: &DurableError) -> Slice {
        let why = format!("{what}: {e}");
        match e {
            DurableError::Store(StoreError::Backend(_) | StoreError::LeaseLost(_) | StoreError::Conflict { .. }) => {
                Slice::Transient(why)
            }
            _ => Slice::Failed(why),
        }
    }
}

/// Drive instance `id` one slice; the instance stays as last committed whatever goes wrong, and is found
/// again when it is ready.
fn drive_once(driver: &Driver<'_>, id: &str, slice: u64) -> Slice {
    let mut held = match driver.open(id) {
        Ok(held) => held,
        // It ended with nothing left to publish since it was found.
        Err(DurableError::Ended { .. }) => return Slice::Driven,
        // Someone else holds it: another server, or another thread of this one whose lease the store saw
        // run out (its renewals failing) while it still drives it; left alone for a while, not handed
        // out again at once.
        Err(DurableError::Store(StoreError::Held { .. })) => return Slice::Refused,
        Err(e) => return Slice::failed("cannot open the instance", &e),
    };
    let mut relay = driver.relay(&held, std::io::stdout());
    let ended_before = held.run().state().status.is_final();
    let driven = driver.drive_for(&mut held, &mut relay, slice);
    // A run that failed in this slice is said once, for the operator (its history says it at length).
    if let (false, crate::runner::Status::Failed { error }) = (ended_before, &held.run().state().status) {
        tracing::warn!(instance = id, process = held.info().process, "the run failed: {error}");
    }
    for (topic, url, outcome) in driver.finish(&held, relay).unwrap_or_default() {
        if let Some((why, left)) = outcome.failed {
            tracing::warn!(instance = id, topic, url, left, "a webhook did not take every event: {why}");
        }
    }
    match driven {
        Ok(_) => Slice::Driven,
        Err(e) => Slice::failed("driving the instance failed (it stays as last committed)", &e),
    }
}
