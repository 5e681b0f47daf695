//! `weft:step/events`: a step emits an event. The host checks the JSON and buffers the event; the runner
//! routes it in the next superstep (docs/semantics.md, "Order"). A granted secret's value is redacted
//! from the data.

use std::sync::Arc;

use weft_definitions::limits::human;

use crate::data::Json;
use crate::host::Visibility;
use crate::host::bindings::weft::step::events::Host;
use crate::host::sandbox::Limits;
use crate::host::secrets::Secrets;
use crate::runner::failure::{ErrorKind, Failure};

/// Most bytes of event data one invocation may emit in all (or one event's limit, if larger): what the
/// host buffers for one invocation stays bounded whatever `maxEvents` and `maxEventSize` say.
pub const MAX_BYTES_PER_INVOCATION: usize = 64 << 20;

/// One event emitted by a kernel function, its data already checked to be JSON.
#[derive(Debug, Clone)]
pub struct Emitted {
    /// Event type (the name edges listen to).
    pub event_type: String,
    /// Event data.
    pub data: Json,
    /// Whether it leaves the process.
    pub public: bool,
}

/// Events of the current invocation, and the first reason one was refused.
#[derive(Debug)]
pub struct EventBuffer {
    emitted: Vec<Emitted>,
    bytes: usize,
    refused: Option<Failure>,
    max_events: usize,
    max_event_bytes: usize,
    secrets: Arc<Secrets>,
}

impl EventBuffer {
    /// An empty buffer enforcing `limits` (`max_events`, `max_event_bytes`), redacting `secrets`.
    pub fn new(limits: &Limits, secrets: Arc<Secrets>) -> Self {
        EventBuffer {
            emitted: Vec::new(),
            bytes: 0,
            refused: None,
            max_events: limits.max_events,
            max_event_bytes: limits.max_event_bytes,
            secrets,
        }
    }

    /// The invocation's events, or why one was refused (`invalid-output`, or `output-limit` for a limit);
    /// empties the buffer for the next invocation.
    pub fn take(&mut self) -> Result<Vec<Emitted>, Failure> {
        let emitted = std::mem::take(&mut self.emitted);
        self.bytes = 0;
        match self.refused.take() {
            Some(reason) => Err(reason),
            None => Ok(emitted),
        }
    }

    /// Buffer one event from the guest; the first bad one makes [`EventBuffer::take`] fail.
    ///
    /// Errors: a trap for the guest once it is past a limit (`output-limit`), so that a flood stops at
    /// once; [`EventBuffer::take`] then gives the reason.
    pub fn push(&mut self, event_type: String, data: String, visibility: Visibility) -> wasmtime::Result<()> {
        self.buffer(event_type, data, visibility);
        match &self.refused {
            Some(f) if f.kind == ErrorKind::OutputLimit => Err(wasmtime::format_err!("{}", f.message)),
            _ => Ok(()),
        }
    }

    fn buffer(&mut self, event_type: String, data: String, visibility: Visibility) {
        if self.refused.is_some() {
            return;
        }
        let invalid = |message: String| Some(Failure::new(ErrorKind::InvalidOutput, message));
        let limit = |message: String| Some(Failure::new(ErrorKind::OutputLimit, message));
        if event_type.is_empty() {
            self.refused = invalid("emitted an event with an empty type".into());
            return;
        }
        if event_type.ends_with(weft_definitions::ON_RESULT) || event_type.ends_with(weft_definitions::ON_ERROR) {
            self.refused = invalid(format!(
                "emitted \"{event_type}\": names ending in .OnResult or .OnError are the engine's own"
            ));
            return;
        }
        if self.emitted.len() >= self.max_events {
            let max = self.max_events;
            self.refused = limit(format!("emitted more than {max} events in one invocation (limits.maxEvents: {max})"));
            return;
        }
        if data.len() > self.max_event_bytes {
            self.refused = limit(format!(
                "emitted event \"{event_type}\" with {} of data, over its limit of {} (limits.maxEventSize)",
                human(data.len() as u64),
                human(self.max_event_bytes as u64)
            ));
            return;
        }
        self.bytes += data.len();
        let total = MAX_BYTES_PER_INVOCATION.max(self.max_event_bytes);
        if self.bytes > total {
            self.refused = limit(format!("emitted more than {} of event data in one invocation", human(total as u64)));
            return;
        }
        match Json::parse(self.secrets.redact(data).into_owned()) {
            Ok(data) => self.emitted.push(Emitted { event_type, data, public: visibility == Visibility::Public }),
            Err(e) => self.refused = invalid(format!("emitted event \"{event_type}\" with unusable data: {e}")),
        }
    }
}

impl Host for EventBuffer {
    fn emit(&mut self, event_type: String, data: String, visibility: Visibility) -> wasmtime::Result<()> {
        self.push(event_type, data, visibility)
    }
}
