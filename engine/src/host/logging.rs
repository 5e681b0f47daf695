//! `context.log`: a step writes a log line. It goes to `tracing` (target `weft::step`), tagged with the
//! process, step and kernel function, so it lands wherever the host's subscriber sends logs.

use crate::host::bindings::weft::step::context::LogLevel;

/// Longest log line kept, in bytes; longer lines are cut (a guest cannot flood the host's log).
pub const MAX_LOG_LINE: usize = 8 * 1024;

/// Who is logging.
#[derive(Debug, Clone)]
pub struct LogContext {
    process: String,
    step: String,
    /// The kernel function being invoked, set by the runner before each call.
    pub function: String,
}

impl LogContext {
    /// Context for step `step` of process `process`.
    pub fn new(process: &str, step: &str) -> Self {
        LogContext { process: process.into(), step: step.into(), function: String::new() }
    }

    /// Write one line at `level`.
    pub fn write(&self, level: LogLevel, message: &str) {
        let mut end = message.len().min(MAX_LOG_LINE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let message = &message[..end];
        let (process, step, function) = (&self.process, &self.step, &self.function);
        match level {
            LogLevel::Trace => tracing::trace!(target: "weft::step", process, step, function, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "weft::step", process, step, function, "{message}"),
            LogLevel::Info => tracing::info!(target: "weft::step", process, step, function, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "weft::step", process, step, function, "{message}"),
            LogLevel::Error => tracing::error!(target: "weft::step", process, step, function, "{message}"),
        }
    }
}
