//! `weft:step/logging`: a step writes a log line. It goes to `tracing` (target `weft::step`), tagged with
//! the process, instance, step and kernel function, so it lands wherever the host's subscriber sends logs.
//! A granted secret's value is redacted from every line ([`Secrets::redact`]).

use std::sync::Arc;

use crate::host::StoreOwner;
use crate::host::bindings::weft::step::logging::{Host, LogLevel};
use crate::host::secrets::Secrets;

/// Longest log line kept, in bytes; longer lines are cut (a guest cannot flood the host's log).
pub const MAX_LOG_LINE: usize = 8 * 1024;

/// Who is logging.
#[derive(Debug, Clone)]
pub struct LogContext {
    process: String,
    instance: String,
    step: String,
    /// The kernel function being invoked, set by the runner before each call.
    pub function: String,
    secrets: Arc<Secrets>,
}

impl LogContext {
    /// Context for the step `owner` names, redacting `secrets`.
    pub fn new(owner: StoreOwner<'_>, secrets: Arc<Secrets>) -> Self {
        LogContext {
            process: owner.process.into(),
            instance: owner.instance.into(),
            step: owner.step.into(),
            function: String::new(),
            secrets,
        }
    }

    /// Name step `step` (of the same process instance) in the lines written from now on.
    pub fn hand_to(&mut self, step: &str) {
        self.step.clear();
        self.step.push_str(step);
    }

    /// Write one line at `level`.
    pub fn write(&self, level: LogLevel, message: &str) {
        let message = self.secrets.redact(cut(message));
        let (process, instance, step, function) = (&self.process, &self.instance, &self.step, &self.function);
        match level {
            LogLevel::Trace => tracing::trace!(target: "weft::step", process, instance, step, function, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "weft::step", process, instance, step, function, "{message}"),
            LogLevel::Info => tracing::info!(target: "weft::step", process, instance, step, function, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "weft::step", process, instance, step, function, "{message}"),
            LogLevel::Error => tracing::error!(target: "weft::step", process, instance, step, function, "{message}"),
        }
    }

    /// Write one line the guest printed on `stream` (`stdout` or `stderr`), at `info`.
    pub fn output(&self, stream: &str, line: &str) {
        let message = self.secrets.redact(cut(line));
        let (process, instance, step, function) = (&self.process, &self.instance, &self.step, &self.function);
        tracing::info!(target: "weft::step", process, instance, step, function, stream, "{message}");
    }
}

impl Host for LogContext {
    fn log(&mut self, level: LogLevel, message: String) {
        self.write(level, &message);
    }
}

/// `message` cut to [`MAX_LOG_LINE`] bytes, at a character boundary.
fn cut(message: &str) -> &str {
    let mut end = message.len().min(MAX_LOG_LINE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}
