//! The JSON API over deployments (docs/serving.md, "Deployments"): what `weft deploy` and `weft
//! deployments` do, over HTTP.
//!
//! | route | what it does |
//! | --- | --- |
//! | `GET /processes` | the processes served: the latest deployment of each |
//! | `GET /processes/{name}/deployments` | every deployment of process `name`, oldest first |
//! | `POST /deployments` | deploys the definition file `{"file": PATH}` names (a path on the server's machine), with its components; new instances start on it at once |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::Shared;
use super::api::{answer, blocking, error, store_failure};
use super::registry;
use crate::store::Deployed;

/// `GET /processes`: `{"processes": [Deployment...]}`, by name.
pub async fn served(State(shared): State<Arc<Shared>>) -> Response {
    let all: Vec<_> = shared.registry.all().iter().map(|s| json!(s.deployment)).collect();
    answer(StatusCode::OK, json!({ "processes": all }))
}

/// `GET /processes/{name}/deployments`: `{"deployments": [Deployment...]}`, oldest first; `404` for a
/// process never deployed.
pub async fn of_process(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    blocking(move || match shared.driver.store().deployments(Some(&name)) {
        Ok(all) if all.is_empty() => error(StatusCode::NOT_FOUND, format!("process \"{name}\" was never deployed")),
        Ok(all) => answer(StatusCode::OK, json!({ "deployments": all })),
        Err(e) => store_failure(&e),
    })
    .await
}

/// The body of `POST /deployments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The definition file, as a path on the server's machine (relative to the server's working folder).
    file: std::path::PathBuf,
}

/// `POST /deployments`: load and check the definition and its components, deploy them, and serve them at
/// once: `201` with the deployment (`"new": true`), `200` when it already was the latest; `400` for a
/// definition that does not load, with every problem it has (a file that is no definition is said to be
/// none, never quoted: the path may name any file the server can read).
pub async fn deploy(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    if shared.signal.stopping() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down");
    }
    // JSON whatever its content type says, as `POST /instances/{id}/resume` takes its body.
    let request = match serde_json::from_slice::<DeployRequest>(&body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body is not a deployment request ({{\"file\": PATH}}): {e}"),
            );
        }
    };
    blocking(move || {
        if let Err(message) = a_definition_file(&request.file) {
            return error(StatusCode::BAD_REQUEST, message);
        }
        let driver = &shared.driver;
        let process = match driver.runtime().load_process(&request.file) {
            Ok(process) => Arc::new(process),
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        };
        match registry::deploy(driver, process.clone(), &request.file) {
            Ok(deployed) => {
                match &deployed {
                    Deployed::New(deployment) => shared.registry.put(process, deployment.clone()),
                    // Served already, as its own file loaded it (or within a second by the watch).
                    Deployed::Unchanged(_) => {
                        let _ = shared.registry.refresh(driver);
                    }
                }
                let status = if matches!(deployed, Deployed::New(_)) { StatusCode::CREATED } else { StatusCode::OK };
                answer(status, registry::deployed_json(&deployed))
            }
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    })
    .await
}

/// The most bytes a definition file deployed over HTTP may have.
pub const MAX_DEFINITION: u64 = 4 * 1024 * 1024;

/// Whether `file` may be read as a definition: a regular file (not a device or a pipe, which could be
/// read forever) of at most [`MAX_DEFINITION`] bytes.
///
/// Errors: what it is instead.
fn a_definition_file(file: &std::path::Path) -> Result<(), String> {
    let shown = file.display();
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a file: name a process definition (YAML)"));
    }
    if meta.len() > MAX_DEFINITION {
        return Err(format!("{shown} has {} bytes; a definition has at most {MAX_DEFINITION}", meta.len()));
    }
    Ok(())
}
