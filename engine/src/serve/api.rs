//! The HTTP API of `weft serve` (docs/serving.md): CloudEvents in, per the CloudEvents HTTP binding
//! ([`super::ingress`]), and the instances' summaries out. A handler answers once what it received is
//! committed (to a new instance, or to an instance's inbox), never after the run: the scheduler drives
//! the instances.
//!
//! | route | what it does |
//! | --- | --- |
//! | `POST /processes/{name}/events` | starts an instance of process `name` per event (its input event), or delivers an event awaited under a correlation key (its `subject`) to the instance awaiting it |
//! | `POST /instances/{id}/events` | receives events into the inbox of instance `id` |
//! | `GET /instances/{id}` | the instance's summary, as `weft status --json` prints it |
//!
//! and the routes of [`super::instances`] (list, history, cancel), [`super::resume`], [`super::deployments`]
//! and [`super::follow`] (`GET /instances/{id}/events`: its published events, live).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};

use super::Shared;
use super::ingress::{self, Incoming, Refusal};
use crate::durable::{Driver, DurableError, Identity, Start};
use crate::runner::layout::Layout;
use crate::store::{Appended, StoreError};

/// The largest request body taken, in bytes (the largest event data an event may carry), checked before
/// the body is read.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The header that names the instance a started event creates (one event per request); without it, the
/// instance gets a random UUID.
pub const INSTANCE_HEADER: &str = "weft-instance-id";

/// The OpenAPI 3.1 document of this API, served at `GET /openapi.json` (the tests fuzz the server with
/// schemathesis against it).
pub const OPENAPI: &str = include_str!("openapi.json");

/// The API's routes over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/processes/{name}/events", post(start))
        .route("/openapi.json", get(|| async { ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/instances", get(super::instances::list))
        .route("/instances/{id}", get(status))
        .route("/instances/{id}/history", get(super::instances::history))
        .route("/instances/{id}/events", get(super::follow::follow).post(deliver))
        .route("/instances/{id}/cancel", post(super::instances::cancel))
        .route("/instances/{id}/resume", post(super::resume::resume))
        .route("/processes", get(super::deployments::served))
        .route("/processes/{name}/deployments", get(super::deployments::of_process))
        .route("/deployments", post(super::deployments::deploy))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// An answer: a status and a JSON body.
pub(super) fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// An error answer: `{"error": message}`.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, json!({ "error": message.into() }))
}

/// The events of a request, unless the server is stopping (503) or there are none usable (400, 415).
#[allow(clippy::result_large_err)]
fn received(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Vec<Incoming>, Response> {
    if shared.signal.stopping() {
        return Err(error(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down"));
    }
    let events = ingress::events(headers, body).map_err(refused)?;
    if let Some(waiting) = shared.backlog.over(&shared.driver, &shared.board) {
        let message = format!(
            "{waiting} or more instances wait for a worker (the bound is {}, --max-backlog): try again later",
            shared.backlog.bound()
        );
        let mut answer = error(StatusCode::TOO_MANY_REQUESTS, message);
        answer.headers_mut().insert(axum::http::header::RETRY_AFTER, super::backlog::RETRY_AFTER_S.into());
        return Err(answer);
    }
    Ok(events)
}

/// The answer for a request without usable events.
fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Malformed(m) => error(StatusCode::BAD_REQUEST, m),
        Refusal::Unsupported(m) => error(StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
    }
}

/// What one accepted event did: the instance it went to (with its URL), and whether it was a duplicate.
pub(super) fn accepted(instance: &str, duplicate: bool) -> Value {
    json!({ "instance": instance, "url": instance_url(instance), "duplicate": duplicate })
}

/// Characters percent-encoded in a path segment: controls, space, `%`, and what RFC 3986 (§3.3) does not
/// allow there as it is, or a URL parser would take for something else (the WHATWG URL standard reads `\`
/// as `/` in http URLs).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `/instances/{id}`, the id percent-encoded.
pub(super) fn instance_url(instance: &str) -> String {
    format!("/instances/{}", utf8_percent_encode(instance, SEGMENT))
}

/// What an event appended to the inbox of instance `id` did ([`accepted`]); a duplicate names the
/// instance that received it first.
pub(super) fn appended(id: &str, appended: Appended) -> Value {
    match appended {
        Appended::New(_) => accepted(id, false),
        Appended::Duplicate { instance, .. } => accepted(&instance, true),
    }
}

/// Why one event was not accepted: the status to answer with, and what to say.
struct Failed {
    status: StatusCode,
    message: String,
}

impl Failed {
    fn of(e: &DurableError) -> Failed {
        Failed { status: durable_error(e), message: durable_message(e) }
    }
}

/// Take the events of a request in order through `results` (lazy: an event after the first failure is
/// never taken) and answer: 202 with one result (one event) or `{"events": [...]}` (a batch); the first
/// failure's status when one failed, with what was accepted before it.
fn results(results: impl Iterator<Item = Result<Value, Failed>>, batch: bool) -> Response {
    let mut done = Vec::new();
    for result in results {
        match result {
            Ok(value) => done.push(value),
            Err(failed) if !batch => return error(failed.status, failed.message),
            Err(failed) => {
                let message = format!("event {} of the batch: {}", done.len() + 1, failed.message);
                return answer(failed.status, json!({ "error": message, "accepted": done }));
            }
        }
    }
    match (batch, done.pop()) {
        (false, Some(one)) => answer(StatusCode::ACCEPTED, one),
        (_, last) => {
            answer(StatusCode::ACCEPTED, json!({ "events": done.into_iter().chain(last).collect::<Vec<_>>() }))
        }
    }
}

/// Run `work` on a blocking thread (the store and the driver are synchronous); a panic there is a 500.
pub(super) async fn blocking(work: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "the request failed inside the server"))
}

/// The status of a store failure: not found 404, a duplicate id, a held or an ended instance 409, the
/// rest 500.
pub(super) fn store_error(e: &StoreError) -> StatusCode {
    match e {
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::AlreadyExists(_) | StoreError::Held { .. } | StoreError::Ended { .. } => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A store failure's answer: [`store_error`]'s status, and its message in the API's words (the store's
/// own point to `weft` commands and flags).
pub(super) fn store_failure(e: &StoreError) -> Response {
    error(store_error(e), store_message(e))
}

/// A durable operation's failure's answer: [`durable_error`]'s status, and its message in the API's words.
pub(super) fn durable_failure(e: &DurableError) -> Response {
    error(durable_error(e), durable_message(e))
}

fn store_message(e: &StoreError) -> String {
    match e {
        StoreError::NotFound(id) => format!("no process instance has the id \"{id}\"; GET /instances lists them"),
        StoreError::AlreadyExists(id) => format!(
            "a process instance with the id \"{id}\" already exists; name another in the {INSTANCE_HEADER} header, \
             or leave it out for a random one"
        ),
        e => e.to_string(),
    }
}

fn durable_message(e: &DurableError) -> String {
    match e {
        DurableError::Store(e) => store_message(e),
        e => e.to_string(),
    }
}

/// The status of a durable operation's failure.
pub(super) fn durable_error(e: &DurableError) -> StatusCode {
    match e {
        DurableError::Store(e) => store_error(e),
        DurableError::Input(_) | DurableError::InstanceId(_) => StatusCode::BAD_REQUEST,
        DurableError::NotAwaited(_)
        | DurableError::Ended { .. }
        | DurableError::Ambiguous { .. }
        | DurableError::Incompatible { .. } => StatusCode::CONFLICT,
        DurableError::NotCorrelated { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn start(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // On a blocking thread from the start: parsing up to 16 MiB of JSON and counting the backlog would
    // hold up the runtime's two threads, and every connection with them.
    blocking(move || {
        let events = match received(&shared, &headers, &body) {
            Ok(events) => events,
            Err(answer) => return answer,
        };
        let named = headers.get(INSTANCE_HEADER).map(|v| v.to_str().map(str::to_owned));
        let named = match named.transpose() {
            Ok(named) if named.is_some() && events.len() > 1 => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("{INSTANCE_HEADER} names one instance; a batch starts several"),
                );
            }
            Ok(named) => named,
            Err(_) => return error(StatusCode::BAD_REQUEST, format!("{INSTANCE_HEADER} is not ASCII text")),
        };
        let batch = ingress::batched(&headers);
        let Some(served) = shared.registry.get(&name) else {
            let names = shared.registry.names().join(", ");
            let message = match names.is_empty() {
                true => format!("no process \"{name}\" is served: none is deployed (weft deploy, POST /deployments)"),
                false => format!("no process \"{name}\" is served; served: {names}"),
            };
            return error(StatusCode::NOT_FOUND, message);
        };
        let started = take(&shared.driver, &served, events, named.as_deref());
        let answer = results(started.into_iter(), batch);
        shared.signal.notify();
        answer
    })
    .await
}

/// Take the events posted to the process of `served`, in order, up to the first that fails: an event the
/// process awaits under a correlation key goes to the instance awaiting it; the others start instances
/// (`named`, or a random UUID each), those in a row committed together in one transaction.
fn take(
    driver: &Driver<'_>,
    served: &super::registry::Served,
    events: Vec<Incoming>,
    named: Option<&str>,
) -> Vec<Result<Value, Failed>> {
    let correlated =
        |e: &Incoming| served.process.routing.awaits().iter().any(|a| a.event == e.event_type && a.correlate.is_some());
    let mut done = Vec::with_capacity(events.len());
    let mut events = events.into_iter().peekable();
    while let Some(first) = events.next() {
        if correlated(&first) {
            done.push(correlate_one(driver, served, &first));
        } else {
            let mut starts = vec![first];
            while let Some(next) = events.next_if(|e| !correlated(e)) {
                starts.push(next);
            }
            done.extend(start_all(driver, served, &starts, named));
        }
        if done.last().is_some_and(Result::is_err) {
            break;
        }
    }
    done
}

/// Start an instance of `served` on each of `events`, in one transaction, up to the first that fails; a
/// duplicate of an event received before answers with the instance it started.
fn start_all(
    driver: &Driver<'_>,
    served: &super::registry::Served,
    events: &[Incoming],
    named: Option<&str>,
) -> Vec<Result<Value, Failed>> {
    let ids: Vec<String> =
        events.iter().map(|_| named.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)).collect();
    let starts = events
        .iter()
        .zip(&ids)
        .map(|(e, id)| Start {
            id,
            event_type: &e.event_type,
            data: e.data.clone(),
            identity: Some(Identity { source: &e.source, id: &e.id }),
        })
        .collect();
    let file = std::path::Path::new(&served.deployment.definition_file);
    let started = driver.start_many(served.process.clone(), file, starts);
    let mut held = Vec::with_capacity(started.len());
    let answers = started
        .into_iter()
        .zip(&ids)
        .map(|(started, id)| match started {
            Ok(instance) => {
                held.push(instance);
                Ok(accepted(id, false))
            }
            Err(DurableError::Store(StoreError::Duplicate { instance, .. })) => Ok(accepted(&instance, true)),
            Err(err) => Err(Failed::of(&err)),
        })
        .collect();
    // The scheduler drives them: let go of them all at once.
    driver.let_go_all(held);
    answers
}

/// Deliver `e`, addressed to the process of `served`, to the one instance awaiting it under its
/// correlation key, the event's `subject`.
fn correlate_one(driver: &Driver<'_>, served: &super::registry::Served, e: &Incoming) -> Result<Value, Failed> {
    let Some(key) = e.subject.as_deref() else {
        let message = format!(
            "\"{}\" is awaited with a correlation key: give the key as the event's `subject`, or post the event to \
             the instance (/instances/{{id}}/events)",
            e.event_type
        );
        return Err(Failed { status: StatusCode::BAD_REQUEST, message });
    };
    match driver.receive_correlated(served.process.name(), key, &e.inbound(driver.now_ms())) {
        Ok((instance, done)) => Ok(appended(&instance, done)),
        Err(err) => Err(Failed::of(&err)),
    }
}

async fn deliver(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    blocking(move || {
        let events = match received(&shared, &headers, &body) {
            Ok(events) => events,
            Err(answer) => return answer,
        };
        let batch = ingress::batched(&headers);
        let driver = &shared.driver;
        let received = events.iter().map(|e| {
            driver.receive(&id, &e.inbound(driver.now_ms())).map(|done| appended(&id, done)).map_err(|e| Failed::of(&e))
        });
        let answer = results(received, batch);
        shared.signal.notify();
        answer
    })
    .await
}

async fn status(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    blocking(move || summary(&shared, &id)).await
}

/// `200` with the summary of instance `id`, as `weft status --json` prints it; `404` for an unknown one.
pub(super) fn summary(shared: &Shared, id: &str) -> Response {
    let store = shared.driver.store();
    let summary = store.load(id).and_then(|loaded| {
        let dead = store.dead_letters(id)?;
        let layout = Driver::layout(&**store, &loaded.info)?;
        Ok((loaded, dead, layout))
    });
    match summary {
        Ok((loaded, dead, Some(layout))) => {
            answer(StatusCode::OK, crate::cli::summary::summary(&layout, &loaded.state, &dead))
        }
        Ok((loaded, dead, None)) => match shared.driver.pinned_process(&loaded.info) {
            Ok(process) => {
                answer(StatusCode::OK, crate::cli::summary::summary(&Layout::of(&process), &loaded.state, &dead))
            }
            Err(e) => durable_failure(&e),
        },
        Err(e) => store_failure(&e),
    }
}
