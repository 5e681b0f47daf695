//! Sinks: where a run's public events go. [`cloudevents`] turns them into CloudEvents 1.0; the outbox
//! [`relay`] publishes a durable run's committed events to their sinks — the default output, a
//! [`file`] per topic, a [`webhook`] per topic — and acknowledges each sink's progress to the store. An
//! [`EventSink`] takes the events of a run driven without a store ([`crate::runner::Run::run_to_end`]);
//! a `Vec<EventRecord>` collects them (for tests and embedding).

pub mod cloudevents;
pub mod file;
pub mod relay;
pub mod webhook;

use crate::runner::EventRecord;

/// Receives every public event of a run driven without a store, in emission order.
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
