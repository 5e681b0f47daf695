//! Webhook sinks over real HTTP on loopback: a `tiny_http` server stands for the receiving service.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;

use crate::{root, text, weft_in};

/// One request the webhook server received.
#[derive(Debug, Clone)]
struct Received {
    content_type: String,
    body: Value,
    /// The status it answered with.
    status: u16,
}

/// A webhook receiver on 127.0.0.1 that answers 503 to its first `failures` requests, then 200.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, failures: usize) -> Receiver {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).expect("a loopback port"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (serving, log) = (server.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            for mut request in serving.incoming_requests() {
                let content_type = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Content-Type"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let mut log = log.lock().unwrap();
                let status = if log.len() < failures { 503 } else { 200 };
                let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
                log.push(Received { content_type, body, status });
                drop(log);
                let _ = request.respond(tiny_http::Response::empty(status));
            }
        });
        Receiver { port, received, server, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/events", self.port)
    }

    /// The events it acknowledged, in order.
    fn accepted(&self) -> Vec<Value> {
        self.received.lock().unwrap().iter().filter(|r| r.status == 200).map(|r| r.body.clone()).collect()
    }

    fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A counter that loops 5 rounds; each `Again` (data 1 to 4) also goes to the topic `Ticks`, whose sink
/// is the webhook at `url` (`extra` adds keys to it).
fn ticks_process(dir: &std::path::Path, url: &str, extra: &str) -> String {
    let yaml = format!(
        "name: ticks\nversion: 1.0.0\nsteps:\n  - id: counter\n    component: '{}/counter.wasm'\n    \
         state: {{ count: 0, limit: 5 }}\ninputs:\n  - event: Start\n    to: [{{ step: counter }}]\nedges:\n  \
         - from: {{ step: counter, event: Again }}\n    to: [{{ step: counter }}, {{ topic: Ticks }}]\n\
         sinks:\n  - topic: Ticks\n    to: {{ webhook: '{url}'{extra} }}\n",
        root().join("tests/steps").display()
    );
    let file = dir.join("ticks.yaml");
    std::fs::write(&file, yaml).unwrap();
    file.to_string_lossy().into_owned()
}

/// The data of each event, checking that each is a structured CloudEvent of topic `Ticks` from `instance`.
fn tick_data(events: &[Value], instance: &str) -> Vec<Value> {
    for event in events {
        assert_eq!(event["specversion"], "1.0", "{event}");
        assert_eq!(event["type"], "Ticks", "{event}");
        assert_eq!(event["wefttopic"], "Ticks", "{event}");
        assert_eq!(event["source"], format!("/processes/ticks/instances/{instance}/steps/counter"), "{event}");
    }
    events.iter().map(|e| e["data"].clone()).collect()
}

/// SK's ProcessCloudEventsTests with a webhook: the service answers 503 twice, and still receives each
/// event exactly once, in order, as `application/cloudevents+json`; a later `weft resume` sends nothing
/// again (the deliveries were recorded).
#[test]
fn a_webhook_that_fails_twice_then_succeeds_gets_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(0, 2);
    let file = ticks_process(dir.path(), &hook.url(), "");
    let store = dir.path().join("store.db");
    let out = weft_in(&store, &["run", &file, "--event", "Start", "--instance-id", "t-1"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(tick_data(&hook.accepted(), "t-1"), [1, 2, 3, 4]);
    let ids: Vec<Value> = hook.accepted().iter().map(|e| e["id"].clone()).collect();
    let requests = hook.requests();
    assert_eq!(requests.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 503, 200, 200, 200, 200]);
    assert!(requests.iter().all(|r| r.content_type.starts_with("application/cloudevents+json")), "{requests:?}");
    // The first event was offered three times, always the same.
    assert!(requests[..3].iter().all(|r| r.body["id"] == ids[0]));
    // Nothing of a webhook's topic goes to standard output.
    assert!(!text(&out.stdout).contains("\"Ticks\""), "{}", text(&out.stdout));

    let out = weft_in(&store, &["resume", "t-1"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("has already ended"), "{}", text(&out.stderr));
    assert_eq!(hook.requests().len(), 6, "resume delivered something again");
}

/// A webhook that is down: the run completes all the same (it never waited for the webhook), the command
/// says what was not delivered and exits 1; once the service is up, `weft resume` delivers exactly the
/// undelivered events, in order, and then there is nothing left to deliver.
#[test]
fn events_a_webhook_never_took_are_delivered_by_resume() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on (taken, then let go of), and a service started on it later.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/events");
    let file = ticks_process(dir.path(), &url, ", attempts: 2, timeout: 2s");
    let store = dir.path().join("store.db");
    let out = weft_in(&store, &["run", &file, "--event", "Start", "--instance-id", "t-2", "--json"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("4 event(s) of topic \"Ticks\" were not delivered to {url}"))
            && stderr.contains("after 2 attempts")
            && stderr.contains("`weft resume t-2` delivers them again"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("\"status\":\"completed\""), "{}", text(&out.stdout));

    let hook = Receiver::start(port, 0);
    let out = weft_in(&store, &["resume", "t-2"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(tick_data(&hook.accepted(), "t-2"), [1, 2, 3, 4]);
    let out = weft_in(&store, &["resume", "t-2"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(hook.requests().len(), 4);
}

/// A webhook URL that is not http(s) is a load error placed at the key.
#[test]
fn a_webhook_url_that_is_not_http_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = ticks_process(dir.path(), "ftp://example.com/x", "");
    let out = weft_in(&dir.path().join("store.db"), &["validate", &file], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ticks.yaml:15:20") && stderr.contains("is not an http or https URL"), "{stderr}");
}
