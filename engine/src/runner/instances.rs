//! The wasmtime side of a run: one live instance per step, created on first use and reused across
//! invocations (instantiating a Python guest costs ~0.6 ms). Correctness never depends on reuse: a step's
//! state comes only from its snapshot, and an instance that traps is dropped and made anew next time.

use wasmtime::Store;

use crate::data::Json;
use crate::host::bindings::Step;
use crate::host::sandbox::trap_kind;
use crate::host::{self, Emitted, HostState, Invocation, StepError};
use crate::load::Process;

/// What a successful invocation gave.
#[derive(Debug)]
pub struct Invoked {
    /// The return value (`null` for none).
    pub result: Json,
    /// The new state snapshot.
    pub state: Option<Json>,
    /// Events emitted, in order.
    pub events: Vec<Emitted>,
}

/// Why an invocation failed: `(kind, message)`, the kind as in [`RunError::kind`](super::state::RunError).
pub type Failure = (&'static str, String);

struct Live {
    store: Store<HostState>,
    step: Step,
}

/// Live instances of a run's steps.
pub struct StepInstances {
    slots: Vec<Option<Live>>,
    created: u64,
}

impl StepInstances {
    /// No instances yet for a process of `steps` steps.
    pub fn new(steps: usize) -> Self {
        StepInstances { slots: (0..steps).map(|_| None).collect(), created: 0 }
    }

    /// Instances created so far (one per step used, plus one per trap).
    pub fn created(&self) -> u64 {
        self.created
    }

    /// Invoke kernel function `function` of step `step` with `args` (by parameter index) and `state`.
    ///
    /// Errors: the guest's typed error, a trap (the instance is dropped), or output that is not JSON.
    pub fn invoke(
        &mut self,
        process: &Process,
        step: usize,
        function: usize,
        args: Vec<Option<Json>>,
        state: Option<&Json>,
    ) -> Result<Invoked, Failure> {
        let ps = &process.steps[step];
        let f = &ps.component.description.functions[function];
        let call = Invocation {
            function: f.name.clone(),
            args: f
                .params
                .iter()
                .zip(args)
                .filter_map(|(p, a)| a.map(|a| (p.name.clone(), a.as_str().to_owned())))
                .collect(),
            state: state.map(|s| s.as_str().to_owned()),
        };
        let slot = &mut self.slots[step];
        let live = match slot {
            Some(live) => live,
            None => {
                let mut store = host::new_store(ps.component.pre.engine(), process.name(), &ps.id, &process.limits);
                let step = ps
                    .component
                    .pre
                    .instantiate(&mut store)
                    .map_err(|e| (trap_kind(&e), format!("cannot instantiate: {e:#}")))?;
                self.created += 1;
                slot.insert(Live { store, step })
            }
        };
        live.store.data_mut().log.function.clone_from(&f.name);
        process.limits.arm(&mut live.store);
        let returned = live.step.call_invoke(&mut live.store, &call);
        let events = live.store.data_mut().events.take();
        let outcome = match returned {
            Ok(outcome) => outcome,
            Err(trap) => {
                // The instance may be mid-way through anything: drop it; the next call makes a new one.
                *slot = None;
                return Err((trap_kind(&trap), format!("the component trapped: {trap:#}")));
            }
        };
        let outcome = outcome.map_err(guest_error)?;
        let events = events.map_err(|e| ("invalid-output", e))?;
        let result = match outcome.result {
            Some(text) => output(text, "result")?,
            None => Json::null(),
        };
        let state = outcome.state.map(|text| output(text, "state")).transpose()?;
        Ok(Invoked { result, state, events })
    }
}

/// A result or state the guest returned, checked.
fn output(text: String, what: &str) -> Result<Json, Failure> {
    Json::parse(text).map_err(|e| ("invalid-output", format!("returned an unusable {what}: {e}")))
}

fn guest_error(e: StepError) -> Failure {
    match e {
        StepError::UnknownFunction(f) => ("unknown-function", format!("the component has no kernel function \"{f}\"")),
        StepError::BadArgument(a) => ("bad-argument", format!("parameter \"{}\": {}", a.parameter, a.message)),
        StepError::BadState(m) => ("bad-state", m),
        StepError::Failed(m) => ("failed", m),
    }
}
