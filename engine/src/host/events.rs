//! `context.emit`: a step emits an event. The host checks the JSON and buffers the event; the runner
//! routes it in the next superstep (docs/semantics.md, "Order").

use crate::data::Json;
use crate::host::Visibility;

/// Most events one invocation may emit; more fails the invocation (a runaway or hostile guest).
pub const MAX_EVENTS_PER_INVOCATION: usize = 10_000;
/// Most bytes of event data one invocation may emit; more fails the invocation.
pub const MAX_BYTES_PER_INVOCATION: usize = 16 << 20;

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
#[derive(Debug, Default)]
pub struct EventBuffer {
    emitted: Vec<Emitted>,
    bytes: usize,
    refused: Option<String>,
}

impl EventBuffer {
    /// The invocation's events, or why one was refused; empties the buffer for the next invocation.
    pub fn take(&mut self) -> Result<Vec<Emitted>, String> {
        let emitted = std::mem::take(&mut self.emitted);
        self.bytes = 0;
        match self.refused.take() {
            Some(reason) => Err(reason),
            None => Ok(emitted),
        }
    }

    /// Buffer one event from the guest; the first bad one makes [`EventBuffer::take`] fail.
    pub fn push(&mut self, event_type: String, data: String, visibility: Visibility) {
        if self.refused.is_some() {
            return;
        }
        if event_type.is_empty() {
            self.refused = Some("emitted an event with an empty type".into());
            return;
        }
        if event_type.ends_with(weft_definitions::ON_RESULT) || event_type.ends_with(weft_definitions::ON_ERROR) {
            self.refused =
                Some(format!("emitted \"{event_type}\": names ending in .OnResult or .OnError are the engine's own"));
            return;
        }
        if self.emitted.len() >= MAX_EVENTS_PER_INVOCATION {
            self.refused = Some(format!("emitted more than {MAX_EVENTS_PER_INVOCATION} events in one invocation"));
            return;
        }
        self.bytes += data.len();
        if self.bytes > MAX_BYTES_PER_INVOCATION {
            self.refused =
                Some(format!("emitted more than {MAX_BYTES_PER_INVOCATION} bytes of event data in one invocation"));
            return;
        }
        match Json::parse(data) {
            Ok(data) => self.emitted.push(Emitted { event_type, data, public: visibility == Visibility::Public }),
            Err(e) => self.refused = Some(format!("emitted event \"{event_type}\" with unusable data: {e}")),
        }
    }
}
