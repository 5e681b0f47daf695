//! `weft serve`: Weft as a service (docs/serving.md). Other systems post CloudEvents over HTTP
//! ([`ingress`], [`api`]); each is committed — to a new instance, or to an instance's inbox — before the
//! request is answered; a [`scheduler`] over the store drives the instances that need it on a pool of
//! worker threads, a slice of supersteps at a time, and fires timers and await timeouts on its own at
//! their due time. The HTTP side runs on tokio; runs stay synchronous on their own threads.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use weft_engine::{durable::Driver, load::{Runtime, RuntimeConfig}, runner::SystemClock};
//! # use weft_engine::serve::{ServeConfig, registry::Registry};
//! # use weft_engine::store::{Store, sqlite::{Durability, SqliteStore}};
//! let runtime: &'static Runtime = Box::leak(Box::new(Runtime::new(RuntimeConfig::default())?));
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::open("weft.db".as_ref(), Durability::Full)?);
//! let driver = Driver::new(store, runtime, &SystemClock);
//! let registry = Registry::open(&driver, &["examples/support-ticket/process.yaml".into()])?;
//! let config =
//!     ServeConfig { listen: "127.0.0.1:8080".parse()?, workers: 2, slice: 100, token: None, max_backlog: 10_000,
//!                   request_timeout: std::time::Duration::from_secs(30) };
//! weft_engine::serve::serve(driver, registry, config)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod api;
pub mod backlog;
pub mod deployments;
pub mod follow;
pub mod ingress;
pub mod instances;
pub mod listen;
pub mod registry;
pub mod resume;
pub mod scheduler;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::durable::Driver;
use registry::Registry;
use scheduler::Signal;

/// How a server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Worker threads driving instances.
    pub workers: usize,
    /// Supersteps an instance runs before it yields to the others.
    pub slice: u64,
    /// The bearer token every request must carry (not empty); none on loopback only.
    pub token: Option<String>,
    /// The most instances that may wait for a worker before requests that add events get `429`.
    pub max_backlog: usize,
    /// How long a client may take to send a request's head (the connection is closed past it) and,
    /// then, its body (answered `408` past it).
    pub request_timeout: std::time::Duration,
}

impl ServeConfig {
    /// Whether the server may start so: a token, when given, is not empty (it would let every request
    /// through), and an address other than loopback has one.
    ///
    /// Errors: what is wrong and how to mend it.
    pub fn check(&self) -> Result<(), String> {
        if self.token.as_deref().is_some_and(str::is_empty) {
            return Err("the bearer token is empty: put the token in --token-file (or WEFT_TOKEN)".to_owned());
        }
        if !self.listen.ip().is_loopback() && self.token.is_none() {
            return Err(format!(
                "{} is not a loopback address: give a token (--token-file or WEFT_TOKEN) that every request must \
                 carry",
                self.listen
            ));
        }
        Ok(())
    }
}

/// What the API and the scheduler share.
pub struct Shared {
    /// The driver of every instance.
    pub driver: Driver<'static>,
    /// The processes served.
    pub registry: Registry,
    /// Wakes the scheduler; says when the server stops.
    pub signal: Signal,
    /// The backlog bound (backpressure).
    pub backlog: backlog::Backlog,
    /// The instances the scheduler handed out, and those it leaves alone after failures.
    pub board: scheduler::Board,
    /// Supersteps an instance runs before it yields to the others.
    pub slice: u64,
}

/// Serve until SIGINT or SIGTERM: then stop taking requests (503), finish the slices in flight, let go of
/// every instance, and return.
///
/// Errors: the address cannot be bound; a non-loopback address without a token; an empty token (it would
/// let every request through); the async runtime cannot start.
pub fn serve(driver: Driver<'static>, registry: Registry, config: ServeConfig) -> Result<(), String> {
    config.check()?;
    let backlog = backlog::Backlog::new(config.max_backlog);
    let shared = Arc::new(Shared {
        driver,
        registry,
        signal: Signal::default(),
        backlog,
        board: scheduler::Board::default(),
        slice: config.slice,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.listen))
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("weft serve: listening on http://{address}");
    let timeout = config.request_timeout;
    let app = api::router(shared.clone())
        .layer(axum::middleware::from_fn(move |request, next| slow::limit(timeout, request, next)));
    let app = match config.token.clone() {
        Some(token) => app.layer(axum::middleware::from_fn(move |request, next| {
            let token = token.clone();
            async move { api_token::check(&token, request, next).await }
        })),
        None => app,
    };
    std::thread::scope(|scope| {
        let scheduler =
            scope.spawn(|| scheduler::run(&shared.driver, &shared.signal, &shared.board, config.workers, config.slice));
        scope.spawn(|| shared.registry.watch(&shared.driver, &|| shared.signal.stopping()));
        let stopping = shared.clone();
        let stop = async move {
            stop_signal().await;
            stopping.signal.stop();
        };
        runtime.block_on(listen::serve(listener, app, timeout, stop, listen::DRAIN));
        shared.signal.stop();
        let _ = scheduler.join();
        let group = shared.driver.group_stats();
        if group.batches > 0 {
            eprintln!(
                "weft serve: stopped; {} superstep commits in {} transactions ({:.1} per transaction)",
                group.commits,
                group.batches,
                group.commits as f64 / group.batches as f64
            );
        }
        Ok(())
    })
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => {
            let _ = interrupt.await;
            return;
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

/// Bearer tokens.
mod api_token {
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::middleware::Next;
    use axum::response::{IntoResponse, Response};

    /// Let the request through if it carries `Authorization: Bearer <token>` (the scheme in any case, RFC
    /// 9110 §11.1), compared in constant time; else `401` with `WWW-Authenticate: Bearer` (RFC 9110
    /// §11.6.1, RFC 6750 §3), saying whether the token was missing or wrong.
    pub async fn check(token: &str, request: Request, next: Next) -> Response {
        let header = request.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let given = header.and_then(|v| v.split_once(' ')).filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
        let message = match given {
            Some((_, given)) if same(given.trim().as_bytes(), token.as_bytes()) => return next.run(request).await,
            Some(_) => "the bearer token is not this server's",
            None => "a bearer token is needed: send Authorization: Bearer <token>",
        };
        let mut answer =
            (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({ "error": message }))).into_response();
        answer.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer realm=\"weft\""),
        );
        answer
    }

    /// Whether `a` and `b` are equal, in a time that depends on their lengths only.
    fn same(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn tokens_compare_whole() {
            assert!(super::same(b"secret", b"secret"));
            assert!(!super::same(b"secret", b"secreT") && !super::same(b"secret", b"secrets"));
        }
    }
}

/// Slow clients.
mod slow {
    use std::time::Duration;

    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::http::header::CONTENT_LENGTH;
    use axum::middleware::Next;
    use axum::response::{IntoResponse, Response};

    /// Read the request's body within `timeout`, then hand the request on: a client that sends its body
    /// slowly, or never, is answered `408` and holds nothing longer. (Only the reading is timed: what the
    /// request asks is done, and answered, however long it takes. A body over the bound is `413`.)
    pub async fn limit(timeout: Duration, request: Request, next: Next) -> Response {
        let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > super::api::MAX_BODY as u64) {
            return too_large();
        }
        let (parts, body) = request.into_parts();
        match tokio::time::timeout(timeout, axum::body::to_bytes(body, super::api::MAX_BODY)).await {
            Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
            // A body without a length that goes past the bound (http-body-util's length limit error).
            Ok(Err(e)) if e.to_string().contains("length limit") => too_large(),
            Ok(Err(e)) => error(StatusCode::BAD_REQUEST, format!("the body could not be read: {e}")),
            Err(_) => error(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {} ms (--request-timeout)", timeout.as_millis()),
            ),
        }
    }

    /// `413`, before the body is read when its length says so.
    fn too_large() -> Response {
        let message = format!("the body is over {} bytes", super::api::MAX_BODY);
        error(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    fn error(status: StatusCode, message: String) -> Response {
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    }
}
