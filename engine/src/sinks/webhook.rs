//! A webhook sink: a worker thread that POSTs each event of one topic to a URL as a structured-mode
//! CloudEvent (CloudEvents HTTP protocol binding 1.0.2, section 3.2:
//! <https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md>),
//! one at a time and in order, retrying with backoff. The run hands it events and never waits for it;
//! [`Webhook::finish`] waits for the queue to drain and says which events were acknowledged, so that a
//! durable driver can record them (an event not acknowledged is delivered again by the instance's next
//! driver, with the same `id`).

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use weft_definitions::WebhookSink;

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
    /// Why it stopped delivering, and how many events it left undelivered (that one and those after it).
    pub failed: Option<(String, usize)>,
}

/// One webhook and its worker thread.
pub struct Webhook {
    url: String,
    queue: Sender<(String, String)>,
    worker: JoinHandle<Outcome>,
}

impl Webhook {
    /// Start the worker for `sink`.
    pub fn start(sink: &WebhookSink) -> Webhook {
        let timeout = sink.timeout.as_ref().and_then(|d| d.millis()).map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let attempts = sink.attempts.unwrap_or(DEFAULT_ATTEMPTS).max(1);
        let config = ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build();
        let poster = Poster { agent: config.into(), url: sink.webhook.clone(), attempts };
        let (queue, events) = channel();
        let worker = std::thread::spawn(move || poster.deliver_all(&events));
        Webhook { url: sink.webhook.clone(), queue, worker }
    }

    /// The URL it posts to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queue event `id` (CloudEvents JSON `json`) for delivery; returns at once.
    ///
    /// Errors: the worker is gone (it panicked); the event stays undelivered.
    pub fn send(&self, id: &str, json: &str) -> Result<(), String> {
        self.queue
            .send((id.to_owned(), json.to_owned()))
            .map_err(|_| format!("the webhook worker for {} has stopped", self.url))
    }

    /// Wait until every queued event was delivered or given up on.
    pub fn finish(self) -> Outcome {
        drop(self.queue);
        self.worker.join().unwrap_or_else(|_| Outcome {
            delivered: Vec::new(),
            failed: Some(("the webhook worker panicked".into(), 0)),
        })
    }
}

/// The worker's side: posts events, in order, until the queue closes.
struct Poster {
    agent: ureq::Agent,
    url: String,
    attempts: u32,
}

impl Poster {
    fn deliver_all(&self, events: &Receiver<(String, String)>) -> Outcome {
        let mut outcome = Outcome::default();
        for (id, json) in events {
            match &mut outcome.failed {
                // Order is kept: once one event is given up on, the rest wait for the next driver.
                Some((_, left)) => *left += 1,
                None => match self.deliver(&json) {
                    Ok(()) => outcome.delivered.push(id),
                    Err(why) => outcome.failed = Some((format!("event {id}: {why}"), 1)),
                },
            }
        }
        outcome
    }

    /// POST `json` until it is acknowledged, refused, or the attempts are used up.
    fn deliver(&self, json: &str) -> Result<(), String> {
        let mut wait = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let response = self.agent.post(&self.url).header("Content-Type", CONTENT_TYPE).send(json);
            let why = match response {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if !retried(r.status().as_u16()) => {
                    return Err(format!("{} refused it with HTTP status {} (not retried)", self.url, r.status()));
                }
                Ok(r) => format!("HTTP status {}", r.status()),
                Err(e) => e.to_string(),
            };
            if attempt >= self.attempts {
                return Err(format!("{} did not take it after {attempt} attempts; last: {why}", self.url));
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
