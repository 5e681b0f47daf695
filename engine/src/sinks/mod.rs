//! Sinks: where a run's public events go. [`cloudevents`] turns them into CloudEvents 1.0 and writes
//! them as JSON lines; a `Vec<EventRecord>` collects them (for tests and embedding).

pub mod cloudevents;

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

/// Drops every event (for benchmarks).
pub struct Discard;

impl EventSink for Discard {
    fn publish(&mut self, _process: &str, _instance: &str, _event: &EventRecord) {}
}
