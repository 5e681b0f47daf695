//! Instances made ahead of need: from a run's start (or, resumed, its first superstep) on, a thread of its
//! own instantiates one instance per component of the process, for the first step in the definition that
//! uses it, except the components of the steps the coming superstep invokes at once (they make their own).
//! A step with no instance that finds no idle one to take over takes the one made for it, or for another
//! step of the same component, limits and grants, handed over as a take-over hands one
//! ([`crate::runner::instances::StepInstances::invoke`]).
//!
//! A `weft` command that runs one instance and ends pays each component's instantiation once, and a Python
//! guest's is ~0.9 ms (its start function makes a function reference for every function its table holds).
//! The thread does that on the other core, while the run's own thread runs supersteps or waits for the
//! disk to sync a commit: food delivery durable 26.60 -> 25.01 ms and 27.14 -> 25.29 ms (30 runs each,
//! interleaved with the build before); in memory no difference shows (17.89 against 17.86 ms), the two
//! threads' page faults and mappings slowing each other about as much as the thread saves. What the guest
//! sees is what a take-over gives it: an instance is made for a step of its component, under the same
//! limits and grants, with that step's seeded random numbers and clocks ([`crate::host::new_store`]),
//! whichever thread makes it. Its start function runs even if no step of the component ever runs.
//!
//! The run never waits for work the thread has not begun: a step invoked before the thread reached its
//! component makes its own instance, as without warming, and the thread skips it. It waits only for an
//! instance being made, which it would otherwise have made itself; if that making fails (its start
//! function traps, a limit), the step makes its own, failing the same way with the usual message, so a
//! failing start is paid twice. Instances never taken are dropped with the run, and what the thread has
//! not begun when the run is dropped it never begins (`weft` leaves its live instances to the process's
//! end). Only a command that drives one instance asks for this ([`crate::durable::Driver::with_warming`]);
//! a server running many instances on its threads does not.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::host::{self, StoreOwner};
use crate::load::{Process, StepComponent, StepKind};
use crate::runner::instances::{Live, instantiate};

/// The instances being made for one run, by step.
pub struct Warming {
    shared: Arc<Shared>,
}

struct Shared {
    steps: Mutex<Vec<(usize, Making)>>,
    changed: Condvar,
}

enum Making {
    /// Not begun; whichever side claims it first does it.
    Queued,
    /// The thread is making it.
    Underway,
    /// Made, waiting for its step.
    Made(Live),
    /// Taken, claimed by the run, or failed.
    Gone,
}

impl Warming {
    /// Start making, on a thread of its own, an instance for the first step (by index) of each distinct
    /// component of `process`, for run `instance`, except the components of the steps `now` marks (by
    /// index: those the coming superstep invokes, which make their own at once, and which the steps after
    /// them of the same component take over). None when that leaves no step or no thread can be started
    /// (the run then makes every instance itself).
    pub fn start(process: &Arc<Process>, instance: &str, now: &[bool]) -> Option<Warming> {
        let component = |i: usize| match &process.steps[i].kind {
            StepKind::Component(c) => Some(c),
            _ => None,
        };
        let busy: Vec<_> =
            (0..process.steps.len()).filter(|&i| now.get(i) == Some(&true)).filter_map(component).collect();
        let mut steps: Vec<(usize, Making)> = Vec::new();
        for i in 0..process.steps.len() {
            let Some(c) = component(i) else { continue };
            let same = |other: &Arc<StepComponent>| Arc::ptr_eq(other, c);
            if !busy.iter().any(|b| same(b)) && !steps.iter().any(|&(j, _)| component(j).is_some_and(same)) {
                steps.push((i, Making::Queued));
            }
        }
        if steps.is_empty() {
            return None;
        }
        let shared = Arc::new(Shared { steps: Mutex::new(steps), changed: Condvar::new() });
        let (work, process, instance) = (shared.clone(), process.clone(), instance.to_owned());
        std::thread::Builder::new().name("weft-warm".into()).spawn(move || work.make_all(&process, &instance)).ok()?;
        Some(Warming { shared })
    }

    /// The instance made for the first step `mine` accepts (by index) that has one made or being made,
    /// and that step, waiting while it is being made; a queued one `mine` accepts is never begun after
    /// this. None when no such step has one, or its making failed (the caller makes its own).
    pub(crate) fn take(&self, mine: impl Fn(usize) -> bool) -> Option<(Live, usize)> {
        let mut steps = self.shared.lock();
        loop {
            let (step, slot) = steps.iter_mut().find(|(i, m)| mine(*i) && !matches!(m, Making::Gone))?;
            match std::mem::replace(slot, Making::Gone) {
                Making::Made(live) => return Some((live, *step)),
                // Never begun, and no longer wanted: the caller makes its own now. (`Gone` is not found.)
                Making::Queued | Making::Gone => return None,
                Making::Underway => {
                    *slot = Making::Underway;
                    steps = self.shared.changed.wait(steps).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    /// Wait until the thread has made (or failed to make) every instance it will: for tests, which
    /// must know that a step's instance was made ahead of need before the step is invoked.
    pub fn settle(&self) {
        let mut steps = self.shared.lock();
        while steps.iter().any(|(_, m)| matches!(m, Making::Queued | Making::Underway)) {
            steps = self.shared.changed.wait(steps).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Warming {
    /// The run is done with them: what the thread has not begun it never begins.
    fn drop(&mut self) {
        for (_, making) in self.shared.lock().iter_mut() {
            if matches!(making, Making::Queued) {
                *making = Making::Gone;
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<(usize, Making)>> {
        self.steps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Make the queued steps' instances in step order, until none is left queued.
    fn make_all(&self, process: &Process, instance: &str) {
        loop {
            let step = {
                let mut steps = self.lock();
                let Some((i, making)) = steps.iter_mut().find(|(_, m)| matches!(m, Making::Queued)) else {
                    return;
                };
                *making = Making::Underway;
                *i
            };
            // A panic in the making (a bug, not the guest's doing: a trap is an error) fails this step's
            // instance only, so that the run waiting for it goes on and makes its own.
            let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make(process, instance, step)));
            let made = made.ok().flatten();
            let mut steps = self.lock();
            if let Some((_, making)) = steps.iter_mut().find(|(i, _)| *i == step) {
                *making = made.map_or(Making::Gone, Making::Made);
            }
            drop(steps);
            self.changed.notify_all();
        }
    }
}

/// An instance of step `step` of `process` for run `instance`, as the step would make it itself.
fn make(process: &Process, instance: &str, step: usize) -> Option<Live> {
    let ps = &process.steps[step];
    let StepKind::Component(component) = &ps.kind else { return None };
    let owner = StoreOwner { process: process.name(), instance, step: &ps.id };
    let mut store = host::new_store(component.pre.engine(), owner, &ps.limits, &ps.grants);
    let invoke = instantiate(component, &mut store).ok()?;
    Some(Live { store, invoke })
}
