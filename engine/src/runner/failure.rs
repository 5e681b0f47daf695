//! Why an invocation or a run failed, typed (DESIGN.md, "Typed errors inside the engine"). The wire form is
//! the kebab-case name (`"memory-limit"`), as in an `F.OnError` event's `type` and a failed run's summary.

use serde::{Deserialize, Serialize};

/// The kind of a failure: what happened, so that a caller can decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The kernel function ran and reported a failure (a business error). Retrying may help.
    Failed,
    /// An argument was missing or did not fit its parameter: fix the edge or the data.
    BadArgument,
    /// The step could not read its state snapshot.
    BadState,
    /// The component has no kernel function of that name.
    UnknownFunction,
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access); its instance is replaced.
    Trap,
    /// The invocation ran past its deadline.
    Timeout,
    /// The instance tried to grow its memory past the cap.
    MemoryLimit,
    /// The guest returned or emitted something unusable (not JSON, a reserved name).
    InvalidOutput,
    /// The guest emitted more events, or larger event data or state, than its limits allow.
    OutputLimit,
    /// Too many messages were queued for the next superstep.
    MessageLimit,
    /// The run reached its superstep limit.
    SuperstepLimit,
    /// An edge's `when` condition failed on an event (e.g. arithmetic on a string).
    ConditionFailed,
}

impl ErrorKind {
    /// The wire name, e.g. `memory-limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Failed => "failed",
            ErrorKind::BadArgument => "bad-argument",
            ErrorKind::BadState => "bad-state",
            ErrorKind::UnknownFunction => "unknown-function",
            ErrorKind::Trap => "trap",
            ErrorKind::Timeout => "timeout",
            ErrorKind::MemoryLimit => "memory-limit",
            ErrorKind::InvalidOutput => "invalid-output",
            ErrorKind::OutputLimit => "output-limit",
            ErrorKind::MessageLimit => "message-limit",
            ErrorKind::SuperstepLimit => "superstep-limit",
            ErrorKind::ConditionFailed => "condition-failed",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Why one invocation failed, before it is placed at a step and function.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What happened.
    pub kind: ErrorKind,
    /// Human-readable reason.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into() }
    }
}

/// A failure with where it happened: the data of an `F.OnError` event, and the error of a failed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunError {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    /// Human-readable reason.
    pub message: String,
    /// Step id, when a step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Kernel function, when one failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.step, &self.function) {
            (Some(s), Some(func)) => write!(f, "step \"{s}\", function \"{func}\": {} ({})", self.message, self.kind),
            _ => write!(f, "{} ({})", self.message, self.kind),
        }
    }
}
