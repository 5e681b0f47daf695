//! A stand-in credit bureau for the account-opening example, on loopback.
//!
//! `POST /v1/credit-reports` with `Authorization: Bearer <key>` and `{"ssn": "...", "name": "..."}`
//! answers `200 {"creditFile": {...}}` for a person in `files.json`, `404` for anyone else, `401` without
//! the right key, `400` for a body that is not such JSON. Every request is counted (see
//! [`Bureau::requests`]), so tests can tell whether the engine let a step reach it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde_json::{Value, json};

/// Where the example's definition expects the bureau.
pub const DEFAULT_ADDR: &str = "127.0.0.1:47125";

/// The environment variable holding the API key, read by both the bureau and the engine.
pub const KEY_VARIABLE: &str = "CREDIT_BUREAU_KEY";

/// The credit files the bureau knows (`files.json`).
pub const FILES: &str = include_str!("../files.json");

#[derive(Deserialize)]
struct Person {
    ssn: String,
    name: String,
    #[serde(rename = "creditFile")]
    credit_file: Value,
}

/// A running bureau; it stops when dropped.
pub struct Bureau {
    server: Arc<tiny_http::Server>,
    requests: Arc<AtomicU64>,
    addr: SocketAddr,
}

impl Bureau {
    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Bureau {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Start a bureau on `addr` (e.g. [`DEFAULT_ADDR`], or `127.0.0.1:0` for any free port) answering to `key`.
///
/// Errors: the address cannot be bound.
pub fn start(addr: &str, key: &str) -> Result<Bureau, String> {
    let people: Vec<Person> = serde_json::from_str(FILES).map_err(|e| format!("files.json: {e}"))?;
    let server = Arc::new(tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?);
    let addr = server.server_addr().to_ip().ok_or("not an IP address")?;
    let requests = Arc::new(AtomicU64::new(0));
    let (srv, count, expected) = (server.clone(), requests.clone(), format!("Bearer {key}"));
    std::thread::spawn(move || {
        for mut request in srv.incoming_requests() {
            count.fetch_add(1, Ordering::SeqCst);
            let authorized =
                request.headers().iter().any(|h| h.field.equiv("authorization") && h.value.as_str() == expected);
            let mut body = String::new();
            let read = std::io::Read::read_to_string(request.as_reader(), &mut body).is_ok();
            let (status, answer) = answer(&people, request.url(), authorized, read.then_some(body.as_str()));
            let header = tiny_http::Header::from_bytes("content-type", "application/json").ok();
            let mut response = tiny_http::Response::from_string(answer.to_string()).with_status_code(status);
            if let Some(h) = header {
                response.add_header(h);
            }
            let _ = request.respond(response);
        }
    });
    Ok(Bureau { server, requests, addr })
}

fn answer(people: &[Person], url: &str, authorized: bool, body: Option<&str>) -> (u16, Value) {
    if url != "/v1/credit-reports" {
        return (404, json!({"error": "no such resource"}));
    }
    if !authorized {
        return (401, json!({"error": "a valid API key is required"}));
    }
    #[derive(Deserialize)]
    struct Query {
        ssn: String,
        name: String,
    }
    let Some(query) = body.and_then(|b| serde_json::from_str::<Query>(b).ok()) else {
        return (400, json!({"error": "send {\"ssn\": ..., \"name\": ...}"}));
    };
    match people.iter().find(|p| p.ssn == query.ssn && p.name == query.name) {
        Some(p) => (200, json!({"creditFile": p.credit_file})),
        None => (404, json!({"error": "no credit file for this person"})),
    }
}

/// The API key tests use (never a real one).
pub const TEST_KEY: &str = "test-bureau-key-7f3a9c21e5";

/// One bureau per process at [`DEFAULT_ADDR`] answering to [`TEST_KEY`], started on first call: what the
/// tests that run the example need.
///
/// Panics: the address is taken (another bureau, e.g. one left from `scripts/setup`, is running).
pub fn for_tests() -> &'static Bureau {
    static BUREAU: std::sync::OnceLock<Bureau> = std::sync::OnceLock::new();
    BUREAU.get_or_init(|| {
        start(DEFAULT_ADDR, TEST_KEY).unwrap_or_else(|e| panic!("the test credit bureau: {e}; stop the other one"))
    })
}
