//! The superstep runner (SEMANTICS.md, "Events and routing", "Errors", "Ending", "State").
//!
//! One superstep: deliver every message queued in the previous one into its parameter queue; then, for each
//! step in definition order and each of its kernel functions in declaration order, invoke the function as
//! long as it has a complete set of arguments; route what the invocations emit, in emission order, into the
//! queue of the next superstep. The run's data lives in [`RunState`] (plain, serialisable); the wasmtime
//! instances live apart in [`StepInstances`].

pub mod instances;
pub mod state;

use serde_json::json;

use crate::data::Json;
use crate::host::Emitted;
use crate::load::{Process, Route, Source};
use crate::sinks::EventSink;
pub use instances::StepInstances;
pub use state::{Ending, EventRecord, Message, RunError, RunState};

/// Most messages that may wait for the next superstep; more fails the run (a cycle that multiplies events
/// would otherwise exhaust memory).
pub const MAX_QUEUED_MESSAGES: usize = 1_000_000;

/// A run of a loaded process.
pub struct Run<'p> {
    process: &'p Process,
    state: RunState,
    instances: StepInstances,
}

/// An input event the process does not declare.
#[derive(Debug, thiserror::Error)]
#[error("process \"{process}\" has no input event \"{event}\"; it accepts: {accepted}")]
pub struct UnknownInput {
    /// Process name.
    pub process: String,
    /// The event type given.
    pub event: String,
    /// Declared input events, comma-separated.
    pub accepted: String,
}

impl<'p> Run<'p> {
    /// A new run of `process` with instance id `instance_id`; nothing happens until [`Run::send`].
    pub fn new(process: &'p Process, instance_id: impl Into<String>) -> Self {
        Run {
            process,
            state: RunState::new(process, instance_id.into()),
            instances: StepInstances::new(process.steps.len()),
        }
    }

    /// The run's state.
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// Step instances created during this run: instances are reused across invocations of a step.
    pub fn instances_created(&self) -> u64 {
        self.instances.created()
    }

    /// Queue input event `event_type` with `data` for the next superstep (SEMANTICS.md rule 10).
    ///
    /// Errors: [`UnknownInput`] when the process declares no such input event.
    pub fn send(&mut self, event_type: &str, data: Json) -> Result<(), UnknownInput> {
        let routes = self.process.routing.routes(Source::Input, event_type);
        if routes.is_empty() {
            let mut accepted: Vec<&str> = self.process.routing.input_events().collect();
            accepted.sort_unstable();
            return Err(UnknownInput {
                process: self.process.name().into(),
                event: event_type.into(),
                accepted: accepted.join(", "),
            });
        }
        if deliver(&mut self.state.pending, routes, &data) {
            self.state.ending = Some(Ending::Stopped);
        }
        Ok(())
    }

    /// Run supersteps until the run completes, stops or fails; public events go to `sink`.
    pub fn run_to_end(&mut self, sink: &mut dyn EventSink) -> &Ending {
        while self.state.ending.is_none() {
            self.superstep(sink);
        }
        self.state.ending.as_ref().expect("the loop ends only with an ending")
    }

    /// Run one superstep (or end the run if nothing is left to do).
    pub fn superstep(&mut self, sink: &mut dyn EventSink) {
        if self.state.ending.is_some() {
            return;
        }
        if self.state.pending.is_empty() {
            self.state.ending = Some(Ending::Completed);
            return;
        }
        let limit = self.process.loaded.definition.max_supersteps();
        if self.state.superstep >= limit {
            self.state.ending = Some(Ending::Failed {
                error: RunError {
                    kind: "superstep-limit".into(),
                    message: format!(
                        "the run reached the superstep limit of {limit} with {} messages still queued; raise \
                         `limits.maxSupersteps` in the definition, or give the cycle an exit",
                        self.state.pending.len()
                    ),
                    step: None,
                    function: None,
                },
            });
            return;
        }
        self.state.superstep += 1;
        for m in std::mem::take(&mut self.state.pending) {
            self.state.queues[m.to.step][m.to.function].push(m.to.param, m.data);
        }
        let mut stop = false;
        for step in 0..self.process.steps.len() {
            let description = &self.process.steps[step].component.description;
            for (function, f) in description.functions.iter().enumerate() {
                while let Some(args) = self.state.queues[step][function].take_ready(f) {
                    match self.invoke(step, function, args, sink) {
                        Ok(stopped) => stop |= stopped,
                        Err(error) => {
                            self.state.ending = Some(Ending::Failed { error });
                            return;
                        }
                    }
                }
            }
        }
        if stop {
            self.state.ending = Some(Ending::Stopped);
        }
    }

    /// Invoke one function and route what it emitted. `Ok(true)` when a `stop` edge fired; `Err` when it
    /// failed and no `OnError` edge handles the failure.
    fn invoke(
        &mut self,
        step: usize,
        function: usize,
        args: Vec<Option<Json>>,
        sink: &mut dyn EventSink,
    ) -> Result<bool, RunError> {
        let name = &self.process.steps[step].component.description.functions[function].name;
        self.state.invocations += 1;
        let state = self.state.step_states[step].as_ref();
        match self.instances.invoke(self.process, step, function, args, state) {
            Ok(invoked) => {
                self.state.step_states[step] = invoked.state;
                let mut stop = false;
                for event in invoked.events {
                    stop |= self.route(step, event, sink);
                }
                let routes = self.process.routing.result_routes(step, function);
                stop |= deliver(&mut self.state.pending, routes, &invoked.result);
                if self.state.pending.len() > MAX_QUEUED_MESSAGES {
                    return Err(RunError {
                        kind: "message-limit".into(),
                        message: format!(
                            "more than {MAX_QUEUED_MESSAGES} messages are queued for the next superstep; look for an \
                             edge that multiplies events in a cycle"
                        ),
                        step: Some(self.process.steps[step].id.clone()),
                        function: Some(name.clone()),
                    });
                }
                Ok(stop)
            }
            Err((kind, message)) => {
                let step_id = &self.process.steps[step].id;
                let error =
                    RunError { kind: kind.into(), message, step: Some(step_id.clone()), function: Some(name.clone()) };
                self.route_error(step, function, error)
            }
        }
    }

    /// Route a failure of function `function` of step `step` (SEMANTICS.md, "Errors"): to the step's `error`
    /// edge for the function, else to the process's error handler (unless the failing step is one of the
    /// handler's own targets, which could loop), else fail the run. `Ok(true)` when a `stop` edge fired.
    fn route_error(&mut self, step: usize, function: usize, error: RunError) -> Result<bool, RunError> {
        let data =
            json!({"type": error.kind, "message": error.message, "step": error.step, "function": error.function});
        let data = Json::from_value(&data).expect("a flat object of strings is within the depth limit");
        let routes = self.process.routing.error_routes(step, function);
        if !routes.is_empty() {
            return Ok(deliver(&mut self.state.pending, routes, &data));
        }
        let handler = self.process.routing.error_handler();
        let handler_targets_this_step = handler.iter().any(|r| matches!(r, Route::Deliver(d) if d.step == step));
        if handler.is_empty() || handler_targets_this_step {
            return Err(error);
        }
        Ok(deliver(&mut self.state.pending, handler, &data))
    }

    /// Queue an event a step emitted for every edge listening to it; publish it if public; record it in the
    /// run's history if it would otherwise vanish: internal, and no edge listens (SEMANTICS.md rule 8).
    /// Returns whether a `stop` edge fired.
    fn route(&mut self, step: usize, event: Emitted, sink: &mut dyn EventSink) -> bool {
        let routes = self.process.routing.routes(Source::Step(step), &event.event_type);
        let stop = deliver(&mut self.state.pending, routes, &event.data);
        let unrouted = routes.is_empty() && !event.public;
        if event.public || unrouted {
            let record = EventRecord {
                id: self.state.event_id(),
                event_type: event.event_type,
                step: self.process.steps[step].id.clone(),
                superstep: self.state.superstep,
                data: event.data,
            };
            if event.public {
                sink.publish(self.process.name(), &self.state.instance_id, &record);
            }
            if unrouted {
                self.state.unrouted.push(record);
            }
        }
        stop
    }
}

/// Queue `data` for every delivery in `routes` (each target gets its own copy, SEMANTICS.md rule 4); true
/// when one of them is `stop`.
fn deliver(pending: &mut Vec<Message>, routes: &[Route], data: &Json) -> bool {
    let mut stop = false;
    for route in routes {
        match route {
            Route::Stop => stop = true,
            Route::Deliver(to) => pending.push(Message { to: *to, data: data.clone() }),
        }
    }
    stop
}
