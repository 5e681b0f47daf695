//! [`Context`]: what a kernel function can do besides returning: emit events, log, learn its
//! invocation id, and use what the definition grants the step: configuration values, secrets, outbound
//! HTTP.

use serde::Serialize;

use crate::Error;
use crate::bindings::weft::step::types::Visibility;
use crate::bindings::weft::step::{config, events, invocation, logging, secrets};
use crate::http::{Request, Response};
use crate::testing::TestContext;

pub use logging::LogLevel;

/// The step context handed to a kernel function that asks for it with a `&Context` parameter. In a
/// component it calls the engine; under [`crate::testing`] it records what the function does instead.
pub struct Context<'a> {
    fake: Option<&'a TestContext>,
}

impl<'a> Context<'a> {
    #[doc(hidden)]
    pub fn new() -> Self {
        Context { fake: None }
    }

    /// A context that records into `fake` (see [`crate::testing`]).
    pub(crate) fn recording(fake: &'a TestContext) -> Self {
        Context { fake: Some(fake) }
    }

    fn emit_as<T: Serialize + ?Sized>(&self, event_type: &str, data: &T, visibility: Visibility) -> Result<(), Error> {
        let data = serde_json::to_string(data)?;
        match self.fake {
            Some(fake) => fake.record_event(event_type, &data, visibility == Visibility::Public)?,
            None => events::emit(event_type, &data, visibility),
        }
        Ok(())
    }

    /// Emit an internal event `event_type` with `data`, routed to the edges that listen to this step's
    /// `event_type` in the next superstep. Errors: `data` does not serialise to JSON.
    pub fn emit<T: Serialize + ?Sized>(&self, event_type: &str, data: &T) -> Result<(), Error> {
        self.emit_as(event_type, data, Visibility::Internal)
    }

    /// Emit a public event: routed like [`Context::emit`], and also published outside the process
    /// (printed by `weft run` as a CloudEvent). Errors: `data` does not serialise to JSON.
    pub fn emit_public<T: Serialize + ?Sized>(&self, event_type: &str, data: &T) -> Result<(), Error> {
        self.emit_as(event_type, data, Visibility::Public)
    }

    /// Write a log line at `level`; the host tags it with the process, step and function.
    pub fn log(&self, level: LogLevel, message: &str) {
        match self.fake {
            Some(fake) => fake.record_log(level, message),
            None => logging::log(level, message),
        }
    }

    /// The id of this invocation, `<instance>:<step>:<n>`: the same when the superstep is re-run after a
    /// crash, so pass it to an outside system as an idempotency key.
    pub fn invocation_id(&self) -> String {
        match self.fake {
            Some(fake) => fake.invocation_id.clone(),
            None => invocation::invocation_id(),
        }
    }

    /// The configuration value `name` the definition gives this step (`capabilities.config`), or `None`.
    pub fn config(&self, name: &str) -> Option<String> {
        match self.fake {
            Some(fake) => fake.config.get(name).cloned(),
            None => config::get(name),
        }
    }

    /// The secret `name` granted to this step (`capabilities.secrets`). Weft redacts its value from the
    /// step's events, result, state, errors and logs. Errors: the step was not granted it.
    pub fn secret(&self, name: &str) -> Result<String, Error> {
        match self.fake {
            Some(fake) => fake.secret_value(name),
            None => secrets::get(name).map_err(Error::new),
        }
    }

    /// Send `request` and wait for the response (`capabilities.http`: only to allowed origins, within
    /// the grant's timeout and response-size bound; redirects are not followed). Errors: the origin is
    /// not allowed, the request timed out or failed, or the response is too large; an HTTP error status
    /// is a response (see [`Response::ok`]).
    pub fn http(&self, request: Request) -> Result<Response, Error> {
        match self.fake {
            Some(fake) => fake.answer(request),
            None => request.send(),
        }
    }

    /// Write an `info` log line.
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }
}
