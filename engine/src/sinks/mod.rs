//! Sinks: where a run's public events go. [`cloudevents`] turns them into CloudEvents 1.0 and writes
//! them as JSON lines; [`topics`] sends events of external topics to their sinks, [`webhook`] POSTs
//! them over HTTP; a `Vec<EventRecord>` collects them (for tests and embedding).

pub mod cloudevents;
pub mod topics;
pub mod webhook;

use crate::runner::EventRecord;

/// Receives every public event of a run, in emission order.
pub trait EventSink {
    /// One public event of instance `instance` of process `process`.
    fn publish(&mut self, process: &str, instance: &str, event: &EventRecord);
}

impl EventSink for Vec<EventRecord> {
    fn publish(&mut self, _process: &str, _instance: &str, event: &EventRecord) {
        self.push(event.clone());
    }
}

/// Receives every public event of a durable run as CloudEvents JSON, in order, after it was committed.
/// An event may come again after a crash, with the same `id` (at least once; exactly once to a consumer
/// that de-duplicates by `id`).
pub trait CloudEventSink {
    /// One event: its CloudEvent `id` and its structured-mode JSON text.
    ///
    /// Errors: why it could not be delivered (the event stays unpublished and is offered again later).
    fn publish_json(&mut self, id: &str, json: &str) -> Result<(), String>;
}

impl CloudEventSink for Vec<String> {
    fn publish_json(&mut self, _id: &str, json: &str) -> Result<(), String> {
        self.push(json.to_owned());
        Ok(())
    }
}

/// Drops every event (for benchmarks).
pub struct Discard;

impl EventSink for Discard {
    fn publish(&mut self, _process: &str, _instance: &str, _event: &EventRecord) {}
}

impl CloudEventSink for Discard {
    fn publish_json(&mut self, _id: &str, _json: &str) -> Result<(), String> {
        Ok(())
    }
}
