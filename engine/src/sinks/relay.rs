//! The outbox relay: publishes what a run committed to its outbox, each event to its sink, and
//! acknowledges each sink's progress to the store (docs/durability.md, "Publishing").
//!
//! An outbox event goes to the sink of its topic: a file, a webhook, or (public events, and topics
//! without a sink of their own) the default output, the driving command's standard output. Each sink has
//! a cursor in the store: every one of its events up to the cursor's position was acknowledged, so a
//! driver that opens the instance offers again exactly what its sinks never acknowledged. The default
//! output acknowledges once its lines are flushed and a file once it is synced; those acknowledgements
//! ride on the run's next commit ([`Relay::take_acks`]). A webhook's worker commits each acknowledgement
//! itself as the answer arrives.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use weft_definitions::SinkTo;

use crate::load::Process;
use crate::sinks::file::FileSink;
use crate::sinks::webhook::{Ledger, Outcome, Webhook};
use crate::store::records::DEFAULT_SINK;
use crate::store::{OutboxEvent, Store};

/// The cursor key of the sink that publishes events of `topic` in `process`: `topic:<name>` for a topic
/// with a file or webhook sink, else [`DEFAULT_SINK`].
pub fn sink_key(process: &Process, topic: Option<&str>) -> String {
    let own = topic.filter(|t| {
        process.loaded.definition.sinks.iter().any(|s| s.topic == *t && !matches!(s.to, SinkTo::Stdout(_)))
    });
    own.map_or_else(|| DEFAULT_SINK.to_owned(), topic_sink)
}

/// The cursor key of the file or webhook sink of `topic`: `topic:<name>`.
fn topic_sink(topic: &str) -> String {
    format!("topic:{topic}")
}

/// The sinks of one instance's events.
pub struct Relay<W: Write> {
    default: W,
    /// Topic → its file (relative paths resolved against the definition's folder).
    files: HashMap<String, FileSink>,
    /// Topic → its webhook's worker.
    webhooks: HashMap<String, Webhook>,
    /// Acknowledgements not yet committed: sink → outbox position.
    acks: BTreeMap<String, u64>,
    /// What the webhooks of sinks replaced by [`Relay::resink`] did.
    finished: Vec<WebhookReport>,
}

/// The file and webhook sinks `process` declares for instance `instance` of `store`, by topic (relative
/// file paths resolved against the definition's folder).
fn sinks(
    process: &Process,
    store: Arc<dyn Store>,
    instance: &str,
) -> (HashMap<String, FileSink>, HashMap<String, Webhook>) {
    let folder = process.loaded.file.parent().map(PathBuf::from).unwrap_or_default();
    let mut files = HashMap::new();
    let mut webhooks = HashMap::new();
    for sink in &process.loaded.definition.sinks {
        match &sink.to {
            SinkTo::File(f) => drop(files.insert(sink.topic.clone(), FileSink::new(folder.join(&f.file)))),
            SinkTo::Webhook(w) => {
                let ledger = Ledger { store: store.clone(), instance: instance.into(), sink: topic_sink(&sink.topic) };
                drop(webhooks.insert(sink.topic.clone(), Webhook::start(w, ledger)));
            }
            SinkTo::Stdout(_) => {}
        }
    }
    (files, webhooks)
}

/// What one webhook did, by topic: `(topic, url, outcome)`.
pub type WebhookReport = (String, String, Outcome);

impl<W: Write> Relay<W> {
    /// The sinks `process` declares for instance `instance` of `store`; the rest goes to `out`.
    pub fn new(process: &Process, store: Arc<dyn Store>, instance: &str, out: W) -> Self {
        let (files, webhooks) = sinks(process, store, instance);
        Relay { default: out, files, webhooks, acks: BTreeMap::new(), finished: Vec::new() }
    }

    /// Publish from now on to the sinks `process` declares (the instance was rebound to it): the webhooks
    /// of the sinks before first deliver what they were handed (their reports come with
    /// [`Relay::finish_webhooks`]); acknowledgements not yet committed are kept.
    pub fn resink(&mut self, process: &Process, store: Arc<dyn Store>, instance: &str) {
        self.finished = self.finish_webhooks();
        (self.files, self.webhooks) = sinks(process, store, instance);
    }

    /// Publish `events` (committed, in outbox order) to their sinks: hand each webhook its events, append
    /// each file's lines and sync it, write the rest to the default output and flush it. What the default
    /// output and the files took is acknowledged at the run's next commit.
    ///
    /// Errors: the first sink that failed (its events stay unacknowledged and are offered again by the
    /// instance's next driver).
    pub fn publish(&mut self, events: &[OutboxEvent]) -> Result<(), String> {
        let mut by_file: BTreeMap<&str, Vec<&OutboxEvent>> = BTreeMap::new();
        let mut wrote_default = Vec::new();
        for event in events {
            let topic = event.topic.as_deref();
            if let Some(webhook) = topic.and_then(|t| self.webhooks.get(t)) {
                webhook.send(event.seq, &event.id, &event.json, false)?;
            } else if let Some(topic) = topic.filter(|t| self.files.contains_key(*t)) {
                by_file.entry(topic).or_default().push(event);
            } else {
                writeln!(self.default, "{}", event.json).map_err(|e| format!("cannot write an event: {e}"))?;
                wrote_default.push(event);
            }
        }
        self.default.flush().map_err(|e| format!("cannot write an event: {e}"))?;
        for event in wrote_default {
            self.ack(&event.sink, event.seq);
        }
        for (topic, events) in by_file {
            let Some(file) = self.files.get_mut(topic) else { continue };
            file.append(events.iter().map(|e| e.json.as_str()))
                .map_err(|e| format!("the sink of topic \"{topic}\": {e}"))?;
            for event in events {
                self.ack(&event.sink, event.seq);
            }
        }
        Ok(())
    }

    /// Offer dead letters again (each with its outbox event) to their webhooks; a webhook that takes one
    /// removes it from the dead letters.
    ///
    /// Errors: a dead letter whose topic has no webhook sink now (nothing was offered after it).
    pub fn redeliver(&mut self, letters: &[OutboxEvent]) -> Result<(), String> {
        for event in letters {
            let topic = event.topic.as_deref().unwrap_or_default();
            let webhook = self.webhooks.get(topic).ok_or_else(|| {
                format!("event {} was refused by the sink of topic \"{topic}\", which is no webhook any more", event.id)
            })?;
            webhook.send(event.seq, &event.id, &event.json, true)?;
        }
        Ok(())
    }

    fn ack(&mut self, sink: &str, seq: u64) {
        let cursor = self.acks.entry(sink.to_owned()).or_default();
        *cursor = (*cursor).max(seq);
    }

    /// The acknowledgements to commit: `(sink, up to this outbox position)`.
    pub fn take_acks(&mut self) -> Vec<(String, u64)> {
        std::mem::take(&mut self.acks).into_iter().collect()
    }

    /// Wait for every webhook to deliver what it was handed (each retries with backoff, so this may take a
    /// while when one is down); what each did, by topic. Their acknowledgements are committed already.
    pub fn finish_webhooks(&mut self) -> Vec<WebhookReport> {
        let mut done = std::mem::take(&mut self.finished);
        done.extend(
            std::mem::take(&mut self.webhooks)
                .into_iter()
                .map(|(topic, webhook)| (topic, webhook.url().to_owned(), webhook.finish())),
        );
        done.sort_by(|a, b| a.0.cmp(&b.0));
        done
    }
}

/// A relay dropped without [`crate::durable::Driver::finish`] (a driver's error path) still waits for its
/// webhooks, so that no worker posts or records after the driver let go of the instance.
impl<W: Write> Drop for Relay<W> {
    fn drop(&mut self) {
        for (topic, url, outcome) in self.finish_webhooks() {
            if let Some((why, left)) = outcome.failed {
                tracing::warn!(topic, url, left, "a webhook did not take every event: {why}");
            }
        }
    }
}
