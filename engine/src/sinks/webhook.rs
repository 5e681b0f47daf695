//! A webhook sink: a worker thread that POSTs each event of one topic to a URL as a structured-mode
//! CloudEvent (CloudEvents HTTP protocol binding 1.0.2, section 3.2:
//! <https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md>),
//! one at a time and in order, retrying with backoff. The run hands it events and never waits for it.
//!
//! The worker commits each acknowledgement to the store as it arrives (the sink's cursor moves past the
//! event), so an event acknowledged once is not offered again by a later driver, whatever happens to the
//! command after, unless a power loss or an operating-system crash loses the acknowledgement, which does
//! not wait for the disk (docs/durability.md, "Publishing").
//! A 2xx answer acknowledges. A refused connection, a timeout, 408, 429, a 5xx or a redirect (3xx: a
//! webhook never follows one, as a redirected POST would arrive as a GET without its body) is tried again
//! with backoff; when the attempts are used up (or its answer cannot be recorded in the store), the event
//! and those after it wait for the instance's next driver. Any other status refuses the event for good: it becomes a dead letter, with the reason, and the
//! events after it go on.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use weft_definitions::WebhookSink;

use crate::runner::{Clock, SystemClock};
use crate::store::{Store, StoreError};

/// The `Content-Type` of a structured-mode CloudEvent in JSON (HTTP binding, section 3.2.1).
pub const CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// Attempts per event when the definition does not say.
pub const DEFAULT_ATTEMPTS: u32 = 5;
/// How long one attempt may take when the definition does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait before the second attempt; it doubles after each attempt, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a webhook did with the events it was handed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The `id`s of the events it acknowledged (2xx), in order.
    pub delivered: Vec<String>,
    /// The events it refused for good, `(id, why)`: dead letters now.
    pub refused: Vec<(String, String)>,
    /// Why it stopped delivering, and how many events it left for the next driver (that one and those
    /// after it).
    pub failed: Option<(String, usize)>,
}

/// One event for the worker.
struct Job {
    seq: u64,
    id: String,
    json: String,
    /// A dead letter offered again (`weft redeliver`).
    redelivery: bool,
}

/// Where the worker records what happened: the instance's sink in a store.
#[derive(Clone)]
pub struct Ledger {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The instance id.
    pub instance: String,
    /// The sink's cursor key (`topic:<name>`).
    pub sink: String,
}

/// One webhook and its worker thread.
pub struct Webhook {
    url: String,
    queue: Sender<Job>,
    worker: JoinHandle<Outcome>,
}

/// How an attempt to deliver ended.
enum Delivery {
    Acknowledged,
    Refused(String),
    GaveUp(String),
}

impl Webhook {
    /// Start the worker for `sink`, recording in `ledger`.
    pub fn start(sink: &WebhookSink, ledger: Ledger) -> Webhook {
        let timeout = sink.timeout.as_ref().and_then(|d| d.millis()).map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let attempts = sink.attempts.unwrap_or(DEFAULT_ATTEMPTS).max(1);
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .build();
        let poster = Poster { agent: config.into(), url: sink.webhook.clone(), attempts, ledger };
        let (queue, events) = channel();
        let worker = std::thread::spawn(move || poster.deliver_all(&events));
        Webhook { url: sink.webhook.clone(), queue, worker }
    }

    /// The URL it posts to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queue outbox event `seq` (CloudEvent `id`, JSON `json`) for delivery; returns at once.
    /// `redelivery` marks a dead letter offered again.
    ///
    /// Errors: the worker is gone (it panicked); the event stays unacknowledged.
    pub fn send(&self, seq: u64, id: &str, json: &str, redelivery: bool) -> Result<(), String> {
        let job = Job { seq, id: id.to_owned(), json: json.to_owned(), redelivery };
        self.queue.send(job).map_err(|_| format!("the webhook worker for {} has stopped", self.url))
    }

    /// Wait until every queued event was delivered, refused or given up on.
    pub fn finish(self) -> Outcome {
        drop(self.queue);
        self.worker.join().unwrap_or_else(|_| Outcome {
            failed: Some(("the webhook worker panicked".into(), 0)),
            ..Outcome::default()
        })
    }
}

/// The worker's side: posts events, in order, until the queue closes.
struct Poster {
    agent: ureq::Agent,
    url: String,
    attempts: u32,
    ledger: Ledger,
}

impl Poster {
    fn deliver_all(&self, events: &Receiver<Job>) -> Outcome {
        let mut outcome = Outcome::default();
        for job in events {
            if let Some((_, left)) = &mut outcome.failed {
                // Order is kept: once the attempts are used up, the rest wait for the next driver.
                *left += 1;
                continue;
            }
            // An answer that cannot be recorded stops the worker like a give-up: a later acknowledgement would
            // move the sink's cursor past this event, and a refusal would then be neither a dead letter
            // nor offered again.
            let unrecorded = |e: StoreError| Some((format!("event {}: its answer cannot be recorded: {e}", job.id), 1));
            match self.deliver(&job.json) {
                Delivery::Acknowledged => match self.record(&job, None) {
                    Ok(()) => outcome.delivered.push(job.id),
                    Err(e) => outcome.failed = unrecorded(e),
                },
                Delivery::Refused(why) => match self.record(&job, Some(&why)) {
                    Ok(()) => outcome.refused.push((job.id, why)),
                    Err(e) => outcome.failed = unrecorded(e),
                },
                Delivery::GaveUp(why) => outcome.failed = Some((format!("event {}: {why}", job.id), 1)),
            }
        }
        outcome
    }

    /// Commit what became of `job`: acknowledged (`refused` none), or a dead letter.
    ///
    /// Errors: the store's.
    fn record(&self, job: &Job, refused: Option<&str>) -> Result<(), StoreError> {
        let Ledger { store, instance, sink } = &self.ledger;
        match (refused, job.redelivery) {
            (None, false) => store.ack(instance, sink, job.seq),
            (None, true) => store.redelivered(instance, job.seq),
            (Some(why), _) => store.dead_letter(instance, sink, job.seq, why, SystemClock.now_ms()),
        }
    }

    /// POST `json` until it is acknowledged, refused, or the attempts are used up.
    fn deliver(&self, json: &str) -> Delivery {
        let mut wait = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let response = self.agent.post(&self.url).header("Content-Type", CONTENT_TYPE).send(json);
            let why = match response {
                Ok(r) if r.status().is_success() => return Delivery::Acknowledged,
                Ok(r) if r.status().is_redirection() => {
                    let to = r.headers().get("Location").and_then(|l| l.to_str().ok()).unwrap_or("nowhere");
                    format!(
                        "HTTP status {} redirects to {to}; a webhook never follows a redirect: give the final URL",
                        r.status()
                    )
                }
                Ok(r) if !retried(r.status().as_u16()) => {
                    return Delivery::Refused(format!("{} refused it with HTTP status {}", self.url, r.status()));
                }
                Ok(r) => format!("HTTP status {}", r.status()),
                Err(e) => e.to_string(),
            };
            if attempt >= self.attempts {
                return Delivery::GaveUp(format!("{} did not take it after {attempt} attempts; last: {why}", self.url));
            }
            tracing::warn!(url = %self.url, attempt, "webhook delivery failed, retrying: {why}");
            std::thread::sleep(wait);
            wait = (wait * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }
}

/// Statuses worth another attempt: the request timed out, too many requests, or the server failed.
fn retried(status: u16) -> bool {
    matches!(status, 408 | 429) || status >= 500
}
