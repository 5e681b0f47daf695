//! Webhook sinks over real HTTP on loopback: a `tiny_http` server stands for the receiving service.

use serde_json::Value;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::service::{Reply, Service};
use crate::{command, root, text, wait_for, weft_in};

/// A webhook receiver that answers 503 to its first `failures` requests, then 200.
pub fn receiver(port: u16, failures: usize) -> Service {
    Service::start(port, move |i, _| Reply::status(if i < failures { 503 } else { 200 }))
}

/// A counter that loops 5 rounds; each `Again` (data 1 to 4) also goes to the topic `Ticks`, whose sink
/// is the webhook at `url` (`extra` adds keys to it).
pub fn ticks_process(dir: &std::path::Path, url: &str, extra: &str) -> String {
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
    let hook = receiver(0, 2);
    let file = ticks_process(dir.path(), &hook.url("/events"), "");
    let store = dir.path().join("store.db");
    let out = weft_in(&store, &["run", &file, "--event", "Start", "--instance-id", "t-1"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(tick_data(&hook.accepted(), "t-1"), [1, 2, 3, 4]);
    let ids: Vec<Value> = hook.accepted().iter().map(|e| e["id"].clone()).collect();
    let requests = hook.requests();
    assert_eq!(requests.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 503, 200, 200, 200, 200]);
    assert!(
        requests
            .iter()
            .all(|r| r.header("content-type").is_some_and(|t| t.starts_with("application/cloudevents+json"))),
        "{requests:?}"
    );
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

    let hook = receiver(port, 0);
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

/// A webhook that answers with a redirect is not followed (a redirected POST would arrive as a GET without
/// its body, and its 2xx would count as delivered): the redirect is retried like a failure, reported, and
/// the events wait for the next driver, which delivers them once the service answers 2xx.
#[test]
fn a_webhook_that_redirects_is_not_followed_and_its_events_are_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let fixed = Arc::new(AtomicBool::new(false));
    let answers = fixed.clone();
    let hook = Service::start(0, move |_, r| match r.path.as_str() {
        "/events" if !answers.load(Ordering::SeqCst) => {
            Reply { headers: vec![("Location", "/elsewhere".into())], ..Reply::status(302) }
        }
        _ => Reply::status(200),
    });
    let file = ticks_process(dir.path(), &hook.url("/events"), ", attempts: 2, timeout: 2s");
    let store = dir.path().join("store.db");
    let out = weft_in(&store, &["run", &file, "--event", "Start", "--instance-id", "t-r"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("HTTP status 302 Found redirects to /elsewhere") && stderr.contains("were not delivered"),
        "{stderr}"
    );
    let requests = hook.requests();
    assert!(requests.iter().all(|r| r.method == "POST" && r.path == "/events"), "{requests:?}");
    assert_eq!(requests.len(), 2, "two attempts at the first event; the rest wait behind it");

    fixed.store(true, Ordering::SeqCst);
    let out = weft_in(&store, &["resume", "t-r"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(tick_data(&hook.accepted(), "t-r"), [1, 2, 3, 4]);
}

/// While a slow webhook delivers, the command keeps the instance held (a second `weft resume` is refused,
/// so the events are never posted twice, interleaved), and each acknowledgement is committed as it
/// arrives: a command killed after two deliveries leaves only the other two to deliver.
#[test]
fn a_slow_webhook_keeps_its_instance_held_and_each_acknowledgement_is_committed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Service::start(0, |_, _| Reply { delay: Duration::from_millis(700), ..Reply::status(200) });
    let file = ticks_process(dir.path(), &hook.url("/events"), "");
    let store = dir.path().join("store.db");
    let lease = [("WEFT_LEASE", "1500ms")];
    let mut first = command(&store, &["run", &file, "--event", "Start", "--instance-id", "t-s"], &lease)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first delivery", || !hook.requests().is_empty());
    let second = weft_in(&store, &["resume", "t-s"], &lease);
    assert_eq!(second.status.code(), Some(2), "{}", text(&second.stderr));
    assert!(text(&second.stderr).contains("\"t-s\" is held by weft pid"), "{}", text(&second.stderr));

    // Killed while the third event is in flight (each answer takes 700 ms): two acknowledgements are
    // committed already.
    wait_for("the third delivery", || hook.requests().len() >= 3);
    std::thread::sleep(Duration::from_millis(100));
    first.kill().unwrap();
    first.wait().unwrap();
    let out = weft_in(&store, &["resume", "t-s"], &lease);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let data: Vec<String> = hook.requests().iter().map(|r| r.body["data"].to_string()).collect();
    assert_eq!(data, ["1", "2", "3", "3", "4"], "only what was never acknowledged is posted again");
}

/// An event the webhook refuses for good becomes a dead letter: the events after it are delivered, `weft
/// status` lists it with the reason, and `weft redeliver` offers it again.
#[test]
fn a_refused_event_is_a_dead_letter_that_redeliver_offers_again() {
    let dir = tempfile::tempdir().unwrap();
    let accepting = Arc::new(AtomicBool::new(false));
    let answers = accepting.clone();
    let hook = Service::start(0, move |_, r| {
        let refused = r.body["data"] == 2 && !answers.load(Ordering::SeqCst);
        Reply::status(if refused { 422 } else { 200 })
    });
    let file = ticks_process(dir.path(), &hook.url("/events"), "");
    let store = dir.path().join("store.db");
    let out = weft_in(&store, &["run", &file, "--event", "Start", "--instance-id", "t-d"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is a dead letter") && stderr.contains("`weft redeliver t-d`"), "{stderr}");
    assert_eq!(tick_data(&hook.accepted(), "t-d"), [1, 3, 4], "the events after it went on");

    let status = weft_in(&store, &["status", "t-d", "--json"], &[]);
    let summary: Value = serde_json::from_str(text(&status.stdout).trim()).unwrap();
    let dead = summary["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{summary}");
    assert_eq!(dead[0]["sink"], "topic:Ticks");
    assert!(dead[0]["reason"].as_str().unwrap().contains("HTTP status 422"), "{summary}");
    let out = weft_in(&store, &["resume", "t-d"], &[]);
    assert_eq!(out.status.code(), Some(2), "a dead letter is not offered again by resume: {}", text(&out.stderr));

    accepting.store(true, Ordering::SeqCst);
    let out = weft_in(&store, &["redeliver", "t-d"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(tick_data(&hook.accepted(), "t-d"), [1, 3, 4, 2]);
    let status = weft_in(&store, &["status", "t-d", "--json"], &[]);
    let summary: Value = serde_json::from_str(text(&status.stdout).trim()).unwrap();
    assert_eq!(summary["dead_letters"], serde_json::json!([]));
}

/// A driver that fails after handing an event to a slow webhook (here the file sink of another topic
/// cannot be opened) keeps the instance until the webhook answered and the answer is recorded: the next
/// driver never posts that event again, and the failed driver let go of the instance.
#[test]
fn a_driver_that_fails_still_waits_for_its_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Service::first_call_waits(Duration::from_millis(800));
    let yaml = format!(
        "name: both\nversion: 1.0.0\nsteps:\n  - id: echo\n    component: '{}/echo.wasm'\n\
         inputs:\n  - event: Start\n    to: [{{ topic: Hook }}, {{ topic: Log }}, {{ step: echo }}]\n\
         sinks:\n  - topic: Hook\n    to: {{ webhook: '{}' }}\n  - topic: Log\n    to: {{ file: later/log.jsonl }}\n",
        root().join("tests/steps").display(),
        hook.url("/events")
    );
    let file = dir.path().join("both.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.to_string_lossy().into_owned();
    let store = dir.path().join("store.db");
    let out = weft_in(&store, &["run", &file, "--event", "Start", "--data", "\"x\"", "--instance-id", "b"], &[]);
    assert_ne!(out.status.code(), Some(0), "the file cannot be opened: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("log.jsonl"), "{}", text(&out.stderr));
    let list = weft_in(&store, &["list", "--json"], &[]);
    let info: Value = serde_json::from_str(text(&list.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(info["holder"], Value::Null, "a driver that failed let go of the instance");

    std::fs::create_dir(dir.path().join("later")).unwrap();
    let out = weft_in(&store, &["resume", "b"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(dir.path().join("later/log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert_eq!(
        hook.requests().len(),
        1,
        "the webhook's event was recorded as delivered before the first driver let go"
    );
}

/// A webhook that answers 408 or 429 (too busy now, not a refusal) is tried again, not dead-lettered: each
/// event arrives once accepted, in order, and nothing is a dead letter.
#[test]
fn a_webhook_answering_408_or_429_is_tried_again_not_dead_lettered() {
    for busy in [408, 429] {
        let dir = tempfile::tempdir().unwrap();
        let hook = Service::start(0, move |i, _| match i {
            0 | 1 => Reply { headers: vec![("Retry-After", "0".into())], ..Reply::status(busy) },
            _ => Reply::status(200),
        });
        let file = ticks_process(dir.path(), &hook.url("/events"), "");
        let store = dir.path().join("store.db");
        let out = weft_in(&store, &["run", &file, "--event", "Start", "--instance-id", "t-b"], &[]);
        assert_eq!(out.status.code(), Some(0), "{busy}: {}", text(&out.stderr));
        assert_eq!(tick_data(&hook.accepted(), "t-b"), [1, 2, 3, 4], "{busy}");
        let statuses: Vec<u16> = hook.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [busy, busy, 200, 200, 200, 200], "{busy}");
        let status = weft_in(&store, &["status", "t-b", "--json"], &[]);
        let summary: Value = serde_json::from_str(text(&status.stdout).trim()).unwrap();
        assert_eq!(summary["dead_letters"], serde_json::json!([]), "{busy}: {summary}");
    }
}
