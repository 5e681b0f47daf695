//! [`Context`]: what a kernel function can do besides returning: emit events, log, and learn its
//! invocation id.

use serde::Serialize;

use crate::Error;
use crate::bindings::weft::step::context as host;
use crate::bindings::weft::step::types::Visibility;

pub use host::LogLevel;

/// The step context handed to a kernel function that asks for it with a `&Context` parameter.
pub struct Context {
    _private: (),
}

impl Context {
    #[doc(hidden)]
    pub fn new() -> Self {
        Context { _private: () }
    }

    /// Emit an internal event `event_type` with `data`, routed to the edges that listen to this step's
    /// `event_type` in the next superstep. Errors: `data` does not serialise to JSON.
    pub fn emit<T: Serialize + ?Sized>(&self, event_type: &str, data: &T) -> Result<(), Error> {
        host::emit(event_type, &serde_json::to_string(data)?, Visibility::Internal);
        Ok(())
    }

    /// Emit a public event: routed like [`Context::emit`], and also published outside the process
    /// (printed by `weft run` as a CloudEvent). Errors: `data` does not serialise to JSON.
    pub fn emit_public<T: Serialize + ?Sized>(&self, event_type: &str, data: &T) -> Result<(), Error> {
        host::emit(event_type, &serde_json::to_string(data)?, Visibility::Public);
        Ok(())
    }

    /// Write a log line at `level`; the host tags it with the process, step and function.
    pub fn log(&self, level: LogLevel, message: &str) {
        host::log(level, message);
    }

    /// The id of this invocation, `<instance>:<step>:<n>`: the same when the superstep is re-run after a
    /// crash, so pass it to an outside system as an idempotency key.
    pub fn invocation_id(&self) -> String {
        host::invocation_id()
    }

    /// Write an `info` log line.
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }
}
