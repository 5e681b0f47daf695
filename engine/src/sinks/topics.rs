//! Where events sent to external topics go (a definition's `sinks`): each topic to standard output or
//! appended to a file, as CloudEvents JSON lines, or POSTed to a webhook; public events, and topics
//! without a sink, to the default output (docs/semantics.md, "External topics").

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use weft_definitions::SinkTo;

use crate::load::Process;
use crate::runner::EventRecord;
use crate::sinks::cloudevents::{JsonLines, TOPIC_ATTRIBUTE, to_json};
use crate::sinks::webhook::{Outcome, Webhook};
use crate::sinks::{CloudEventSink, EventSink};

/// Sends each event to its topic's sink, everything else to the default output.
pub struct TopicSinks<W: Write> {
    default: JsonLines<W>,
    /// Topic → file, relative paths resolved against the definition's folder.
    files: HashMap<String, PathBuf>,
    open: HashMap<String, File>,
    /// Topic → its webhook's worker.
    webhooks: HashMap<String, Webhook>,
    /// The first error of an in-memory run's publishing (a durable run gets it back from each call).
    pub error: Option<String>,
}

impl<W: Write> TopicSinks<W> {
    /// The sinks `process` declares; the rest goes to `out`.
    pub fn new(process: &Process, out: W) -> Self {
        let folder = process.loaded.file.parent().map(PathBuf::from).unwrap_or_default();
        let mut files = HashMap::new();
        let mut webhooks = HashMap::new();
        for sink in &process.loaded.definition.sinks {
            match &sink.to {
                SinkTo::File(f) => drop(files.insert(sink.topic.clone(), folder.join(&f.file))),
                SinkTo::Webhook(w) => drop(webhooks.insert(sink.topic.clone(), Webhook::start(w))),
                SinkTo::Stdout(_) => {}
            }
        }
        TopicSinks { default: JsonLines::new(out), files, open: HashMap::new(), webhooks, error: None }
    }

    /// Wait for every webhook to deliver what it was handed (each retries with backoff, so this may take
    /// a while when one is down); what each did, by topic, as `(topic, url, outcome)`.
    pub fn finish(self) -> Vec<(String, String, Outcome)> {
        let mut done: Vec<_> = self
            .webhooks
            .into_iter()
            .map(|(topic, webhook)| (topic, webhook.url().to_owned(), webhook.finish()))
            .collect();
        done.sort_by(|a, b| a.0.cmp(&b.0));
        done
    }

    /// Write `json` to the sink of `topic`, or to the default output.
    fn send(&mut self, id: &str, topic: Option<&str>, json: &str) -> Result<(), String> {
        if let Some(webhook) = topic.and_then(|t| self.webhooks.get(t)) {
            return webhook.send(id, json);
        }
        let Some((topic, path)) = topic.and_then(|t| self.files.get_key_value(t)) else {
            return self.default.publish_json(id, json);
        };
        let file = match self.open.get_mut(topic) {
            Some(file) => file,
            None => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open the sink of topic \"{topic}\", {}: {e}", path.display()))?;
                self.open.entry(topic.clone()).or_insert(file)
            }
        };
        writeln!(file, "{json}")
            .and_then(|_| file.flush())
            .map_err(|e| format!("cannot write to the sink of topic \"{topic}\", {}: {e}", path.display()))
    }
}

impl<W: Write> EventSink for TopicSinks<W> {
    fn publish(&mut self, process: &str, instance: &str, event: &EventRecord) {
        if self.error.is_none() {
            let json = to_json(process, instance, event);
            self.error = self.send(&event.id, event.topic.as_deref(), &json).err();
        }
    }
}

impl<W: Write> CloudEventSink for TopicSinks<W> {
    fn publish_json(&mut self, id: &str, json: &str) -> Result<(), String> {
        // Only an event sent to a topic carries the attribute; the others are not parsed.
        let topic = json
            .contains(TOPIC_ATTRIBUTE)
            .then(|| serde_json::from_str::<serde_json::Value>(json).ok())
            .flatten()
            .and_then(|v| v.get(TOPIC_ATTRIBUTE).and_then(|t| t.as_str()).map(str::to_owned));
        self.send(id, topic.as_deref(), json)
    }
}
