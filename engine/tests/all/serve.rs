//! `weft serve` over real HTTP on loopback (docs/serving.md): CloudEvents in binary, structured and batched
//! mode start instances and reach their inboxes; duplicates are answered as such; each status code; timers
//! fire on their own when the (injected) clock moves; SIGTERM stops the server cleanly.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::server::Server;
use crate::{command, root, summary_of, text, wait_for};

/// `weft serve` of the support-ticket process on a free loopback port, with `env`.
fn start(store: &std::path::Path, env: &[(&str, &str)]) -> Server {
    Server::serving("examples/support-ticket/process.yaml", store, env)
}

/// Send `request` (HTTP/1.1 text, perhaps cut short) on a connection of its own and read the answer's
/// first bytes, waiting at most 20 s.
fn raw(server: &Server, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = [0u8; 1024];
    let n = stream.read(&mut answer).unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// A request that is refused: its path, headers and body, and the status it gets.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, u16);

fn ticket(id: &str, file: &str) -> Value {
    let data: Value = serde_json::from_str(&std::fs::read_to_string(root().join(file)).unwrap()).unwrap();
    json!({"specversion": "1.0", "id": id, "source": "/crm", "type": "NewTicket", "data": data})
}

#[test]
fn a_server_starts_instances_from_cloudevents_and_delivers_events_to_their_inboxes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let server = start(&store, &[("WEFT_NOW", "2026-11-23T09:00:00Z")]);
    let outage = ticket("t-1", "examples/support-ticket/tickets/outage.json");

    // Structured mode, the instance named by a header; the same event again is a duplicate.
    let (status, body) = server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", "T-1")]);
    assert_eq!((status, &body), (202, &json!({"instance": "T-1", "url": "/instances/T-1", "duplicate": false})));
    let (status, body) = server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", "T-9")]);
    assert_eq!((status, body["instance"].as_str(), body["duplicate"].as_bool()), (202, Some("T-1"), Some(true)));
    server.wait_status("T-1", "waiting");

    // Binary mode into the inbox, with a percent-encoded subject.
    let reply = std::fs::read_to_string(root().join("examples/support-ticket/tickets/reply-1001.json")).unwrap();
    let binary = [
        ("content-type", "application/json"),
        ("ce-specversion", "1.0"),
        ("ce-id", "r-1"),
        ("ce-source", "/desk"),
        ("ce-type", "AgentReplied"),
        ("ce-subject", "T-1%20reply"),
    ];
    let (status, body) = server.post("/instances/T-1/events", &binary, &reply);
    assert_eq!((status, body["duplicate"].as_bool()), (202, Some(false)), "{body}");
    server.wait_status("T-1", "completed");
    assert_eq!(server.status("T-1")["states"]["desk"], json!({"resolved": 1, "escalated": 0}));

    // Batched mode: two tickets, two instances.
    let batch = json!([
        ticket("t-2", "examples/support-ticket/tickets/refund.json"),
        ticket("t-3", "examples/support-ticket/tickets/outage.json")
    ]);
    let (status, body) = server.post(
        "/processes/support-ticket/events",
        &[("content-type", "application/cloudevents-batch+json")],
        &batch.to_string(),
    );
    assert_eq!(status, 202, "{body}");
    let started: Vec<String> =
        body["events"].as_array().unwrap().iter().map(|e| e["instance"].as_str().unwrap().to_owned()).collect();
    assert_eq!(started.len(), 2);
    for id in &started {
        server.wait_status(id, "waiting");
    }

    // A batch is taken in order up to its first failure: the answer is that failure's status with what
    // was accepted before it, and an event after it is never taken (posted alone later, it is new).
    let undeclared = json!({"specversion": "1.0", "id": "t-5", "source": "/crm", "type": "Nope", "data": {}});
    let after = ticket("t-6", "examples/support-ticket/tickets/refund.json");
    let batch = json!([ticket("t-4", "examples/support-ticket/tickets/refund.json"), undeclared, after]);
    let (status, body) = server.post(
        "/processes/support-ticket/events",
        &[("content-type", "application/cloudevents-batch+json")],
        &batch.to_string(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("event 2 of the batch: "), "{body}");
    assert_eq!(body["accepted"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["accepted"][0]["duplicate"], false, "{body}");
    let (status, body) = server.structured("/processes/support-ticket/events", &after, &[]);
    assert_eq!((status, body["duplicate"].as_bool()), (202, Some(false)), "never taken before: {body}");
    server.wait_status(body["instance"].as_str().unwrap(), "waiting");
    // A batch is answered as one however many events it holds: one accepted, or its first refused.
    let batched = [("content-type", "application/cloudevents-batch+json")];
    let one = json!([ticket("t-7", "examples/support-ticket/tickets/refund.json")]);
    let (status, body) = server.post("/processes/support-ticket/events", &batched, &one.to_string());
    assert_eq!((status, body["events"].as_array().map(Vec::len)), (202, Some(1)), "{body}");
    let first = json!([{"specversion": "1.0", "id": "t-8", "source": "/crm", "type": "Nope", "data": {}}]);
    let (status, body) = server.post("/processes/support-ticket/events", &batched, &first.to_string());
    assert_eq!((status, &body["accepted"]), (400, &json!([])), "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("event 1 of the batch: "), "{body}");

    // What is refused, and how.
    let cases: Vec<Case> = vec![
        (
            "/processes/nope/events",
            vec![("content-type", "application/cloudevents+json")],
            ticket("x-1", "examples/support-ticket/tickets/outage.json").to_string(),
            404,
        ),
        (
            "/instances/nope/events",
            binary.iter().map(|(k, v)| (*k, if *k == "ce-id" { "r-404" } else { v })).collect(),
            reply.clone(),
            404,
        ),
        (
            "/instances/T-1/events",
            binary.iter().map(|(k, v)| (*k, if *k == "ce-id" { "r-2" } else { v })).collect(),
            reply.clone(),
            409,
        ),
        ("/instances/T-1/events", vec![("content-type", "text/plain")], "hi".into(), 415),
        // Binary data: Weft's events carry JSON.
        (
            "/processes/support-ticket/events",
            vec![("content-type", "application/cloudevents+json")],
            r#"{"specversion":"1.0","id":"b64-1","source":"/crm","type":"NewTicket","data_base64":"aGk="}"#.into(),
            400,
        ),
        // An instance id already taken, by another event.
        (
            "/processes/support-ticket/events",
            vec![("content-type", "application/cloudevents+json"), ("weft-instance-id", "T-1")],
            ticket("t-other", "examples/support-ticket/tickets/refund.json").to_string(),
            409,
        ),
        (
            "/processes/support-ticket/events",
            vec![("content-type", "application/cloudevents+json")],
            r#"{"specversion":"1.0","source":"s","type":"NewTicket"}"#.into(),
            400,
        ),
    ];
    for (path, headers, body, expected) in cases {
        let (status, answer) = server.post(path, &headers, &body);
        assert_eq!(status, expected, "{path}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: {answer}");
    }

    // A body over 16 MiB is refused from its Content-Length, before any of it is sent.
    let answer = raw(
        &server,
        "POST /processes/support-ticket/events HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/cloudevents+json\r\nContent-Length: 17000000\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let (exit, stdout) = server.stop();
    assert!(exit.success(), "{exit:?}");
    let types: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(types.iter().filter(|t| *t == "TicketTriaged").count(), 6, "{types:?}");
    assert_eq!(types.iter().filter(|t| *t == "TicketResolved").count(), 1, "{types:?}");
}

/// A body without a `Content-Length` (chunked) is refused `413` once it passes 16 MiB, not read on into
/// memory, and nothing of it is taken.
#[test]
fn a_chunked_body_is_refused_once_past_the_bound() {
    use std::io::{Read, Write};

    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("store.db"), &[]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream
        .write_all(
            b"POST /processes/support-ticket/events HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/cloudevents+json\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap();
    // The answer is read as it comes, while the body is still being sent: the server answers and closes
    // before it has all of it.
    let mut reading = stream.try_clone().unwrap();
    reading.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let reader = std::thread::spawn(move || {
        let mut answer = [0u8; 1024];
        let n = reading.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).into_owned()
    });
    let chunk = format!("100000\r\n{}\r\n", " ".repeat(0x100000));
    // 20 chunks of 1 MiB.
    for _ in 0..20 {
        if stream.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let answer = reader.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(server.get("/instances").1["instances"], json!([]), "nothing was taken");
}

/// A ticket nobody answers is escalated at its 72-hour deadline with no request: the server fires it on
/// its own when its clock (a file here) reaches the deadline. Stopped with SIGTERM, it lets go of
/// everything: the CLI reads and drives the store at once.
#[test]
fn timers_fire_on_their_own_and_a_stopped_server_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let now = dir.path().join("now");
    std::fs::write(&now, "2026-11-23T09:00:00Z").unwrap();
    let clock = format!("@{}", now.display());
    let server = start(&store, &[("WEFT_NOW", &clock)]);
    let refund = ticket("t-1", "examples/support-ticket/tickets/refund.json");
    let (status, _) = server.structured("/processes/support-ticket/events", &refund, &[("weft-instance-id", "T-2")]);
    assert_eq!(status, 202);
    server.wait_status("T-2", "waiting");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.status("T-2")["status"], "waiting", "not before its deadline");
    std::fs::write(&now, "2026-11-26T09:00:00Z").unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options().write(true).open(&now).unwrap().set_modified(later).unwrap();
    server.wait_status("T-2", "completed");
    let (exit, stdout) = server.stop();
    assert!(exit.success());
    assert!(stdout.contains("\"type\":\"TicketEscalated\""), "{stdout}");
    let summary = summary_of(&store, "T-2");
    assert_eq!(summary["states"]["desk"], json!({"resolved": 0, "escalated": 1}));
    let list = crate::weft_in(&store, &["list", "--json"], &[]);
    let info: Value = serde_json::from_str(text(&list.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(info["holder"], Value::Null, "the server let go of it");
}

/// A process `pay` in `dir` whose one step calls a payment service on loopback that answers its first call
/// after 30 s (the others at once): the service, and the definition's path.
fn paying(dir: &std::path::Path) -> (crate::service::Service, String) {
    paying_after(dir, Duration::from_secs(30))
}

/// [`paying`], the first call answered after `wait`.
fn paying_after(dir: &std::path::Path, wait: Duration) -> (crate::service::Service, String) {
    let service = crate::service::Service::first_call_waits(wait);
    let file = crate::definition(
        dir,
        "pay",
        &format!(
            "name: pay\nversion: 1.0.0\nsteps:\n  - id: payer\n    component: '{{steps}}/payer.wasm'\n{}\
             inputs:\n  - event: Order\n    to: [{{ step: payer }}]\n",
            service.grant("/pay")
        ),
    );
    (service, file)
}

/// A server killed with SIGKILL in the middle of an outside call loses nothing: its lease runs out, the next
/// server takes the instance over, re-runs the superstep (the call again, with the same idempotency key)
/// and goes on.
#[test]
fn a_killed_server_s_instances_are_taken_over_by_the_next_server() {
    let dir = tempfile::tempdir().unwrap();
    let (service, file) = paying(dir.path());
    let store = dir.path().join("store.db");
    let lease = [("WEFT_LEASE", "1s")];
    let first = Server::serving(&file, &store, &lease);
    let order = json!({"specversion": "1.0", "id": "o-1", "source": "/shop", "type": "Order", "data": {"amount": 3}});
    let (status, _) = first.structured("/processes/pay/events", &order, &[("weft-instance-id", "o-1")]);
    assert_eq!(status, 202);
    wait_for("the call", || !service.requests().is_empty());
    first.kill();

    let second = Server::serving(&file, &store, &lease);
    second.wait_status("o-1", "completed");
    let keys: Vec<String> =
        service.requests().iter().map(|r| r.header("idempotency-key").unwrap_or_default().to_owned()).collect();
    assert_eq!(keys, ["o-1:payer:1", "o-1:payer:1"], "the same call again, with the same key");
    let (exit, stdout) = second.stop();
    assert!(exit.success());
    assert!(stdout.contains("\"type\":\"Paid\""), "{stdout}");
}

/// SIGTERM while a worker is in the middle of an outside call: the server finishes that slice (the call
/// answered, its superstep committed, the instance completed), lets go of the instance and exits 0; the
/// call was made once.
#[test]
fn a_stopped_server_finishes_the_slice_in_flight_and_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let (service, file) = paying_after(dir.path(), Duration::from_secs(3));
    let store = dir.path().join("store.db");
    let server = Server::serving(&file, &store, &[]);
    let order = json!({"specversion": "1.0", "id": "o-1", "source": "/shop", "type": "Order", "data": {"amount": 3}});
    assert_eq!(server.structured("/processes/pay/events", &order, &[("weft-instance-id", "o-1")]).0, 202);
    wait_for("the call", || !service.requests().is_empty());
    let (exit, stdout) = server.stop();
    assert!(exit.success(), "{exit:?}");
    assert!(stdout.contains("\"type\":\"Paid\""), "what the slice published went out: {stdout}");
    let summary = summary_of(&store, "o-1");
    assert_eq!(summary["status"], "completed", "{summary}");
    let keys: Vec<String> =
        service.requests().iter().map(|r| r.header("idempotency-key").unwrap_or_default().to_owned()).collect();
    assert_eq!(keys, ["o-1:payer:1"], "the call was made once");
    let db = rusqlite::Connection::open(&store).unwrap();
    let holder: Option<String> =
        db.query_row("SELECT lease_owner FROM instances WHERE id = 'o-1'", [], |r| r.get(0)).unwrap();
    assert_eq!(holder, None, "it let go of the instance");
}

/// A resume asked over HTTP while one of the server's own workers drives the instance (here: in the middle
/// of an outside call) waits for the worker to let go, and is refused when it does not within its wait:
/// the API and the workers share one lease owner, but never drive one instance at once (the call is made
/// once, not again by the resume).
#[test]
fn a_resume_of_an_instance_a_worker_drives_waits_for_it_and_never_drives_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let (service, file) = paying(dir.path());
    let store = dir.path().join("store.db");
    let server = Server::serving(&file, &store, &[]);
    let order = json!({"specversion": "1.0", "id": "o-1", "source": "/shop", "type": "Order", "data": {"amount": 3}});
    assert_eq!(server.structured("/processes/pay/events", &order, &[("weft-instance-id", "o-1")]).0, 202);
    wait_for("the call", || !service.requests().is_empty());
    let (status, answer) = server.post("/instances/o-1/resume", &[], "");
    assert_eq!(status, 409, "{answer}");
    assert!(answer.to_string().contains("is held by"), "{answer}");
    assert_eq!(service.requests().len(), 1, "the call was made once: {:?}", service.requests());
    assert_eq!(server.status("o-1")["status"], "running");
}

/// A server killed after an instance ended but before its webhook took the events: the next server
/// publishes them again, the same (docs/serving.md, "published again, the same, by the next server"),
/// though the instance needs nothing else and is never ready.
#[test]
fn a_killed_server_s_unpublished_events_of_an_ended_instance_are_published_by_the_next() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::service::{Reply, Service};

    let dir = tempfile::tempdir().unwrap();
    let down = Arc::new(AtomicBool::new(true));
    let answering = down.clone();
    let hook = Service::start(0, move |_, _| match answering.load(Ordering::SeqCst) {
        true => Reply { delay: Duration::from_secs(15), ..Reply::status(503) },
        false => Reply::status(200),
    });
    let file = crate::webhooks::ticks_process(dir.path(), &hook.url("/events"), "");
    let store = dir.path().join("store.db");
    let first = Server::serving(&file, &store, &[]);
    let start = json!({"specversion": "1.0", "id": "s-1", "source": "/test", "type": "Start", "data": null});
    assert_eq!(first.structured("/processes/ticks/events", &start, &[("weft-instance-id", "t-1")]).0, 202);
    first.wait_status("t-1", "completed");
    wait_for("the first delivery", || !hook.requests().is_empty());
    first.kill();

    down.store(false, Ordering::SeqCst);
    let second = Server::serving(&file, &store, &[]);
    wait_for("the events again", || hook.accepted().len() == 4);
    let data: Vec<Value> = hook.accepted().iter().map(|e| e["data"].clone()).collect();
    assert_eq!(data, [1, 2, 3, 4]);
    let ids: Vec<Value> = hook.accepted().iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids[0], hook.requests()[0].body["id"], "the same event, with the same id");
    assert!(second.stop().0.success());
}

/// A reply posted to the process, with the ticket id as its `subject`, finds the one instance awaiting it
/// under that correlation key (the support-ticket await's `correlate: .data.ticketId`); no instance, or
/// several, is a clear error to the sender.
#[test]
fn an_event_addressed_to_the_process_finds_its_instance_by_correlation_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let server = start(&store, &[("WEFT_NOW", "2026-11-23T09:00:00Z")]);
    let start = |id: &str, event: &str, file: &str| {
        let (status, body) =
            server.structured("/processes/support-ticket/events", &ticket(event, file), &[("weft-instance-id", id)]);
        assert_eq!(status, 202, "{body}");
        server.wait_status(id, "waiting");
    };
    start("A", "t-a", "examples/support-ticket/tickets/outage.json"); // ticket T-1001
    start("B", "t-b", "examples/support-ticket/tickets/refund.json");
    let refund: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/support-ticket/tickets/refund.json")).unwrap(),
    )
    .unwrap();
    let refund_id = refund["id"].as_str().unwrap().to_owned();
    let reply = |id: &str, subject: Option<&str>| {
        let mut event = json!({"specversion": "1.0", "id": id, "source": "/mail", "type": "AgentReplied",
                               "data": {"ticketId": subject, "agent": "Grace", "message": "Done."}});
        if let Some(subject) = subject {
            event["subject"] = Value::from(subject);
        }
        server.structured("/processes/support-ticket/events", &event, &[])
    };
    let (status, body) = reply("m-1", Some(&refund_id));
    assert_eq!((status, body["instance"].as_str()), (202, Some("B")), "{body}");
    server.wait_status("B", "completed");
    assert_eq!(server.status("A")["status"], "waiting", "the other ticket is untouched");

    let (status, body) = reply("m-2", Some("T-0000"));
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no instance of process \"support-ticket\" awaits \"AgentReplied\" with the key \"T-0000\""),
        "{body}"
    );
    let (status, body) = reply("m-3", None);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("`subject`"), "{body}");
    start("C", "t-c", "examples/support-ticket/tickets/outage.json"); // T-1001 again
    let (status, body) = reply("m-4", Some("T-1001"));
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("several instances"), "{body}");
    let (exit, _) = server.stop();
    assert!(exit.success());
}

/// A token, once given, is asked of every request (401 without it, or with another); an address other
/// than loopback is refused without a token, and an empty token is refused anywhere (it would let every
/// request through).
#[test]
fn a_token_guards_every_request_and_is_needed_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let server = start(&store, &[("WEFT_TOKEN", "s3cret")]);
    let path = "/processes/support-ticket/events";
    let outage = ticket("t-1", "examples/support-ticket/tickets/outage.json");
    let (needed, wrong) = ("a bearer token is needed", "the bearer token is not this server's");
    let refused = [
        (None, needed),
        (Some("Bearer s3cre"), wrong),
        (Some("Bearer s3cret2"), wrong),
        (Some("Bearer "), needed),
        (Some("s3cret"), needed),
        (Some("Basic czNjcmV0"), needed),
    ];
    for (auth, says) in refused {
        let mut headers = vec![("content-type", "application/cloudevents+json")];
        headers.extend(auth.map(|a| ("authorization", a)));
        let (status, answer_headers, body) = server.post_with_headers(path, &headers, &outage.to_string());
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{auth:?}: {body}");
        assert_eq!(answer_headers["www-authenticate"], "Bearer realm=\"weft\"", "{auth:?}");
    }
    // The scheme's case does not matter (RFC 9110 §11.1).
    let (status, body) = server.structured(path, &outage, &[("authorization", "bearer s3cret")]);
    assert_eq!(status, 202, "{body}");
    let (exit, _) = server.stop();
    assert!(exit.success());

    let empty = dir.path().join("token");
    std::fs::write(&empty, "\n").unwrap();
    let empty = empty.to_str().unwrap();
    let refusals: [(&[&str], &str); 3] = [
        (&["--listen", "0.0.0.0:0"], "0.0.0.0:0 is not a loopback address: give a token"),
        (&["--listen", "0.0.0.0:0", "--token-file", empty], "the bearer token is empty"),
        (&["--listen", "127.0.0.1:0", "--token-file", empty], "the bearer token is empty"),
    ];
    for (extra, expected) in refusals {
        let mut args = vec!["serve", "examples/support-ticket/process.yaml"];
        args.extend_from_slice(extra);
        let child = command(&store, &args, &[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        // A server that is not refused would never exit: wait a bounded time.
        let child = std::cell::RefCell::new(child);
        wait_for("the refusal", || child.borrow_mut().try_wait().is_ok_and(|s| s.is_some()));
        let out = child.into_inner().wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: bad input, refused before anything loads");
        assert!(text(&out.stderr).contains(expected), "{extra:?}: {}", text(&out.stderr));
    }
}

/// Backpressure: with more instances waiting for a worker than `--max-backlog`, a request that adds events
/// is answered 429 with `Retry-After`, and nothing of it is stored; a read still answers.
#[test]
fn a_server_past_its_backlog_answers_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    // The one worker is kept busy by an outside call that takes 30 s; the instances started after it wait.
    let (service, file) = paying(dir.path());
    let mut launch = crate::server::Launch::new(&file, &dir.path().join("store.db"), &[]);
    (launch.workers, launch.extra) = (1, vec!["--max-backlog".into(), "2".into()]);
    let server = launch.start();
    let order = |n: usize| {
        let event = json!({"specversion": "1.0", "id": format!("o-{n}"), "source": "/shop", "type": "Order",
                           "data": {"amount": n}});
        let id = format!("o-{n}");
        let headers = [("content-type", "application/cloudevents+json"), ("weft-instance-id", id.as_str())];
        server.post_with_headers("/processes/pay/events", &headers, &event.to_string())
    };
    assert_eq!(order(0).0, 202);
    wait_for("the first call", || !service.requests().is_empty());
    let mut refused = None;
    for n in 1..200 {
        let (status, headers, body) = order(n);
        if status == 429 {
            refused = Some((n, headers, body));
            break;
        }
        assert_eq!(status, 202, "{body}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (n, headers, body) = refused.expect("a 429 once the backlog is past its bound");
    assert!(n >= 3, "not before the bound is passed: refused at order {n}");
    assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert!(body["error"].as_str().unwrap().contains("--max-backlog"), "{body}");
    assert_eq!(server.get(&format!("/instances/o-{}", n - 1)).0, 200);
    assert_eq!(server.get(&format!("/instances/o-{n}")).0, 404, "nothing of a refused request is stored");
    assert_eq!(server.get("/instances?process=pay").0, 200, "reads still answer");
}

/// Instances that fail each time they are opened (damaged here) are not a backlog: with more of them than
/// `--max-backlog`, new events are still taken once the scheduler leaves them alone after their failures
/// (they were counted, and every request refused 429, for as long as they were there).
#[test]
fn instances_that_keep_failing_are_no_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    damaged_tickets(&store, "F", 3);

    let mut launch = crate::server::Launch::new("examples/support-ticket/process.yaml", &store, &[]);
    launch.extra = vec!["--max-backlog".into(), "2".into()];
    let server = launch.start();
    wait_for("three failures", || server.log().matches("cannot open the instance").count() >= 3);
    std::thread::sleep(Duration::from_millis(150));
    let outage = ticket("new", "examples/support-ticket/tickets/outage.json");
    let (status, body) = server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", "N-1")]);
    assert_eq!(status, 202, "{body}");
    server.wait_status("N-1", "waiting");
}

/// `GET /instances/{id}/events` follows an instance: its published events arrive as Server-Sent Events as
/// they are committed, the stream ends when the instance has ended, and `Last-Event-ID` goes on after a
/// position.
#[test]
fn a_client_follows_an_instance_s_events_live() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("store.db"), &[("WEFT_NOW", "2026-11-23T09:00:00Z")]);
    let outage = ticket("t-1", "examples/support-ticket/tickets/outage.json");
    let (status, _) = server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", "F-1")]);
    assert_eq!(status, 202);
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let url = format!("{}/instances/F-1/events", server.base);
    let reader = std::thread::spawn(move || {
        let mut response = ureq::get(&url).call().unwrap();
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        for line in std::io::BufReader::new(response.body_mut().as_reader()).lines() {
            let _ = lines.send(line.unwrap());
        }
    });
    let mut seen = Vec::new();
    let until = |what: &str, seen: &mut Vec<String>| {
        while !seen.iter().any(|l| l.contains(what)) {
            seen.push(received.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what}: {seen:?}")));
        }
    };
    until("TicketTriaged", &mut seen);
    assert!(!seen.iter().any(|l| l.contains("TicketResolved")), "not before the reply");
    let reply = std::fs::read_to_string(root().join("examples/support-ticket/tickets/reply-1001.json")).unwrap();
    let event = json!({"specversion": "1.0", "id": "r-1", "source": "/desk", "type": "AgentReplied",
                       "data": serde_json::from_str::<Value>(&reply).unwrap()});
    assert_eq!(server.structured("/instances/F-1/events", &event, &[]).0, 202);
    until("TicketResolved", &mut seen);
    reader.join().unwrap();
    seen.extend(received.try_iter());
    let events: Vec<&String> = seen.iter().filter(|l| l.starts_with("data: ")).collect();
    assert_eq!(events.len(), 2, "{seen:?}");
    assert_eq!(seen.iter().filter(|l| l.starts_with("id: ")).collect::<Vec<_>>(), ["id: 1", "id: 2"]);
    assert!(seen.contains(&"event: cloudevent".to_owned()), "{seen:?}");

    // Reconnecting after position 1 gives the rest, and the stream ends at once: the instance has ended.
    let mut response =
        ureq::get(format!("{}/instances/F-1/events", server.base)).header("last-event-id", "1").call().unwrap();
    let rest = response.body_mut().read_to_string().unwrap();
    assert!(rest.contains("id: 2") && !rest.contains("id: 1\n") && rest.contains("TicketResolved"), "{rest}");
    assert_eq!(server.get("/instances/nope/events").0, 404);
}

/// The HTTP API is what its OpenAPI document (`GET /openapi.json`) says: schemathesis (installed by
/// scripts/install-tools) generates requests from the document — valid ones and broken ones, one
/// operation at a time and in sequences that follow the document's links — against a server with a
/// waiting instance, and checks that none is answered 5xx, and that every status code, content type,
/// header and body is one the document declares. (The live event stream is left out: on a waiting
/// instance it never ends, by design.)
#[test]
fn the_api_conforms_to_its_openapi_document_under_schemathesis() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("store.db"), &[("WEFT_NOW", "2026-11-23T09:00:00Z")]);
    let outage = ticket("t-1", "examples/support-ticket/tickets/outage.json");
    assert_eq!(server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", "S-1")]).0, 202);
    server.wait_status("S-1", "waiting");
    let (status, document) = server.get("/openapi.json");
    assert_eq!((status, document["openapi"].as_str()), (200, Some("3.1.0")));
    let schemathesis = root().join(".tools/venv/bin/schemathesis");
    let out = std::process::Command::new(&schemathesis)
        .args(["run", &format!("{}/openapi.json", server.base)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,\
             response_headers_conformance",
        ])
        .args(["--max-examples", "50", "--exclude-operation-id", "followInstance", "--request-timeout", "10"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/install-tools installs it)", schemathesis.display()));
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}\n{}", text(&out.stderr));
    assert!(report.contains("passed") && !report.contains("failures"), "{report}");
}

/// The instance routes of the JSON API: a page of the list with its cursor, the history a page at a time,
/// and a cancel request through the inbox (the same `Idempotency-Key` again is a duplicate; an ended
/// instance is 409; a bad query string is a JSON 400).
#[test]
fn instances_are_listed_paged_read_and_cancelled_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("store.db"), &[("WEFT_NOW", "2026-11-23T09:00:00Z")]);
    for (id, event) in [("A-1", "t-1"), ("A-2", "t-2"), ("A-3", "t-3")] {
        let outage = ticket(event, "examples/support-ticket/tickets/outage.json");
        assert_eq!(server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", id)]).0, 202);
        server.wait_status(id, "waiting");
    }
    let (status, body) = server.get("/instances?status=bogus");
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("there is no status \"bogus\": give one of running"), "{body}");
    let (status, first) = server.get("/instances?status=waiting&limit=2");
    assert_eq!((status, first["instances"].as_array().map(Vec::len)), (200, Some(2)), "{first}");
    let page_ids = |page: &Value| -> Vec<String> {
        page["instances"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
    };
    let mut ids = page_ids(&first);
    // Instances created between pages, with ids on either side of those listed, shift nothing: following
    // `next` lists each of the first three once.
    for (id, event) in [("A-0", "t-0"), ("A-9", "t-9")] {
        let outage = ticket(event, "examples/support-ticket/tickets/outage.json");
        assert_eq!(server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", id)]).0, 202);
        server.wait_status(id, "waiting");
    }
    let mut next = first["next"].as_str().map(str::to_owned);
    while let Some(after) = next {
        let (_, page) = server.get(&format!("/instances?status=waiting&limit=2&after={after}"));
        ids.extend(page_ids(&page));
        next = page["next"].as_str().map(str::to_owned);
    }
    let once = |id: &str| ids.iter().filter(|i| *i == id).count() == 1;
    assert!(["A-1", "A-2", "A-3"].into_iter().all(once), "each listed once: {ids:?}");
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), ids.len(), "no repeats: {ids:?}");

    // A page of one commit's records, then the rest.
    let (status, history) = server.get("/instances/A-1/history?limit=1");
    assert_eq!((status, history["history"][0]["record"]["received"]["event"].as_str()), (200, Some("NewTicket")));
    let after = history["next"].as_u64().unwrap();
    let (_, more) = server.get(&format!("/instances/A-1/history?after={after}"));
    assert!(more["history"][0]["superstep"].as_u64() >= Some(1), "{more}");
    assert_eq!(more["next"], Value::Null, "{more}");

    let cancel = |key: &str| server.post("/instances/A-2/cancel", &[("idempotency-key", key)], "");
    assert_eq!(cancel("stop-1"), (202, json!({"instance": "A-2", "url": "/instances/A-2", "duplicate": false})));
    server.wait_status("A-2", "cancelled");
    let cancelled = server.status("A-2");
    assert_eq!(
        (&cancelled["awaits"], &cancelled["timers"]),
        (&json!([]), &json!([])),
        "it awaits nothing: {cancelled}"
    );
    assert_eq!(cancel("stop-1").1["duplicate"], true, "the same key again");
    assert_eq!(cancel("stop-2").0, 409, "it has ended");
    assert_eq!(server.post("/instances/nope/cancel", &[], "").0, 404);
    let (status, body) = server.get("/instances?limit=zero");
    assert!(status == 400 && body["error"].as_str().is_some(), "{status} {body}");
}

/// A client that sends its body slowly, or never, is answered 408 once `--request-timeout` has passed, and
/// nothing is taken; the server goes on answering others.
#[test]
fn a_client_that_never_sends_its_body_is_answered_408() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = crate::server::Launch::new("examples/support-ticket/process.yaml", &dir.path().join("s.db"), &[]);
    launch.extra = vec!["--request-timeout".into(), "500ms".into()];
    let server = launch.start();
    let answer = raw(
        &server,
        "POST /processes/support-ticket/events HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/cloudevents+json\r\nContent-Length: 100\r\n\r\n{\"specversion\"",
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("--request-timeout"), "{answer}");
    assert_eq!(server.get("/instances").1["instances"], json!([]), "nothing was taken");
}

/// A run that ended with an event in its inbox it never took (an earlier Weft appended it when a worker
/// ended the run after the sender had read it running; the store now refuses it in the append itself)
/// needs no driver: a server with one worker neither keeps handing it out, a core busy, nor starves the
/// instances after it.
#[test]
fn an_ended_run_with_an_event_it_never_took_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let server = waiting_ticket(&store, "A-1");
    assert_eq!(server.post("/instances/A-1/cancel", &[], "").0, 202);
    server.wait_status("A-1", "cancelled");
    let late = json!({"specversion": "1.0", "id": "late-1", "source": "/crm", "type": "AgentReplied", "data": {}});
    let (status, refused) = server.structured("/instances/A-1/events", &late, &[]);
    assert_eq!(status, 409, "{refused}");
    assert!(server.stop().0.success());
    let db = rusqlite::Connection::open(&store).unwrap();
    db.execute_batch(
        "INSERT INTO inbox SELECT 'A-1', inbox_len + 1, '/crm', 'late-1', 'event', 'AgentReplied', '{}', 0 \
         FROM instances WHERE id = 'A-1'; UPDATE instances SET inbox_len = inbox_len + 1 WHERE id = 'A-1';",
    )
    .unwrap();
    drop(db);

    let server = one_worker_takes_a_new_ticket(&store, "B-1");
    let before = server.cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let used = server.cpu_ticks() - before;
    // Idle, it looks for work every 100 ms (~3 ticks in 2 s here); handing A-1 out again and again kept a
    // core busy (140 ticks).
    assert!(used < 40, "the idle server used {used} clock ticks in 2 s");
    assert_eq!(server.status("A-1")["status"], "cancelled");
}

/// Instances that fail as soon as they are opened (here: their checkpoints damaged), all overdue, do not
/// keep a server with one worker from the others: each is left alone for a while after it fails.
#[test]
fn instances_that_fail_to_open_do_not_starve_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    damaged_tickets(&store, "B", 20);
    one_worker_takes_a_new_ticket(&store, "H-1");
}

/// An instance that fails each time it is opened (its checkpoint damaged) is left alone for 1 s after its
/// first failure, then 2 s, then 4 s, and so on (up to 5 minutes), each failure logged once with the
/// wait: not tried and logged every second for ever.
#[test]
fn an_instance_that_keeps_failing_is_left_alone_longer_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    damaged_tickets(&store, "D", 1);

    let server = one_worker_takes_a_new_ticket(&store, "H-1");
    let failures = || -> Vec<String> {
        let log = server.log();
        let lines = log.lines().filter(|l| l.contains("D-00") && l.contains("cannot open the instance"));
        let wait =
            |l: &str| l.split_once("(left alone for ").and_then(|(_, w)| w.split_once(')')).map(|(w, _)| w.to_owned());
        lines.map(|l| wait(l).unwrap_or_else(|| l.to_owned())).collect()
    };
    crate::wait_for("the third failure", || failures().len() >= 3);
    assert_eq!(failures(), ["1s", "2s", "4s"]);
    assert_eq!(server.status("H-1")["status"], "waiting");
}

/// A client that sends its request's head slowly, or nothing at all, holds its connection no longer than
/// `--request-timeout`; and a stopped server exits however its clients behave: one still sending its
/// request's head well within that timeout (a minute here) is cut off 10 s after the signal.
#[test]
fn a_stalled_client_holds_no_connection_and_keeps_no_stopped_server_from_exiting() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let launch = |timeout: &str| {
        let mut launch =
            crate::server::Launch::new("examples/support-ticket/process.yaml", &dir.path().join("s.db"), &[]);
        launch.extra = vec!["--request-timeout".into(), timeout.into()];
        launch.start()
    };
    let server = launch("1s");
    let connect = |server: &Server| std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    // Half a request's head: closed by the server once the second has passed.
    let mut half = connect(&server);
    half.write_all(b"GET /instances HTTP/1.1\r\nHost: x\r\n").unwrap();
    half.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let _ = half.read_to_end(&mut answer);
    let held = started.elapsed();
    assert!(held < Duration::from_secs(10), "the connection was held {held:?}");
    assert!(answer.is_empty() || String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(server.stop().0.success());

    // Stopped while one client sends half a head (its timeout a minute away) and another nothing.
    let server = launch("60s");
    let mut stalled = connect(&server);
    stalled.write_all(b"GET /inst").unwrap();
    let _silent = connect(&server);
    std::thread::sleep(Duration::from_millis(200));
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(server.stop()).unwrap());
    let (exit, _) = exited.recv_timeout(Duration::from_secs(40)).expect("the stopped server did not exit in 40 s");
    assert!(exit.success());
}

/// An instance id the API could not address (empty, with a '/', past 256 bytes) or could not print (a
/// control character) is refused, `400` saying why, and nothing is stored; the URL of an id with
/// characters a path segment cannot hold as they are is percent-encoded, and reaches the instance.
#[test]
fn an_instance_id_the_api_cannot_address_is_refused_and_others_are_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let server = start(&store, &[]);
    let long = "x".repeat(257);
    let refused = [
        ("", "is empty"),
        ("..", "is a dot segment"),
        ("a/b", "has a '/'"),
        (long.as_str(), "is too long"),
        ("a\tb", "has a control character"),
    ];
    for (n, (id, says)) in refused.into_iter().enumerate() {
        let outage = ticket(&format!("bad-{n}"), "examples/support-ticket/tickets/outage.json");
        let (status, body) =
            server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", id)]);
        assert_eq!(status, 400, "{id:?}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{id:?}: {body}");
    }
    assert_eq!(server.get("/instances").1["instances"], json!([]), "nothing was stored");
    let outage = ticket("fine", "examples/support-ticket/tickets/outage.json");
    let (status, body) =
        server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", "T 1?#%\\[")]);
    assert_eq!((status, &body["url"]), (202, &json!("/instances/T%201%3F%23%25%5C%5B")), "{body}");
    wait_for("the instance to wait", || server.get("/instances/T%201%3F%23%25%5C%5B").1["status"] == "waiting");
    // An id taken, an id unknown: said in the API's words, not the commands'.
    let other = ticket("other", "examples/support-ticket/tickets/outage.json");
    let (status, body) =
        server.structured("/processes/support-ticket/events", &other, &[("weft-instance-id", "T 1?#%\\[")]);
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("name another in the weft-instance-id header"), "{body}");
    let (status, body) = server.get("/instances/nobody");
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().ends_with("GET /instances lists them"), "{body}");
    let out = crate::weft_in(
        &store,
        &["run", "examples/support-ticket/process.yaml", "--event", "NewTicket", "--instance-id", "a/b"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("the instance id \"a/b\" has a '/'"), "{}", text(&out.stderr));
}

/// A run that fails under the server is said in its log, once, with the instance, the process and why.
#[test]
fn a_run_that_fails_under_the_server_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("store.db"), &[]);
    let bad =
        json!({"specversion": "1.0", "id": "bad-1", "source": "/crm", "type": "NewTicket", "data": {"customer": "x"}});
    assert_eq!(server.structured("/processes/support-ticket/events", &bad, &[("weft-instance-id", "B-1")]).0, 202);
    server.wait_status("B-1", "failed");
    wait_for("the log line", || server.log().contains("the run failed"));
    let log = server.log();
    let line = log.lines().find(|l| l.contains("the run failed")).unwrap();
    assert!(line.contains("B-1") && line.contains("support-ticket") && line.contains("not a ticket"), "{line}");
    assert_eq!(log.matches("the run failed").count(), 1, "{log}");
}

/// `count` tickets `{prefix}-00`, `{prefix}-01`, … left waiting in `store` by a server, then damaged (their
/// checkpoints no JSON) and made due at once: instances that fail each time they are opened.
fn damaged_tickets(store: &std::path::Path, prefix: &str, count: usize) {
    let server = start(store, &[]);
    for n in 0..count {
        let outage = ticket(&format!("{prefix}-{n}"), "examples/support-ticket/tickets/outage.json");
        let id = format!("{prefix}-{n:02}");
        assert_eq!(server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", &id)]).0, 202);
        server.wait_status(&id, "waiting");
    }
    assert!(server.stop().0.success());
    let db = rusqlite::Connection::open(store).unwrap();
    let damaged =
        db.execute("UPDATE instances SET checkpoint = '{', next_due = 0 WHERE id LIKE ?1", [format!("{prefix}-%")]);
    assert_eq!(damaged.unwrap(), count);
}

/// A server of `store` given a new ticket as instance `id`, which it drives until it waits.
fn waiting_ticket(store: &std::path::Path, id: &str) -> Server {
    let server = start(store, &[]);
    let outage = ticket(&id.to_lowercase(), "examples/support-ticket/tickets/outage.json");
    assert_eq!(server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", id)]).0, 202);
    server.wait_status(id, "waiting");
    server
}

/// A server of `store` with one worker, given a new ticket as instance `id`, which it drives until it
/// waits (the test fails if it never does).
fn one_worker_takes_a_new_ticket(store: &std::path::Path, id: &str) -> Server {
    let mut launch = crate::server::Launch::new("examples/support-ticket/process.yaml", store, &[]);
    launch.workers = 1;
    let server = launch.start();
    let outage = ticket(&format!("new-{id}"), "examples/support-ticket/tickets/outage.json");
    assert_eq!(server.structured("/processes/support-ticket/events", &outage, &[("weft-instance-id", id)]).0, 202);
    server.wait_status(id, "waiting");
    server
}
