//! Accepting the API's connections: HTTP/1.1 on a TCP listener, each connection served by hyper with
//! the bounds `axum::serve` leaves unset (it gives hyper no timer, so a client could hold a connection
//! for ever by sending its request's head slowly, or not at all).
//!
//! - A request's head (request line and headers) must arrive within the head timeout, or the connection
//!   is closed (hyper's `header_read_timeout`, which also bounds the wait for the next request on a
//!   kept-alive connection).
//! - When the stop signal comes, no connection is accepted any more; each open one finishes the request it
//!   is answering and closes (an idle one at once); those still open after the drain bound (a client
//!   still sending its request's head, a follower that stopped reading, a request still being answered,
//!   whose work goes on to its end but whose answer is lost) are closed, so that a stopped server always
//!   exits.

use std::future::Future;
use std::io::ErrorKind;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long, after the stop signal, the open connections are given to finish what they are answering.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Serve `app` on `listener` until `stop` completes, each request's head bounded by `head_timeout`; then
/// drain the open connections for at most `drain`, and return.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    head_timeout: Duration,
    stop: impl Future<Output = ()>,
    drain: Duration,
) {
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        // Reap the connections that ended, so that the set holds only open ones.
        while connections.try_join_next().is_some() {}
        match stream {
            Ok((stream, _)) => {
                connections.spawn(connection(stream, app.clone(), head_timeout, closed.clone()));
            }
            // A connection that went away before it was accepted: nothing to do.
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset) => {}
            // Out of file descriptors, say: wait a second for some to close rather than spin, as
            // `axum::serve` does.
            Err(e) => {
                tracing::warn!("cannot accept a connection (trying again in 1 s): {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    drop(listener);
    let _ = closing.send(true);
    let drained = tokio::time::timeout(drain, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("closing {} connections still open {} s after the stop", connections.len(), drain.as_secs());
        connections.abort_all();
    }
}

/// Serve one connection until it closes, or until `closing` says stop and what it is answering is done.
async fn connection(
    stream: tokio::net::TcpStream,
    app: axum::Router,
    head_timeout: Duration,
    mut closing: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(head_timeout);
    let served = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let mut served = std::pin::pin!(served);
    let mut told = false;
    loop {
        tokio::select! {
            _ = served.as_mut() => return,
            changed = closing.wait_for(|stop| *stop), if !told => {
                told = true;
                if changed.is_ok() {
                    served.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
