//! `weft invoke`: one kernel function of a built component, run in the real sandbox (the engine's limits,
//! no capability but the configuration values given), as a one-step process would run it: its result,
//! the events it emitted, its new state and the log lines it wrote.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};

use crate::data::Json;
use crate::host::{Grants, StoreOwner, config::Config};
use crate::load::{ProcessStep, Runtime, StepComponent, StepKind};
use crate::runner::instances::{Call, ComponentSlot};

/// One call to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// The kernel function.
    pub function: String,
    /// Arguments: a JSON object by parameter name.
    pub args: Value,
    /// The state snapshot to start from (none: the step's initial state).
    pub state: Option<Value>,
    /// The version `state` was written under (default: the component's).
    pub state_version: Option<u32>,
    /// Configuration values granted (`capabilities.config`).
    pub config: Vec<(String, String)>,
}

/// What the call gave, as `weft invoke --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Invoked {
    /// The return value (`null` for none).
    pub result: Value,
    /// The new state snapshot (`null` for a stateless step).
    pub state: Value,
    /// Events emitted, in order: `{"type", "data", "visibility"}`.
    pub events: Vec<Value>,
    /// Log lines (the guest's and what it printed), in order: `{"level", "message"}`.
    pub logs: Vec<Value>,
}

/// The call failed: `kind` as in docs/semantics.md "Failures" (`failed`, `bad-argument`, …), with the
/// log lines written before it.
#[derive(Debug, Clone, Serialize)]
pub struct Failed {
    /// The failure's kind.
    pub kind: String,
    /// Why.
    pub message: String,
    /// Log lines written before it failed.
    pub logs: Vec<Value>,
}

/// Run `request` against `component` in a sandbox of `runtime`.
///
/// Errors: a call that cannot be made (an unknown function or parameter, arguments that are not an
/// object) as `Err(Err(message))`; a call the step failed as `Err(Ok(failed))`.
pub fn invoke(
    runtime: &Runtime,
    component: Arc<StepComponent>,
    request: &Request,
) -> Result<Invoked, Result<Failed, String>> {
    let description = component.description.clone();
    let index = description.function(&request.function).ok_or_else(|| {
        let names: Vec<&str> = description.function_names().collect();
        Err(format!("the component has no kernel function {:?}; it has: {}", request.function, names.join(", ")))
    })?;
    let f = &description.functions[index];
    let Value::Object(given) = &request.args else {
        return Err(Err(format!(
            "--args must be a JSON object by parameter name, e.g. '{{\"name\": \"Ada\"}}', not {}",
            request.args
        )));
    };
    let mut args: Vec<(String, String)> = Vec::new();
    for (name, value) in given {
        if !f.params.iter().any(|p| &p.name == name) {
            let names: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
            return Err(Err(format!("{} has no parameter {name:?}; its parameters: {}", f.name, names.join(", "))));
        }
        args.push((name.clone(), value.to_string()));
    }
    let step = ProcessStep {
        id: "step".into(),
        kind: StepKind::Component(component.clone()),
        description: description.clone(),
        initial_state: None,
        initial_state_version: description.state_version,
        limits: *runtime.limits(),
        grants: Grants { config: Arc::new(Config(request.config.iter().cloned().collect())), ..Grants::default() },
    };
    let owner = StoreOwner { process: "invoke", instance: "invoke", step: "step" };
    let time_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let call = Call { instance: "invoke", step: 0, function: index, time_ms, superstep: 1, invocation: 1, item: None };
    let state = request.state.as_ref().map(Value::to_string);
    let state_version = request.state_version.unwrap_or(description.state_version);
    let borrowed: Vec<(&str, &str)> = args.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();

    let lines = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(LogCapture(lines.clone()));
    let out = tracing::subscriber::with_default(subscriber, || {
        ComponentSlot::default().call(&component, owner, &step, call, f, &borrowed, state.as_deref(), state_version)
    });
    let logs = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
    match out {
        Ok(invoked) => Ok(Invoked {
            result: invoked.result.to_value(),
            state: invoked.state.as_ref().map(Json::to_value).unwrap_or(Value::Null),
            events: invoked
                .events
                .iter()
                .map(|e| {
                    let visibility = if e.public { "public" } else { "internal" };
                    serde_json::json!({"type": e.event_type, "data": e.data.to_value(), "visibility": visibility})
                })
                .collect(),
            logs,
        }),
        Err(failure) => Err(Ok(Failed { kind: failure.kind.as_str().into(), message: failure.message, logs })),
    }
}

/// Collects the step's log lines (target `weft::step`) as `{"level", "message"}`.
struct LogCapture(Arc<Mutex<Vec<Value>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        if event.metadata().target() != "weft::step" {
            return;
        }
        let mut message = Message::default();
        event.record(&mut message);
        let level = event.metadata().level().as_str().to_lowercase();
        let mut line = serde_json::json!({"level": level, "message": message.text});
        if let Some(stream) = message.stream {
            line["stream"] = Value::String(stream);
        }
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

#[derive(Default)]
struct Message {
    text: String,
    stream: Option<String>,
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "stream" {
            self.stream = Some(value.into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.text = format!("{value:?}");
        }
    }
}
