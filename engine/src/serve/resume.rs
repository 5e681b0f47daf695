//! `POST /instances/{id}/resume` (docs/serving.md, "Deployments"): what `weft resume` does, over HTTP.
//! A server resumes on its own what is ready (running, a timer due, events in the inbox); this is for
//! the rest: an ended instance whose events a webhook has not taken yet (they are published again), and
//! moving a running instance to its process's latest deployment (`{"upgrade": true}`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::Shared;
use super::api::{blocking, durable_failure, error, summary};
use crate::durable::{Driver, DurableError, Instance};
use crate::store::StoreError;

/// How long a resume waits for a worker that holds the instance to let go of it.
pub const HOLD_WAIT: Duration = Duration::from_secs(5);

/// The body of `POST /instances/{id}/resume` (it may be empty).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    /// Rebind the instance to the latest deployment of its process first, if it is not on it (the rules of
    /// `weft resume --upgrade`: the same steps, and everything its state refers to still there).
    #[serde(default)]
    upgrade: bool,
}

/// `POST /instances/{id}/resume`: publish what its sinks never acknowledged, upgrade it if asked, and run
/// it one slice; `200` with its summary (as `GET /instances/{id}`). `404` unknown instance; `409` an
/// ended instance with nothing left to publish, an upgrade of an ended instance or one its state cannot
/// survive (with every reason), or an instance a worker held for [`HOLD_WAIT`].
pub async fn resume(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    if shared.signal.stopping() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down");
    }
    let request = match body.is_empty() {
        true => ResumeRequest::default(),
        false => match serde_json::from_slice::<ResumeRequest>(&body) {
            Ok(request) => request,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("the body is not {{\"upgrade\": BOOL}}: {e}")),
        },
    };
    blocking(move || {
        let driver = &shared.driver;
        let resumed = hold(driver, &id, request.upgrade).and_then(|mut held| {
            let mut relay = driver.relay(&held, std::io::stdout());
            let done = upgrade(&shared, &mut held, &mut relay, request.upgrade)
                .and_then(|()| driver.drive_for(&mut held, &mut relay, shared.slice).map(drop));
            let finished = driver.finish(&held, relay);
            done.and(finished.map(drop))
        });
        shared.signal.notify();
        match resumed {
            Ok(()) => summary(&shared, &id),
            Err(e) => durable_failure(&e),
        }
    })
    .await
}

/// Take hold of instance `id` (running, or ended with events to publish; running only, to upgrade it),
/// waiting up to [`HOLD_WAIT`] for a worker that holds it.
fn hold(driver: &Driver<'_>, id: &str, upgrade: bool) -> Result<Instance, DurableError> {
    let since = Instant::now();
    loop {
        let held = if upgrade { driver.open_running(id) } else { driver.open(id) };
        match held {
            Err(DurableError::Store(StoreError::Held { .. })) if since.elapsed() < HOLD_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            held => return held,
        }
    }
}

/// With `asked`, rebind `held` to the latest deployment of its process, as the store says now (not as the
/// server last looked), unless it is on it.
///
/// Errors: [`DurableError::Incompatible`] when its process was never deployed, or its state cannot survive
/// the change; [`DurableError::Pinned`] when this Weft cannot load the deployment; the store's.
fn upgrade<W: std::io::Write>(
    shared: &Shared,
    held: &mut Instance,
    relay: &mut crate::sinks::relay::Relay<W>,
    asked: bool,
) -> Result<(), DurableError> {
    if !asked {
        return Ok(());
    }
    let driver = &shared.driver;
    let info = held.info();
    let Some(latest) = driver.store().deployments(Some(&info.process))?.pop() else {
        let changes = format!("process \"{}\" was never deployed", info.process);
        return Err(DurableError::Incompatible { instance: info.id.clone(), changes });
    };
    if latest.pins_instance(info) {
        return Ok(());
    }
    let process = driver.deployed(&latest)?;
    driver.upgrade_to(held, relay, process, &latest.definition_file)
}
