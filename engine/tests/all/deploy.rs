//! Deployments (docs/serving.md, "Deployments"): `weft deploy` and `POST /deployments` record process
//! versions in the store; a running server starts new instances on the latest, instances already started
//! keep theirs until `POST /instances/{id}/resume` with `{"upgrade": true}` moves them; and a resume over
//! HTTP publishes what a webhook never took from an ended instance.

use std::path::Path;

use serde_json::{Value, json};

use crate::server::{Launch, Server};
use crate::webhooks::{receiver, ticks_process};
use crate::{root, text, wait_for, weft_in};

/// The support-ticket example copied into `dir` (its definition and built components), its definition's
/// path.
fn ticket_process(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    let example = root().join("examples/support-ticket");
    for file in ["process.yaml", "steps/triage.wasm", "steps/desk.wasm"] {
        std::fs::copy(example.join(file), dir.join(file)).unwrap();
    }
    dir.join("process.yaml").to_string_lossy().into_owned()
}

/// Rewrite the definition `file` with `from` replaced by `to`.
fn edit(file: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from} is not in {file}");
    std::fs::write(file, text.replace(from, to)).unwrap();
}

/// `weft deploy FILE --json` into `store`: its JSON line.
fn deploy(store: &Path, file: &str) -> Value {
    let out = weft_in(store, &["deploy", file, "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_str(text(&out.stdout).trim()).unwrap()
}

/// The version of instance `id` as the server lists it.
fn version_of(server: &Server, id: &str) -> String {
    let (status, page) = server.get("/instances?process=support-ticket");
    assert_eq!(status, 200, "{page}");
    let found = page["instances"].as_array().unwrap().iter().find(|i| i["id"] == id).cloned();
    found.unwrap_or_else(|| panic!("{id} is not listed: {page}"))["version"].as_str().unwrap().to_owned()
}

/// A new ticket started as instance `id`.
fn start_ticket(server: &Server, id: &str) {
    let data: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/support-ticket/tickets/outage.json")).unwrap(),
    )
    .unwrap();
    let event =
        json!({"specversion": "1.0", "id": format!("new-{id}"), "source": "/crm", "type": "NewTicket", "data": data});
    let (status, body) = server.structured("/processes/support-ticket/events", &event, &[("weft-instance-id", id)]);
    assert_eq!(status, 202, "{body}");
    server.wait_status(id, "waiting");
}

#[test]
fn new_instances_start_on_the_latest_deployment_and_running_ones_keep_theirs_until_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let file = ticket_process(&dir.path().join("v"));

    // Deployed once; the same files again are not a new deployment.
    let first = deploy(&store, &file);
    assert_eq!(
        (first["process"].as_str(), first["number"].as_u64(), first["new"].as_bool()),
        (Some("support-ticket"), Some(1), Some(true))
    );
    assert_eq!(first["version"], "1.1.0");
    assert_eq!(deploy(&store, &file)["new"], false);
    let listed = weft_in(&store, &["deployments", "--json"], &[]);
    assert_eq!(text(&listed.stdout).lines().count(), 1, "{}", text(&listed.stdout));

    // A server named no file serves what the store has deployed.
    let server = Launch::new("", &store, &[("WEFT_NOW", "2026-11-23T09:00:00Z")]).start();
    let (status, served) = server.get("/processes");
    assert_eq!((status, served["processes"][0]["number"].as_u64()), (200, Some(1)), "{served}");
    assert!(server.log().contains("weft serve: serving \"support-ticket\" 1.1.0 (deployment 1, from "), "it says so");
    start_ticket(&server, "T-1");

    // A second version deployed from the command line while the server runs. An upgrade asked at once
    // goes to it (the store's latest, whether or not the server has looked since): it is on the latest,
    // and says so in its history.
    edit(&file, "version: 1.1.0", "version: 1.2.0");
    assert_eq!(deploy(&store, &file)["number"], 2);
    assert_eq!(version_of(&server, "T-1"), "1.1.0", "a running instance keeps its version");
    let (status, body) =
        server.post("/instances/T-1/resume", &[("content-type", "application/json")], r#"{"upgrade": true}"#);
    assert_eq!((status, body["status"].as_str()), (200, Some("waiting")), "{body}");
    assert_eq!(version_of(&server, "T-1"), "1.2.0");
    // New instances start on it once the server has looked (within a second).
    wait_for("the server to take deployment 2", || server.get("/processes").1["processes"][0]["number"] == 2);
    start_ticket(&server, "T-2");
    assert_eq!(version_of(&server, "T-2"), "1.2.0");
    let history = server.get("/instances/T-1/history").1;
    assert!(history["history"].as_array().unwrap().iter().any(|e| e.to_string().contains("\"rebound\"")), "{history}");

    // A third version over HTTP, whose steps differ: deployed (201, then 200 as unchanged), but a waiting
    // instance cannot move to it and stays where it is (409, every reason said).
    let third = ticket_process(&dir.path().join("v3"));
    edit(&third, "version: 1.1.0", "version: 2.0.0");
    edit(&third, "  - id: desk\n", "  - id: agent-desk\n");
    let text3 = std::fs::read_to_string(&third).unwrap().replace("step: desk", "step: agent-desk");
    std::fs::write(&third, text3).unwrap();
    let request = json!({ "file": third }).to_string();
    let json_type = [("content-type", "application/json")];
    let (status, body) = server.post("/deployments", &json_type, &request);
    assert_eq!((status, body["number"].as_u64(), body["new"].as_bool()), (201, Some(3), Some(true)), "{body}");
    let (status, body) = server.post("/deployments", &json_type, &request);
    assert_eq!((status, body["new"].as_bool()), (200, Some(false)), "{body}");
    let (status, body) = server.post("/instances/T-2/resume", &json_type, r#"{"upgrade": true}"#);
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cannot be upgraded: "), "{body}");
    assert_eq!(version_of(&server, "T-2"), "1.2.0");
    let (status, deployments) = server.get("/processes/support-ticket/deployments");
    assert_eq!((status, deployments["deployments"].as_array().map(Vec::len)), (200, Some(3)), "{deployments}");

    // Bad requests: a file that does not load, a body that is no request, an unknown process or instance.
    let (status, body) = server.post("/deployments", &json_type, r#"{"file": "no/such/process.yaml"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no/such/process.yaml"), "{body}");
    assert_eq!(server.post("/deployments", &json_type, r#"{"path": 1}"#).0, 400);
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; 4 * 1024 * 1024 + 1]).unwrap();
    let (status, body) = server.post("/deployments", &json_type, &json!({ "file": big }).to_string());
    assert!(status == 400 && body["error"].as_str().unwrap().contains("a definition has at most"), "{body}");
    let (status, body) = server.post("/deployments", &json_type, r#"{"file": "/dev/zero"}"#);
    assert!(status == 400 && body["error"].as_str().unwrap().contains("is not a file"), "{body}");
    // A file that is no definition is said to be none, and none of it is shown: the path may name any file
    // the server can read (a JSON body without its content type is read too).
    for (name, content) in [
        ("passwd", "root:x:0:0:root:/root:/bin/bash\nAPI_KEY=s3cr3t-value\n"),
        ("key.pem", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANs3cr3t-value\n-----END PRIVATE KEY-----\n"),
        ("list.yaml", "- s3cr3t-value\n- root\n"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        let (status, body) = server.post("/deployments", &[], &json!({ "file": file }).to_string());
        let said = body["error"].as_str().unwrap();
        assert!(status == 400 && said.contains("this is not a process definition: its top level is"), "{body}");
        assert!(!said.contains("s3cr3t") && !said.contains("root"), "{body}");
    }
    assert_eq!(server.get("/processes/nothing/deployments").0, 404);
    assert_eq!(server.post("/instances/nobody/resume", &[], "").0, 404);

    // The old version still runs its instances to the end; an ended instance has nothing to resume.
    let data: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/support-ticket/tickets/reply-1001.json")).unwrap(),
    )
    .unwrap();
    let reply = json!({"specversion": "1.0", "id": "reply-2", "source": "/desk", "type": "AgentReplied", "data": data});
    let (status, body) = server.structured("/instances/T-2/events", &reply, &[]);
    assert_eq!(status, 202, "{body}");
    server.wait_status("T-2", "completed");
    assert_eq!(server.post("/instances/T-2/resume", &[], "").0, 409);
    let (status, _) = server.stop();
    assert!(status.success());

    // A restarted server serves the latest deployment.
    let server = Launch::new("", &store, &[]).start();
    let (_, served) = server.get("/processes");
    assert_eq!(
        (served["processes"][0]["number"].as_u64(), served["processes"][0]["version"].as_str()),
        (Some(3), Some("2.0.0"))
    );
}

/// A webhook that was down while an instance ran: the instance ends all the same, its events stay
/// unacknowledged, and a resume over HTTP once the service is up delivers each exactly once.
#[test]
fn a_resume_over_http_delivers_what_a_webhook_never_took() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file = ticks_process(dir.path(), &format!("http://127.0.0.1:{port}/events"), ", attempts: 1, timeout: 2s");
    let store = dir.path().join("store.db");
    let server = Server::serving(&file, &store, &[]);
    let start = json!({"specversion": "1.0", "id": "s-1", "source": "/test", "type": "Start"});
    let (status, body) = server.structured("/processes/ticks/events", &start, &[("weft-instance-id", "t-1")]);
    assert_eq!(status, 202, "{body}");
    server.wait_status("t-1", "completed");
    let hook = receiver(port, 0);
    let (status, body) = server.post("/instances/t-1/resume", &[], "");
    assert_eq!((status, body["status"].as_str()), (200, Some("completed")), "{body}");
    let data: Vec<Value> = hook.accepted().iter().map(|e| e["data"].clone()).collect();
    assert_eq!(data, [1, 2, 3, 4]);
    assert_eq!(server.post("/instances/t-1/resume", &[], "").0, 409, "nothing is left to deliver");
    assert_eq!(hook.requests().len(), 4);
}

/// `weft deploy` of several files deploys all or none: one that does not load (here: a component missing)
/// leaves the store without any deployment, and says which file and why.
#[test]
fn deploying_several_files_deploys_none_when_one_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let good = ticket_process(&dir.path().join("good"));
    let broken = ticket_process(&dir.path().join("broken"));
    edit(&broken, "name: support-ticket", "name: broken-ticket");
    std::fs::remove_file(dir.path().join("broken/steps/desk.wasm")).unwrap();
    let out = weft_in(&store, &["deploy", &good, &broken, "--json"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("desk.wasm"), "says what is missing: {stderr}");
    assert!(text(&out.stdout).trim().is_empty(), "{}", text(&out.stdout));
    let listed = weft_in(&store, &["deployments", "--json"], &[]);
    assert_eq!(text(&listed.stdout).trim(), "", "nothing was deployed: {}", text(&listed.stdout));
    assert_eq!(deploy(&store, &good)["number"], 1, "the good one alone is deployment 1");
}

/// The same definition deployed again from another folder (a copy, byte for byte) changes nothing, not
/// even where its relative file sink writes: a reply taken by an instance started before, and one taken
/// by an instance started after, both go to the first folder's file, as before the copy was deployed.
#[test]
fn the_same_definition_deployed_from_another_folder_keeps_its_sinks_where_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let first = ticket_process(&a);
    edit(
        &first,
        "    to: [{ step: desk, function: resolve }]",
        "    to: [{ step: desk, function: resolve }, { topic: Replies }]",
    );
    let text =
        std::fs::read_to_string(&first).unwrap() + "sinks:\n  - topic: Replies\n    to: { file: replies.jsonl }\n";
    std::fs::write(&first, text).unwrap();
    let second = ticket_process(&b);
    std::fs::copy(&first, &second).unwrap();

    let server = Launch::new(&first, &dir.path().join("store.db"), &[]).start();
    start_ticket(&server, "T-1");
    let json_type = [("content-type", "application/json")];
    let (status, body) = server.post("/deployments", &json_type, &json!({ "file": second }).to_string());
    assert_eq!((status, body["new"].as_bool()), (200, Some(false)), "{body}");
    start_ticket(&server, "T-2");
    let data: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/support-ticket/tickets/reply-1001.json")).unwrap(),
    )
    .unwrap();
    for id in ["T-1", "T-2"] {
        let reply = json!({"specversion": "1.0", "id": format!("reply-{id}"), "source": "/desk", "type": "AgentReplied", "data": data});
        assert_eq!(server.structured(&format!("/instances/{id}/events"), &reply, &[]).0, 202);
        server.wait_status(id, "completed");
    }
    assert!(server.stop().0.success());
    let written = std::fs::read_to_string(a.join("replies.jsonl")).unwrap_or_default();
    assert_eq!(written.lines().count(), 2, "both replies in the first folder's file: {written}");
    assert!(!b.join("replies.jsonl").exists(), "nothing in the copy's folder");
}
