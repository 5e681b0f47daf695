//! `weft:step/http`: outbound HTTP to the origins the definition allows a step (`capabilities.http`).
//!
//! Checked before any byte leaves: the URL parses, its scheme is `http` or `https`, and its scheme, host
//! and port match an allowed origin exactly (host names compared case-insensitively; no wildcards).
//! Redirects are not followed (a 3xx comes back as it is, so a redirect cannot lead off the list), proxies
//! from the environment are not used, each request is bounded by the grant's timeout and by what is left
//! of the invocation's own time limit (a host call is not interrupted by the epoch deadline), and a body
//! over `maxResponseSize` is refused. Requests are made with ureq (blocking, rustls).
//!
//! Why a Weft interface and not `wasi:http`: the step world is synchronous and must serve Rust, Python and
//! JavaScript guests alike. QuickJS (componentize-qjs) has no `fetch` and no `wasi:http` binding;
//! componentize-py's `wasi:http` needs its async poll loop; a Rust guest needs the resource-heavy
//! `outgoing-handler` plumbing. One call with plain records gives each SDK a one-line client, and the
//! host enforces the allow-list, timeout and size bound in one place.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::http::{Method, Request, Uri};
use weft_definitions::capabilities::default_port;
use weft_definitions::limits::human;

use crate::host::bindings::weft::step::http::{Host, HttpError, Request as GuestRequest, Response};

/// Default time one request may take, connection to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest response body.
pub const DEFAULT_MAX_RESPONSE: u64 = 4 << 20;

/// What the definition allows one step: origins, a timeout, a response-size bound.
#[derive(Debug)]
pub struct HttpPolicy {
    /// Allowed `(scheme, host, port)`, scheme and host lower-case.
    allow: Vec<(String, String, u16)>,
    timeout: Duration,
    max_response_bytes: u64,
    agent: ureq::Agent,
}

/// Policies are equal when they allow the same: the same origins, timeout and response bound (the agent is
/// made from those).
impl PartialEq for HttpPolicy {
    fn eq(&self, other: &Self) -> bool {
        (&self.allow, self.timeout, self.max_response_bytes) == (&other.allow, other.timeout, other.max_response_bytes)
    }
}

impl Eq for HttpPolicy {}

impl HttpPolicy {
    /// A policy allowing `allow` (`(scheme, host, port)`, as [`weft_definitions::capabilities::Origin::parts`]
    /// gives them), with `timeout` per request and bodies up to `max_response_bytes`.
    pub fn new(allow: Vec<(String, String, u16)>, timeout: Duration, max_response_bytes: u64) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .user_agent("weft")
            .build();
        HttpPolicy { allow, timeout, max_response_bytes, agent: config.into() }
    }

    /// Whether `uri` is on the allow-list; `Err` says why not.
    fn check(&self, uri: &Uri) -> Result<(), String> {
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        let Some(host) = uri.host() else { return Err(format!("\"{uri}\" is not an absolute URL")) };
        let host = host.to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
        if self.allow.iter().any(|(s, h, p)| *s == scheme && *h == host && *p == port) {
            return Ok(());
        }
        let allowed: Vec<String> = self.allow.iter().map(|(s, h, p)| format!("{s}://{h}:{p}")).collect();
        Err(format!("{scheme}://{host}:{port} is not on the allow-list ({})", allowed.join(", ")))
    }
}

/// The `http` interface of one instance.
#[derive(Debug)]
pub struct HttpHost {
    step: String,
    policy: Option<Arc<HttpPolicy>>,
    invocation_timeout: Duration,
    started: Instant,
}

impl HttpHost {
    /// Step `step`'s outbound HTTP under `policy` (none: every request refused), inside invocations
    /// limited to `invocation_timeout`.
    pub fn new(step: &str, policy: Option<Arc<HttpPolicy>>, invocation_timeout: Duration) -> Self {
        HttpHost { step: step.into(), policy, invocation_timeout, started: Instant::now() }
    }

    /// The same policy, step `step`'s (named in messages) from now on.
    pub fn hand_to(&mut self, step: &str) {
        self.step.clear();
        self.step.push_str(step);
    }

    /// An invocation starts now: its requests may take no longer than what is left of its time limit.
    /// A step granted no HTTP sends nothing, so its invocations do not read the clock.
    pub fn begin(&mut self) {
        if self.policy.is_some() {
            self.started = Instant::now();
        }
    }

    /// Check `request` against the policy, send it, read the response within the bounds.
    fn exchange(&self, request: GuestRequest) -> Result<Response, HttpError> {
        let Some(policy) = &self.policy else {
            return Err(HttpError::NotAllowed(format!(
                "step \"{}\" is not granted outbound HTTP; allow the origin in the definition: \
                 `capabilities: {{ http: {{ allow: [\"https://host:port\"] }} }}`",
                self.step
            )));
        };
        let uri: Uri =
            request.url.parse().map_err(|e| HttpError::NotAllowed(format!("\"{}\" is not a URL: {e}", request.url)))?;
        policy.check(&uri).map_err(|why| HttpError::NotAllowed(format!("step \"{}\": {why}", self.step)))?;
        let method = match request.method.to_ascii_uppercase().as_str() {
            m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD") => Method::from_bytes(m.as_bytes()),
            _ => return Err(HttpError::Failed(format!("method \"{}\" is not supported", request.method))),
        }
        .map_err(|e| HttpError::Failed(e.to_string()))?;
        let left = self.invocation_timeout.saturating_sub(self.started.elapsed());
        let timeout = policy.timeout.min(left).max(Duration::from_millis(1));
        let bound = match left < policy.timeout {
            true => "what was left of the invocation's limits.timeout",
            false => "capabilities.http.timeout",
        };
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let built = builder
            .body(request.body.unwrap_or_default())
            .map_err(|e| HttpError::Failed(format!("bad request: {e}")))?;
        let built = policy.agent.configure_request(built).timeout_global(Some(timeout)).build();
        let url = &request.url;
        let mut response = policy.agent.run(built).map_err(|e| transport_error(e, url, timeout, bound))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body =
            response.body_mut().with_config().limit(policy.max_response_bytes).read_to_vec().map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => HttpError::TooLarge(format!(
                    "the response from {url} is larger than {} (capabilities.http.maxResponseSize)",
                    human(policy.max_response_bytes)
                )),
                e => transport_error(e, url, timeout, bound),
            })?;
        Ok(Response { status, headers, body })
    }
}

/// A failed exchange with `url`; a timeout says the bound that set it (`bound`: the grant's timeout, or what
/// was left of the invocation's).
fn transport_error(e: ureq::Error, url: &str, timeout: Duration, bound: &str) -> HttpError {
    match e {
        ureq::Error::Timeout(_) => {
            HttpError::Timeout(format!("no response from {url} within {} ms ({bound})", timeout.as_millis()))
        }
        e => HttpError::Failed(format!("{url}: {e}")),
    }
}

impl Host for HttpHost {
    fn send(&mut self, request: GuestRequest) -> Result<Response, HttpError> {
        // Logged without the URL, which may hold a secret (an API key in the query).
        let started = Instant::now();
        let method = request.method.clone();
        let outcome = self.exchange(request);
        let ms = started.elapsed().as_millis() as u64;
        let status = outcome.as_ref().map_or(0, |r| r.status);
        tracing::debug!(target: "weft::http", step = %self.step, %method, status, ms, "outbound request");
        outcome
    }
}
