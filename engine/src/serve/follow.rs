//! `GET /instances/{id}/events`: an instance's published events, live, as Server-Sent Events (the HTML
//! Living Standard, "Server-sent events"). Each event of the instance's outbox (its public events and
//! its topics' events, in the order they were committed) is sent once it is committed, as
//!
//! ```text
//! id: <outbox position>
//! event: cloudevent
//! data: <the CloudEvent, JSON, as its sinks get it>
//! ```
//!
//! A client that reconnects with `Last-Event-ID` (as browsers' `EventSource` do) goes on after that
//! position. The stream ends once the instance has ended and everything it published was sent. It reads
//! the store (every [`POLL`]), so it follows an instance whichever worker drives it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::Shared;
use super::api::{error, store_failure};
use crate::store::{OutboxEvent, StoreError};

/// How often the store is read for new events.
pub const POLL: Duration = Duration::from_millis(100);

/// Events read from the store at a time.
const PAGE: usize = 100;

/// Where a stream is: the last position sent, and whether the instance had ended when it was read.
struct Following {
    shared: Arc<Shared>,
    id: String,
    after: u64,
    ended: bool,
    /// Read, not yet sent.
    ready: std::collections::VecDeque<OutboxEvent>,
}

/// The next page of the outbox after `after`, and whether the instance had ended before it was read.
fn read(shared: &Shared, id: &str, after: u64) -> Result<(Vec<OutboxEvent>, bool), StoreError> {
    let store = shared.driver.store();
    let ended = store.load(id)?.state.status.is_final();
    Ok((store.outbox(id, after, PAGE)?, ended))
}

/// Wait for and take the next event; none when the stream ends.
async fn next(mut at: Following) -> Option<(Result<Event, Infallible>, Following)> {
    loop {
        if let Some(event) = at.ready.pop_front() {
            at.after = event.seq;
            let sse = Event::default().id(event.seq.to_string()).event("cloudevent").data(event.json);
            return Some((Ok(sse), at));
        }
        if at.ended || at.shared.signal.stopping() {
            return None;
        }
        let (shared, id, after) = (at.shared.clone(), at.id.clone(), at.after);
        match tokio::task::spawn_blocking(move || read(&shared, &id, after)).await {
            Ok(Ok((events, ended))) => {
                // Ended before this page was read: the page holds the last of it.
                at.ended = ended && events.len() < PAGE;
                let empty = events.is_empty();
                at.ready.extend(events);
                if empty && !at.ended {
                    tokio::time::sleep(POLL).await;
                }
            }
            // Deleted meanwhile, or the store failed: the stream ends (the client may reconnect).
            _ => return None,
        }
    }
}

/// `GET /instances/{id}/events` (see the module docs); `404` for an unknown instance.
pub async fn follow(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let after = match headers.get("last-event-id").map(|v| v.to_str().ok().and_then(|v| v.trim().parse().ok())) {
        None => 0,
        Some(Some(after)) => after,
        Some(None) => return error(StatusCode::BAD_REQUEST, "Last-Event-ID is not an outbox position this sent"),
    };
    let exists = {
        let (shared, id) = (shared.clone(), id.clone());
        tokio::task::spawn_blocking(move || shared.driver.store().load(&id).map(drop)).await
    };
    match exists {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return store_failure(&e),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "the request failed inside the server"),
    }
    let start = Following { shared, id, after, ended: false, ready: Default::default() };
    Sse::new(stream::unfold(start, next)).keep_alive(KeepAlive::default()).into_response()
}
