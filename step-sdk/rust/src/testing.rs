//! Test a step without a process or an engine: call a kernel function natively (`cargo test`) with a
//! [`TestContext`] that records what it emits and logs and answers what it asks (configuration values,
//! secrets, HTTP responses).
//!
//! ```ignore
//! use serde_json::json;
//! use weft_step_sdk::testing::TestContext;
//!
//! let ctx = TestContext::new().config("greeting", "Hello");
//! let out = ctx.invoke::<Greeter>("greet", json!({"name": "Ada"}), None).unwrap();
//! assert_eq!(out.result, json!("Hello, Ada!"));
//! assert_eq!(out.state, Some(json!({"greeted": 1})));
//! assert_eq!(out.events[0].event_type, "Greeted");
//! ```
//!
//! The function runs exactly as in a component (the same argument decoding, state handling and
//! migration), but natively: the sandbox's limits, redaction and determinism are the engine's and are
//! not applied here. `weft invoke` runs a built component in the real sandbox.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use crate::bindings::weft::step::types::Invocation;
use crate::glue::{Step, StepError};
use crate::http::{Request, Response};
use crate::{Context, Error, LogLevel};

/// An event a kernel function emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's type, e.g. `"Greeted"`.
    pub event_type: String,
    /// Its data.
    pub data: Value,
    /// Whether it was emitted public (`emit_public`) rather than internal.
    pub public: bool,
}

/// What one call gave.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// The return value (`Value::Null` for none).
    pub result: Value,
    /// The new state snapshot (`None` for a stateless step).
    pub state: Option<Value>,
    /// Events emitted, in order.
    pub events: Vec<Event>,
    /// Log lines written, in order.
    pub logs: Vec<(LogLevel, String)>,
    /// HTTP requests sent, in order.
    pub requests: Vec<Request>,
}

/// A recording context: configuration values, secrets and HTTP answers given up front, events, logs and
/// requests recorded per call.
#[derive(Default)]
pub struct TestContext {
    pub(crate) config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    answers: RefCell<VecDeque<Response>>,
    pub(crate) invocation_id: String,
    recorded: RefCell<Recorded>,
}

#[derive(Default)]
struct Recorded {
    events: Vec<Event>,
    logs: Vec<(LogLevel, String)>,
    requests: Vec<Request>,
}

impl TestContext {
    /// A context with no configuration, no secrets, no HTTP answers, and invocation id `test:step:1`.
    pub fn new() -> Self {
        TestContext { invocation_id: "test:step:1".into(), ..TestContext::default() }
    }

    /// With configuration value `name` = `value` (`ctx.config(name)`).
    pub fn config(mut self, name: &str, value: &str) -> Self {
        self.config.insert(name.into(), value.into());
        self
    }

    /// With secret `name` = `value` (`ctx.secret(name)`); any other secret is refused as not granted.
    pub fn secret(mut self, name: &str, value: &str) -> Self {
        self.secrets.insert(name.into(), value.into());
        self
    }

    /// With `response` as the answer to the next HTTP request (answers are given in order; a request with
    /// none left fails as the engine fails a refused one).
    pub fn http_answer(self, response: Response) -> Self {
        self.answers.borrow_mut().push_back(response);
        self
    }

    /// Call kernel function `function` of step `S` with `args` (a JSON object by parameter name; absent
    /// optional parameters left out) and `state` (`None`: the step's `Default`), written under the step's
    /// own state version.
    ///
    /// Errors: the step's error, as the engine would receive it: `UnknownFunction`, `BadArgument`,
    /// `BadState` or `Failed`.
    pub fn invoke<S: Step>(&self, function: &str, args: Value, state: Option<Value>) -> Result<Invoked, StepError> {
        self.invoke_version::<S>(function, args, state, S::STATE_VERSION)
    }

    /// [`TestContext::invoke`] with `state` written under `state_version` (to test a migration).
    pub fn invoke_version<S: Step>(
        &self,
        function: &str,
        args: Value,
        state: Option<Value>,
        state_version: u32,
    ) -> Result<Invoked, StepError> {
        let args = match args {
            Value::Object(map) => map.into_iter().map(|(name, value)| (name, value.to_string())).collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(StepError::Failed(format!(
                    "test arguments must be a JSON object by parameter name, not {other}"
                )));
            }
        };
        let call = Invocation { function: function.into(), args, state: state.map(|s| s.to_string()), state_version };
        let outcome = crate::glue::invoke_with::<S>(&Context::recording(self), call);
        let recorded = std::mem::take(&mut *self.recorded.borrow_mut());
        let outcome = outcome?;
        let parse = |text: String| serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Invoked {
            result: outcome.result.map(parse).unwrap_or(Value::Null),
            state: outcome.state.map(parse),
            events: recorded.events,
            logs: recorded.logs,
            requests: recorded.requests,
        })
    }

    /// Record an event, or refuse it as the engine does (which stops the invocation): an empty type, or a
    /// name ending in `.OnResult` or `.OnError` (the engine's own).
    pub(crate) fn record_event(&self, event_type: &str, data: &str, public: bool) -> Result<(), Error> {
        if event_type.is_empty() || event_type.ends_with(".OnResult") || event_type.ends_with(".OnError") {
            return Err(Error::new(format!(
                "emitted {event_type:?}: an empty type, or a name ending in .OnResult or .OnError (the engine's own)"
            )));
        }
        let data = serde_json::from_str(data).unwrap_or(Value::Null);
        self.recorded.borrow_mut().events.push(Event { event_type: event_type.into(), data, public });
        Ok(())
    }

    pub(crate) fn record_log(&self, level: LogLevel, message: &str) {
        self.recorded.borrow_mut().logs.push((level, message.into()));
    }

    pub(crate) fn secret_value(&self, name: &str) -> Result<String, Error> {
        self.secrets.get(name).cloned().ok_or_else(|| {
            Error::new(format!("the step was not granted secret {name:?} (TestContext::secret gives it)"))
        })
    }

    pub(crate) fn answer(&self, request: Request) -> Result<Response, Error> {
        let description = format!("{} {}", request.method(), request.url());
        self.recorded.borrow_mut().requests.push(request);
        self.answers.borrow_mut().pop_front().ok_or_else(|| {
            Error::new(format!(
                "HTTP request not allowed: no answer left for {description} (TestContext::http_answer gives one)"
            ))
        })
    }
}
