//! An outside service on loopback for the tests: a real HTTP server (`tiny_http`) that records every
//! request it receives and answers as the test says — a webhook receiver, a payment API, a service that
//! is slow or down. Each request is answered on its own thread, so slow answers overlap.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

/// One request the service received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its method and path.
    pub method: String,
    /// Its path.
    pub path: String,
    /// Its headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Its body as JSON (a string when it is not JSON).
    pub body: Value,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    /// The first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// How the service answers one request.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: String,
    /// How long it waits before answering.
    pub delay: Duration,
}

impl Reply {
    /// An empty answer with `status`, at once.
    pub fn status(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO }
    }

    /// A JSON answer with status 200 after `delay`.
    pub fn json(body: &Value, delay: Duration) -> Reply {
        Reply { status: 200, headers: vec![("Content-Type", "application/json".into())], body: body.to_string(), delay }
    }
}

/// How the service answers: `(index of the request, from 0; the request)` → the reply.
pub type Answer = dyn Fn(usize, &Received) -> Reply + Send + Sync;

/// The service.
pub struct Service {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Start it on `port` (0: any free port), answering with `answer`.
    pub fn start(port: u16, answer: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static) -> Service {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).expect("a loopback port"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let (serving, log) = (server.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            for mut request in serving.incoming_requests() {
                let headers = request
                    .headers()
                    .iter()
                    .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.to_string()))
                    .collect();
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let mut got = Received {
                    method: request.method().to_string(),
                    path: request.url().to_string(),
                    headers,
                    body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
                    status: 0,
                };
                let (log, answer) = (log.clone(), answer.clone());
                std::thread::spawn(move || {
                    let reply = {
                        let mut log = log.lock().unwrap();
                        let reply = answer(log.len(), &got);
                        got.status = reply.status;
                        log.push(got);
                        reply
                    };
                    std::thread::sleep(reply.delay);
                    let mut response = tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
                    for (name, value) in reply.headers {
                        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                            response.add_header(h);
                        }
                    }
                    let _ = request.respond(response);
                });
            }
        });
        Service { port, received, server, thread: Some(thread) }
    }

    /// A service whose first request is answered after `wait`, the others at once, each with `{"ok": true}`.
    pub fn first_call_waits(wait: Duration) -> Service {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        Service::start(0, move |_, _| {
            let first = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            Reply::json(&serde_json::json!({"ok": true}), if first { wait } else { Duration::ZERO })
        })
    }

    /// The `capabilities` of a step (YAML, indented for an item of `steps`) that may call this service,
    /// with the config value `url` its `path` here (what the payer test step reads).
    pub fn grant(&self, path: &str) -> String {
        format!(
            "    capabilities:\n      config: {{ url: '{}' }}\n      http: {{ allow: ['{}'] }}\n",
            self.url(path),
            self.url("")
        )
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The bodies of the requests answered 200, in order.
    pub fn accepted(&self) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r.status == 200).map(|r| r.body).collect()
    }

    /// Forget the requests so far.
    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
