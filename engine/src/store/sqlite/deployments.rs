//! The SQLite store's deployments (schema version 8, `migrations/0008_deployments.sql`): each process's
//! deployed versions, numbered from 1, and the blobs each keeps.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::store::{Deployed, Deployment, Pinned, StoreError};

use super::backend;
use super::rows::{i64_of, u64_at};
use super::write::put_blob;

const COLUMNS: &str =
    "process, number, version, definition_file, definition_digest, components, layout_digest, deployed_ms";

/// [`Store::deploy`](crate::store::Store::deploy) in `tx`.
pub fn deploy(tx: &Transaction<'_>, process: &str, pinned: &Pinned<'_>, now_ms: u64) -> Result<Deployed, StoreError> {
    let latest = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM deployments WHERE process = ?1 ORDER BY number DESC LIMIT 1"))
        .and_then(|mut s| s.query_row([process], |r| Ok(deployment(r))).optional())
        .map_err(backend)?
        .transpose()?;
    if let Some(latest) = &latest
        && latest.pins_same(pinned)
    {
        return Ok(Deployed::Unchanged(latest.clone()));
    }
    let deployment = Deployment::of(process, latest.map_or(1, |l| l.number + 1), pinned, now_ms);
    let components = serde_json::to_string(&deployment.components).map_err(|e| StoreError::Backend(e.to_string()))?;
    tx.execute(
        &format!("INSERT INTO deployments ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            process,
            i64_of(deployment.number),
            deployment.version,
            deployment.definition_file,
            deployment.definition_digest,
            components,
            deployment.layout_digest,
            i64_of(now_ms)
        ],
    )
    .map_err(backend)?;
    for blob in &pinned.pinned_blobs() {
        put_blob(tx, blob)?;
        let digest = blob.digest();
        tx.prepare_cached(
            "INSERT INTO deployment_pins (process, number, digest) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![process, i64_of(deployment.number), digest]))
        .map_err(backend)?;
    }
    Ok(Deployed::New(deployment))
}

/// [`Store::deployments`](crate::store::Store::deployments) on `conn`.
pub fn deployments(conn: &Connection, process: Option<&str>) -> Result<Vec<Deployment>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM deployments WHERE ?1 IS NULL OR process = ?1 ORDER BY process, number");
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt.query_map([process], |r| Ok(deployment(r))).map_err(backend)?;
    rows.map(|r| r.map_err(backend)?).collect()
}

/// The deployment in row `r` (of [`COLUMNS`]).
fn deployment(r: &Row<'_>) -> Result<Deployment, StoreError> {
    let read = || -> rusqlite::Result<(Deployment, String)> {
        Ok((
            Deployment {
                process: r.get(0)?,
                number: u64_at(r, 1)?,
                version: r.get(2)?,
                definition_file: r.get(3)?,
                definition_digest: r.get(4)?,
                components: Vec::new(),
                layout_digest: r.get(6)?,
                deployed_ms: u64_at(r, 7)?,
            },
            r.get(5)?,
        ))
    };
    let (mut deployment, components) = read().map_err(|e| StoreError::Damaged(e.to_string()))?;
    deployment.components = serde_json::from_str(&components).map_err(|e| {
        StoreError::Damaged(format!(
            "the components of deployment {} of \"{}\": {e}",
            deployment.number, deployment.process
        ))
    })?;
    Ok(deployment)
}
