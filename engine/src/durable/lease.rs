//! Who may advance an instance: leases, not process ids (docs/durability.md, "One driver at a time").
//!
//! A [`Leases`] keeper has a random owner id (`weft pid 1234 on HOST (3f2a9c1e)`: the pid and host are for
//! people reading messages; nothing checks them). It takes an instance's lease for a fixed time, and a
//! heartbeat thread renews every lease it holds, in one store call, three times per lease period (not
//! for a store no other driver reaches: [`Leases::unrenewed`]). A holder that stops renewing — killed,
//! paused, cut off — loses its lease when the period runs out, and the next driver takes the instance
//! over with a higher epoch, which fences every commit of the old holder ([`StoreError::LeaseLost`]). A
//! [`Hold`] lets go of its instance when dropped, also while unwinding from a panic.
//!
//! The store tells owners apart, not the holds of one owner: to it, an owner taking an instance it holds
//! renews its lease, and a release by either of two holds of one owner lets go of it for both. So the
//! keeper refuses a second hold of an instance it holds already ([`StoreError::Held`], as for another
//! owner), until the first has let go of it in the store: a server's API and its workers, which share one
//! keeper, never drive one instance at once.
//!
//! Lease times are the machine's real clock, whatever clock the runs use (`WEFT_NOW` moves the runs'
//! logical time, not the leases').

use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::runner::{Clock, SystemClock};
use crate::store::{Lease, Store, StoreError};

/// How long a lease lasts unless renewed, when not configured.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);

/// The environment variable that sets the lease period (a duration like `5s` or `500ms`).
pub const LEASE_VAR: &str = "WEFT_LEASE";

/// Takes, renews and lets go of leases for one owner.
pub struct Leases {
    store: Arc<dyn Store>,
    owner: String,
    period: Duration,
    clock: Arc<dyn Clock>,
    heartbeat: Mutex<Option<Heartbeat>>,
    /// Whether held leases are renewed (by the heartbeat thread, started with the first hold); not for a
    /// store no other driver reaches ([`Leases::unrenewed`]).
    renews: bool,
    /// Leases a [`Hold`] could not let go of when dropped: the heartbeat tries again before it renews (it
    /// renews every lease of the owner, so it would otherwise keep them for as long as it runs).
    unreleased: Mutex<Vec<(String, Lease)>>,
    /// The instances its holds hold (those it could not let go of included), by id.
    held: Mutex<HashSet<String>>,
    /// Acquisitions and releases are written with other threads' writes, when set
    /// ([`Leases::group_with`]).
    group: OnceLock<Arc<super::group::GroupCommit>>,
}

/// An instance marked held by a keeper while it takes the lease: unmarked when dropped, unless kept.
struct Claimed<'a> {
    leases: &'a Leases,
    id: &'a str,
    kept: bool,
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.leases.let_go(self.id);
        }
    }
}

/// The heartbeat thread and the channel that stops it.
struct Heartbeat {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

/// An instance held under a lease; lets go of it when dropped.
pub struct Hold {
    leases: Arc<Leases>,
    id: String,
    lease: Lease,
    /// Whether dropping it lets go of the instance (not once [`Leases::release_all`] took it over).
    armed: bool,
}

impl Leases {
    /// A keeper for a new random owner, with leases of `period`, timed by the machine's clock.
    pub fn new(store: Arc<dyn Store>, period: Duration) -> Arc<Leases> {
        Leases::with_clock(store, period, Arc::new(SystemClock))
    }

    /// A keeper whose lease times come from `clock` (for tests that move time).
    pub fn with_clock(store: Arc<dyn Store>, period: Duration, clock: Arc<dyn Clock>) -> Arc<Leases> {
        Leases::build(store, period, clock, true)
    }

    /// A keeper that never renews what it holds, so that no heartbeat thread is started: for a store no
    /// other driver reaches (the in-memory store of one `weft run`), where a lease that has run out is
    /// still the holder's, as nobody else can take it (a commit is fenced on the owner and epoch, not on
    /// the time). Starting the thread was ~0.2 ms of a 1-step `weft run` (`scripts/bench-run start`).
    pub fn unrenewed(store: Arc<dyn Store>, period: Duration) -> Arc<Leases> {
        Leases::build(store, period, Arc::new(SystemClock), false)
    }

    fn build(store: Arc<dyn Store>, period: Duration, clock: Arc<dyn Clock>, renews: bool) -> Arc<Leases> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let owner = format!("weft pid {} on {} ({})", std::process::id(), host_name(), &suffix[..8]);
        Arc::new(Leases {
            store,
            owner,
            period: period.max(Duration::from_millis(30)),
            clock,
            heartbeat: Mutex::default(),
            renews,
            unreleased: Mutex::default(),
            held: Mutex::default(),
            group: OnceLock::new(),
        })
    }

    /// Whether held leases are renewed (not by a keeper made with [`Leases::unrenewed`]).
    pub fn renews(&self) -> bool {
        self.renews
    }

    /// Write acquisitions and releases through `group` from now on, with the commits of other threads.
    /// (Set once; later calls change nothing.)
    pub fn group_with(&self, group: Arc<super::group::GroupCommit>) {
        let _ = self.group.set(group);
    }

    /// The owner id leases are taken under.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The lease period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Now and the end of a lease taken now, ms since the Unix epoch.
    pub(crate) fn until(&self) -> (u64, u64) {
        let now = self.clock.now_ms();
        (now, now.saturating_add(u64::try_from(self.period.as_millis()).unwrap_or(u64::MAX)))
    }

    /// A hold on an instance this keeper just created under `lease`.
    pub fn adopt(self: &Arc<Self>, id: &str, lease: Lease) -> Hold {
        self.held_ids().insert(id.to_owned());
        self.hold(id, lease)
    }

    fn hold(self: &Arc<Self>, id: &str, lease: Lease) -> Hold {
        self.beat();
        Hold { leases: self.clone(), id: id.into(), lease, armed: true }
    }

    fn held_ids(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Mark `id` held by this keeper; Held if one of its holds holds it already.
    fn claim(&self, id: &str) -> Result<(), StoreError> {
        if self.held_ids().insert(id.to_owned()) {
            return Ok(());
        }
        let (_, until_ms) = self.until();
        Err(StoreError::Held { instance: id.into(), owner: self.owner.clone(), until_ms })
    }

    /// `id` is no longer held by this keeper (its lease was let go of in the store).
    fn let_go(&self, id: &str) {
        self.held_ids().remove(id);
    }

    /// Take instance `id`. A holder that does not renew its lease is waited out (at most one lease
    /// period); one that renews meanwhile is alive, and refused at once, as is a hold of this keeper's own.
    ///
    /// Errors: [`StoreError::Held`] while another driver holds it and renews its lease, or this keeper
    /// does; [`StoreError::NotFound`]; the store's.
    pub fn take(self: &Arc<Self>, id: &str) -> Result<Hold, StoreError> {
        self.claim(id)?;
        // Unclaimed again unless the lease was taken, also when taking it panics.
        let mut claimed = Claimed { leases: self, id, kept: false };
        let hold = self.acquire(id)?;
        claimed.kept = true;
        Ok(hold)
    }

    fn acquire(self: &Arc<Self>, id: &str) -> Result<Hold, StoreError> {
        let started = Instant::now();
        let mut seen: Option<u64> = None;
        loop {
            let (now, until) = self.until();
            let acquired = match self.group.get() {
                Some(group) => group.acquire(id, &self.owner, now, until),
                None => self.store.acquire(id, &self.owner, now, until),
            };
            match acquired {
                Ok(lease) => return Ok(self.hold(id, lease)),
                Err(StoreError::Held { until_ms, .. })
                    if seen.is_none_or(|s| until_ms <= s) && started.elapsed() <= self.period * 2 =>
                {
                    if seen.is_none() {
                        tracing::info!(
                            instance = id,
                            "the instance is held; waiting for its lease to run out or be renewed"
                        );
                    }
                    seen = Some(until_ms);
                    let left = Duration::from_millis(until_ms.saturating_sub(now).saturating_add(1));
                    std::thread::sleep(left.min(Duration::from_millis(50)));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Start the heartbeat thread if it is not running.
    fn beat(self: &Arc<Self>) {
        if !self.renews {
            return;
        }
        let mut heartbeat = self.heartbeat.lock().unwrap_or_else(|e| e.into_inner());
        if heartbeat.is_some() {
            return;
        }
        let (stop, stopped) = channel();
        // The thread holds the keeper weakly: dropping the last driver stops it.
        let keeper = Arc::downgrade(self);
        let every = self.period / 3;
        let thread = std::thread::spawn(move || renew_until_stopped(&keeper, &stopped, every));
        *heartbeat = Some(Heartbeat { stop, thread });
    }
}

fn renew_until_stopped(keeper: &std::sync::Weak<Leases>, stopped: &Receiver<()>, every: Duration) {
    loop {
        match stopped.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(keeper) = keeper.upgrade() else { return };
        keeper.release_unreleased();
        let (_, until) = keeper.until();
        if let Err(e) = keeper.store.renew(&keeper.owner, until) {
            tracing::warn!("cannot renew leases (they run out unless a later renewal succeeds): {e}");
        }
    }
}

impl Leases {
    /// Try again to let go of the leases dropped holds could not release; keep those that still fail.
    fn release_unreleased(&self) {
        let mut unreleased = self.unreleased.lock().unwrap_or_else(|e| e.into_inner());
        unreleased.retain(|(id, lease)| {
            let kept = self.store.release(id, lease).is_err();
            if !kept {
                self.let_go(id);
            }
            kept
        });
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            drop(heartbeat.stop);
            // The last reference may go on the heartbeat thread itself, which then just ends.
            if heartbeat.thread.thread().id() != std::thread::current().id() {
                let _ = heartbeat.thread.join();
            }
        }
    }
}

impl Leases {
    /// Let go of each of `holds` (of this keeper), written together: one batch of releases instead of one
    /// round trip to the store each. What cannot be let go of is tried again with the next renewal.
    pub fn release_all(&self, holds: Vec<Hold>) {
        let leases: Vec<(String, Lease)> = holds.into_iter().map(Hold::disarm).collect();
        let results = match self.group.get() {
            Some(group) => group.release_all(leases.clone()),
            None => leases.iter().map(|(id, lease)| self.store.release(id, lease)).collect(),
        };
        let mut unreleased = self.unreleased.lock().unwrap_or_else(|e| e.into_inner());
        for ((id, lease), result) in leases.into_iter().zip(results) {
            match result {
                Ok(()) => self.let_go(&id),
                Err(e) => {
                    tracing::warn!(instance = %id, "could not let go of the instance (trying again with the next renewal): {e}");
                    unreleased.push((id, lease));
                }
            }
        }
    }
}

impl Hold {
    /// The instance and lease, without letting go of it (the caller does).
    fn disarm(mut self) -> (String, Lease) {
        self.armed = false;
        (std::mem::take(&mut self.id), self.lease.clone())
    }

    /// The lease it holds.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The instance it holds.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let released = match self.leases.group.get() {
            Some(group) => group.release(&self.id, &self.lease),
            None => self.leases.store.release(&self.id, &self.lease),
        };
        match released {
            Ok(()) => self.leases.let_go(&self.id),
            Err(e) => {
                tracing::warn!(instance = %self.id, "could not let go of the instance (trying again with the next renewal): {e}");
                let mut unreleased = self.leases.unreleased.lock().unwrap_or_else(|e| e.into_inner());
                unreleased.push((std::mem::take(&mut self.id), self.lease.clone()));
            }
        }
    }
}

/// This machine's host name, for owner ids.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
