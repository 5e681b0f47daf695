//! The load test of `weft serve` (docs/serving.md, "What is promised across a crash"): thousands of
//! support tickets (`tests/processes/ticket-load.yaml`) started over HTTP on loopback by a client of
//! several threads, a third in batched mode, a third each in structured and binary mode, every start sent
//! twice (the second answered as a duplicate); half of them answered by an `AgentReplied` posted to the
//! process and found by its correlation key, the rest escalated by their 72-hour timeout when the injected
//! clock moves. Every ticket also pays a fee through an outside payment service on loopback.
//!
//! Checked at the end: every instance completed; every public event published, each exactly once by id
//! (one `TicketTriaged`, one `Paid`, and a `TicketResolved` or a `TicketEscalated` as the ticket was
//! answered or not); the payment service saw one idempotency key per ticket, always with the same body.
//! The second test runs the same load while the server is killed with SIGKILL at 5 random moments and
//! started again each time: the same end, nothing lost, nothing doubled (an event re-published after a
//! kill comes with its id, and the same body).
//!
//! `WEFT_LOAD_TICKETS` sets the number of tickets (10,000 by default).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::{Launch, Server};
use crate::service::{Reply, Service};
use crate::{killed_output, random_delay, root};

/// Client threads posting at once.
const CLIENTS: usize = 8;
/// Events per batched request.
const BATCH: usize = 25;
/// How long a phase may take before the test fails.
const PHASE: Duration = Duration::from_secs(900);
/// The process's name.
const PROCESS: &str = "ticket-load";

/// Tickets in the load.
fn tickets() -> usize {
    std::env::var("WEFT_LOAD_TICKETS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000)
}

/// A copy of the load's process in `dir`, its components at their built paths and its payment service at
/// `port`; the definition's path.
fn process_in(dir: &Path, port: u16) -> String {
    let text = std::fs::read_to_string(root().join("tests/processes/ticket-load.yaml")).unwrap();
    let text = text
        .replace("{examples}", &root().join("examples").to_string_lossy())
        .replace("{steps}", &root().join("tests/steps").to_string_lossy())
        .replace("{port}", &port.to_string());
    let file = dir.join("ticket-load.yaml");
    std::fs::write(&file, text).unwrap();
    file.to_string_lossy().into_owned()
}

/// Ticket `i`'s `NewTicket` CloudEvent.
fn new_ticket(i: usize) -> Value {
    const SUBJECTS: [&str; 4] = ["Site down", "Export is broken", "Refund for last invoice", "How do I add a user?"];
    let plan = if i.is_multiple_of(5) { "enterprise" } else { "team" };
    json!({"specversion": "1.0", "id": format!("new-{i}"), "source": "/crm", "type": "NewTicket",
           "data": {"id": format!("T-{i}"), "customer": format!("customer-{i}"), "plan": plan,
                    "subject": SUBJECTS[i % 4], "body": "Please help."}})
}

/// The agent's reply to ticket `i`, addressed to the process with the ticket id as its `subject`.
fn reply(i: usize) -> Value {
    json!({"specversion": "1.0", "id": format!("reply-{i}"), "source": "/mail", "type": "AgentReplied",
           "subject": format!("T-{i}"), "data": {"ticketId": format!("T-{i}"), "agent": "Ada", "message": "Fixed."}})
}

/// Whether ticket `i` is answered (the others are escalated).
fn answered(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// A client of the server at a fixed port: a request that finds no server (killed, starting again) or a
/// stopping one is sent again, the same, until it is answered.
struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(port: u16) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client { base: format!("http://127.0.0.1:{port}"), agent }
    }

    /// Send a request until it is answered with something other than 503 (stopping) or 429 (backlog):
    /// its status and JSON answer.
    fn send(&self, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, Value) {
        let started = Instant::now();
        loop {
            let url = format!("{}{path}", self.base);
            let sent = match body {
                Some(body) => {
                    let mut request = self.agent.post(&url);
                    for (k, v) in headers {
                        request = request.header(*k, *v);
                    }
                    request.send(body)
                }
                None => self.agent.get(&url).call(),
            };
            if let Ok(mut response) = sent {
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                if status != 503 && status != 429 {
                    return (status, serde_json::from_str(&text).unwrap_or(Value::String(text)));
                }
            }
            assert!(started.elapsed() < PHASE, "no answer to {path} in {PHASE:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start ticket `i` alone, in structured or binary mode: the instance and whether it was a duplicate.
    fn start_one(&self, i: usize) -> (String, bool) {
        let event = new_ticket(i);
        let id = format!("L-{i}");
        let path = format!("/processes/{PROCESS}/events");
        let (status, body) = if i % 3 == 1 {
            let headers = [("content-type", "application/cloudevents+json"), ("weft-instance-id", &id)];
            self.send(&path, &headers, Some(&event.to_string()))
        } else {
            let ce_id = event["id"].as_str().unwrap();
            let headers = [
                ("content-type", "application/json"),
                ("ce-specversion", "1.0"),
                ("ce-id", ce_id),
                ("ce-source", "/crm"),
                ("ce-type", "NewTicket"),
                ("weft-instance-id", &id),
            ];
            self.send(&path, &headers, Some(&event["data"].to_string()))
        };
        assert_eq!(status, 202, "ticket {i}: {body}");
        (body["instance"].as_str().unwrap().to_owned(), body["duplicate"].as_bool().unwrap())
    }

    /// Start `batch` in one batched request: each one's instance and whether it was a duplicate.
    fn start_batch(&self, batch: &[usize]) -> Vec<(String, bool)> {
        let events: Vec<Value> = batch.iter().map(|i| new_ticket(*i)).collect();
        let headers = [("content-type", "application/cloudevents-batch+json")];
        let path = format!("/processes/{PROCESS}/events");
        let (status, body) = self.send(&path, &headers, Some(&Value::from(events).to_string()));
        assert_eq!(status, 202, "batch {batch:?}: {body}");
        let answers = body["events"].as_array().unwrap();
        assert_eq!(answers.len(), batch.len(), "{body}");
        answers.iter().map(|a| (a["instance"].as_str().unwrap().to_owned(), a["duplicate"] == true)).collect()
    }

    /// How many instances of the process have `status`, paging through `GET /instances`.
    fn count(&self, status: &str) -> usize {
        let mut count = 0;
        let mut after = String::new();
        loop {
            let path = format!("/instances?process={PROCESS}&status={status}&limit=1000{after}");
            let (code, page) = self.send(&path, &[], None);
            assert_eq!(code, 200, "{page}");
            count += page["instances"].as_array().unwrap().len();
            match page["next"].as_str() {
                Some(next) => after = format!("&after={}", percent(next)),
                None => return count,
            }
        }
    }

    /// Wait until `n` instances have `status`.
    fn wait_count(&self, status: &str, n: usize) {
        let started = Instant::now();
        loop {
            let now = self.count(status);
            if now == n {
                return;
            }
            assert!(started.elapsed() < PHASE, "{now} of {n} instances {status} after {PHASE:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// `text` percent-encoded for a query string.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Start every ticket from `CLIENTS` threads: ticket `i`'s instance and whether it was a duplicate.
fn start_all(client: &Client, n: usize) -> BTreeMap<usize, (String, bool)> {
    let started = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let started = &started;
            scope.spawn(move || {
                let mine: Vec<usize> = (0..n).filter(|i| i % CLIENTS == c).collect();
                let (batched, single): (Vec<usize>, Vec<usize>) = mine.into_iter().partition(|i| i.is_multiple_of(3));
                for i in single {
                    let answer = client.start_one(i);
                    started.lock().unwrap().insert(i, answer);
                }
                for batch in batched.chunks(BATCH) {
                    let answers = client.start_batch(batch);
                    started.lock().unwrap().extend(batch.iter().copied().zip(answers));
                }
            });
        }
    });
    started.into_inner().unwrap()
}

/// Reply to every answered ticket from `CLIENTS` threads, asserting each reply found its ticket's instance.
fn reply_all(client: &Client, instances: &BTreeMap<usize, String>) {
    let answered: Vec<(&usize, &String)> = instances.iter().filter(|(i, _)| answered(**i)).collect();
    std::thread::scope(|scope| {
        for part in answered.chunks(answered.len().div_ceil(CLIENTS).max(1)) {
            scope.spawn(move || {
                for (i, instance) in part {
                    let path = format!("/processes/{PROCESS}/events");
                    let (status, body) = client.send(
                        &path,
                        &[("content-type", "application/cloudevents+json")],
                        Some(&reply(**i).to_string()),
                    );
                    assert_eq!((status, body["instance"].as_str()), (202, Some(instance.as_str())), "{body}");
                }
            });
        }
    });
}

/// Move the clock in file `now` to `at` (its modification time moved too, so the server's clock sees it).
fn move_clock(now: &Path, at: &str) {
    std::fs::write(now, at).unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options().write(true).open(now).unwrap().set_modified(later).unwrap();
}

/// The server of a load, which a chaos thread may kill and start again on the same port.
struct Running {
    launch: Launch,
    server: Mutex<Option<Server>>,
    printed: Mutex<Vec<String>>,
    kills: Mutex<usize>,
}

impl Running {
    /// Kill the server with SIGKILL and start it again on the same port.
    fn kill_and_restart(&self) {
        let mut server = self.server.lock().unwrap();
        if let Some(killed) = server.take() {
            self.printed.lock().unwrap().push(killed.kill());
            *self.kills.lock().unwrap() += 1;
        }
        *server = Some(self.launch.start());
    }

    /// Stop the server with SIGTERM (it must exit 0): everything every server printed.
    fn stop(&self) -> Vec<String> {
        if let Some(server) = self.server.lock().unwrap().take() {
            let (exit, out) = server.stop();
            assert!(exit.success(), "{exit:?}");
            self.printed.lock().unwrap().push(out);
        }
        std::mem::take(&mut *self.printed.lock().unwrap())
    }
}

/// Run the load of `n` tickets; with `kills`, the server is killed and started again at random moments
/// during each phase, that many times in all.
fn load(n: usize, kills: usize) {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(0, |_, _| Reply::json(&json!({"ok": true}), Duration::ZERO));
    let file = process_in(dir.path(), service.port());
    let now = dir.path().join("now");
    move_clock(&now, "2026-11-23T09:00:00Z");
    let clock = format!("@{}", now.display());
    let mut launch = Launch::new(&file, &dir.path().join("store.db"), &[("WEFT_NOW", &clock), ("WEFT_LEASE", "1s")]);
    let first = launch.start();
    launch.listen = format!("127.0.0.1:{}", first.port());
    let client = Client::new(first.port());
    let running = Arc::new(Running {
        launch,
        server: Mutex::new(Some(first)),
        printed: Mutex::default(),
        kills: Mutex::default(),
    });
    // The kills, spread over the phases: two while tickets are started, then one in each later phase.
    let chaos = |count: usize, within: Duration| {
        let running = running.clone();
        std::thread::spawn(move || {
            for _ in 0..count {
                std::thread::sleep(Duration::from_millis(200) + random_delay(within));
                running.kill_and_restart();
            }
        })
    };
    let share = |phase: usize| if kills == 0 { 0 } else { [2, 1, 1, 1][phase] * kills / 5 };

    let starting = chaos(share(0), Duration::from_secs(3));
    let first = start_all(&client, n);
    starting.join().unwrap();
    let again = chaos(share(1), Duration::from_secs(3));
    let second = start_all(&client, n);
    for (i, (instance, duplicate)) in &second {
        assert!(*duplicate, "ticket {i} sent again is a duplicate");
        assert_eq!(instance, &first[i].0, "ticket {i} sent again answers with its instance");
    }
    if kills == 0 {
        assert!(first.values().all(|(_, duplicate)| !duplicate), "every first start is new");
    }
    let instances: BTreeMap<usize, String> = first.into_iter().map(|(i, (id, _))| (i, id)).collect();
    assert_eq!(instances.values().collect::<BTreeSet<_>>().len(), n, "one instance per ticket");
    client.wait_count("waiting", n);
    again.join().unwrap();

    let replying = chaos(share(2), Duration::from_secs(2));
    reply_all(&client, &instances);
    client.wait_count("completed", n / 2 + n % 2);
    replying.join().unwrap();

    move_clock(&now, "2026-11-26T10:00:00Z");
    let escalating = chaos(share(3), Duration::from_secs(2));
    client.wait_count("completed", n);
    escalating.join().unwrap();
    let printed = running.stop();
    assert_eq!(*running.kills.lock().unwrap(), kills);
    check_published(&printed, &instances, kills == 0);
    check_payments(&service, &instances);
}

/// Every public event published, once by id: per ticket one `TicketTriaged`, one `Paid`, and a
/// `TicketResolved` or `TicketEscalated` as it was answered or not; an event printed again after a kill
/// is the same event. Without kills, nothing is printed twice.
fn check_published(printed: &[String], instances: &BTreeMap<usize, String>, uncrashed: bool) {
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    let mut lines = 0;
    for out in printed {
        for line in killed_output(out) {
            lines += 1;
            let mut event: Value = serde_json::from_str(&line).unwrap();
            // When it was printed is not part of the event.
            event.as_object_mut().unwrap().remove("time");
            let id = event["id"].as_str().unwrap().to_owned();
            if let Some(before) = by_id.insert(id.clone(), event.clone()) {
                assert_eq!(before, event, "event {id} printed again differs");
            }
        }
    }
    if uncrashed {
        assert_eq!(lines, by_id.len(), "no event printed twice");
    }
    let mut per_ticket: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in by_id.values() {
        let data = &event["data"];
        let ticket = data["ticketId"].as_str().or(data["order"]["id"].as_str()).unwrap_or_default().to_owned();
        per_ticket.entry(ticket).or_default().push(event["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(per_ticket.len(), instances.len(), "events of every ticket and no other");
    for i in instances.keys() {
        let mut types = per_ticket.remove(&format!("T-{i}")).unwrap_or_default();
        types.sort();
        let last = if answered(*i) { "TicketResolved" } else { "TicketEscalated" };
        let mut expected = vec!["Paid", "TicketTriaged", last];
        expected.sort();
        assert_eq!(types, expected, "ticket {i}");
    }
}

/// The payment service saw one idempotency key per ticket, the instance's, each with one body however
/// often it came.
fn check_payments(service: &Service, instances: &BTreeMap<usize, String>) {
    let mut bodies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for request in service.requests() {
        let key = request.header("idempotency-key").unwrap_or_default().to_owned();
        bodies.entry(key).or_default().insert(request.body.to_string());
    }
    assert_eq!(bodies.len(), instances.len(), "one key per call");
    let mut per_instance: BTreeMap<&str, Vec<&BTreeSet<String>>> = BTreeMap::new();
    for (key, seen) in &bodies {
        let instance = key.rsplit_once(":fee:").map_or(key.as_str(), |(instance, _)| instance);
        per_instance.entry(instance).or_default().push(seen);
    }
    for (i, instance) in instances {
        let keys = per_instance.get(instance.as_str()).unwrap_or_else(|| panic!("ticket {i}: no call"));
        assert_eq!(keys.len(), 1, "ticket {i}: one key: {keys:?}");
        assert_eq!(keys[0].len(), 1, "ticket {i}: one body per key: {keys:?}");
    }
}

#[test]
fn ten_thousand_tickets_over_http_end_as_they_should() {
    load(tickets(), 0);
}

#[test]
fn the_same_load_with_the_server_killed_five_times_loses_and_doubles_nothing() {
    load(tickets(), 5);
}
