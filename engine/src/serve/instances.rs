//! The JSON API over instances (docs/serving.md, "The JSON API"): what `weft list`, `weft history` and
//! `weft cancel` do, over HTTP, read from the store (a waiting instance is a row there, never in memory).
//!
//! | route | what it does |
//! | --- | --- |
//! | `GET /instances?status=&process=&after=&limit=` | instances, newest first, a page at a time (keyset: `after` is the previous page's `next`) |
//! | `GET /instances/{id}/history?after=&limit=` | an instance's history, a page at a time |
//! | `POST /instances/{id}/cancel` | a cancel request appended to the instance's inbox (`202`), taken at its next superstep boundary |

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::Shared;
use super::api::{answer, appended, blocking, durable_failure, error, store_failure};
use crate::store::{Inbound, ListCursor, ListFilter};

/// The most items a page holds (and the default).
pub const PAGE: usize = 1000;

/// The source of a cancel request made over HTTP (with the request's `Idempotency-Key`, or a random id).
pub const CANCEL_SOURCE: &str = "weft:api";

/// The query of `GET /instances`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status (`running`, `waiting`, `completed`, `stopped`, `failed`, `cancelled`).
    status: Option<String>,
    /// Only this process.
    process: Option<String>,
    /// The previous page's `next`.
    after: Option<String>,
    /// At most this many (1 to [`PAGE`]).
    limit: Option<usize>,
}

/// The answer to a query string that does not parse: 400 with what is wrong, as JSON like every error.
fn bad_query(rejection: &QueryRejection) -> Response {
    error(StatusCode::BAD_REQUEST, format!("the query string is not usable: {}", rejection.body_text()))
}

/// A page's size from `limit`, or why it is refused.
fn page_size(limit: Option<usize>) -> Result<usize, String> {
    match limit.unwrap_or(PAGE) {
        n @ 1..=PAGE => Ok(n),
        n => Err(format!("limit {n} is out of range: give 1 to {PAGE}")),
    }
}

/// A list cursor as the API writes it: `<created_ms>.<id>`.
fn cursor_text(cursor: &ListCursor) -> String {
    format!("{}.{}", cursor.created_ms, cursor.id)
}

/// A list cursor from its text, or why it is refused.
fn cursor(text: &str) -> Result<ListCursor, String> {
    text.split_once('.')
        .and_then(|(ms, id)| Some(ListCursor { created_ms: ms.parse().ok()?, id: id.to_owned() }))
        .ok_or_else(|| format!("after={text:?} is not a cursor: give a page's `next` as it came"))
}

/// `GET /instances`: `{"instances": [InstanceInfo...], "next": cursor or null}`.
pub async fn list(State(shared): State<Arc<Shared>>, query: Result<Query<ListQuery>, QueryRejection>) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return bad_query(&rejection),
    };
    let paging = page_size(query.limit).and_then(|limit| {
        query.status.as_deref().map(crate::runner::status_name).transpose()?;
        Ok((limit, query.after.as_deref().map(cursor).transpose()?))
    });
    let (limit, after) = match paging {
        Ok(paging) => paging,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    blocking(move || {
        let filter = ListFilter { status: query.status, process: query.process };
        match shared.driver.store().list(&filter, after.as_ref(), limit) {
            Ok(page) => {
                let next = (page.len() == limit).then(|| page.last().map(|i| cursor_text(&ListCursor::from(i))));
                answer(StatusCode::OK, json!({ "instances": page, "next": next.flatten() }))
            }
            Err(e) => store_failure(&e),
        }
    })
    .await
}

/// The query of `GET /instances/{id}/history`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// The previous page's `next` (a history sequence number); from the start without it.
    after: Option<u64>,
    /// At most this many commits' records (1 to [`PAGE`]).
    limit: Option<usize>,
}

/// `GET /instances/{id}/history`: `{"history": [HistoryEntry...], "next": seq or null}`.
pub async fn history(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return bad_query(&rejection),
    };
    let limit = match page_size(query.limit) {
        Ok(limit) => limit,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    blocking(move || match shared.driver.store().history(&id, query.after.unwrap_or(0), limit) {
        Ok((entries, next)) => answer(StatusCode::OK, json!({ "history": entries, "next": next })),
        Err(e) => store_failure(&e),
    })
    .await
}

/// `POST /instances/{id}/cancel`: a cancel request appended to the inbox; `202` as for an event (a
/// repeated `Idempotency-Key` is a duplicate); `404` unknown instance; `409` an ended one.
pub async fn cancel(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if shared.signal.stopping() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down");
    }
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        Some(Ok(key)) if !key.is_empty() => key.to_owned(),
        Some(_) => return error(StatusCode::BAD_REQUEST, "Idempotency-Key is empty or not ASCII text"),
        None => uuid::Uuid::new_v4().to_string(),
    };
    blocking(move || {
        let driver = &shared.driver;
        let answer = match driver.receive(&id, &Inbound::cancel(CANCEL_SOURCE, &key, driver.now_ms())) {
            Ok(done) => answer(StatusCode::ACCEPTED, appended(&id, done)),
            Err(e) => durable_failure(&e),
        };
        shared.signal.notify();
        answer
    })
    .await
}
