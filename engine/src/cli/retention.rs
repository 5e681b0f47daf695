//! Retention: `weft delete ID` and `weft prune --ended-before DATE` remove ended instances with their
//! history, outbox, cursors and dead letters, and the pinned blobs no remaining instance refers to
//! (docs/durability.md, "Retention").

use std::process::ExitCode;

use clap::Args;

use super::instances::durable_error;
use super::store::StoreArgs;
use super::{EXIT_BAD_INPUT, fail};
use crate::runner::clock::{Clock, SystemClock, parse_time};

/// How many instances `prune` deletes in one transaction.
const BATCH: usize = 1000;

// Arguments of `weft delete`.
#[derive(Args)]
pub struct DeleteArgs {
    /// The process instance id (it must have ended: `weft cancel` one that has not).
    id: String,
    #[command(flatten)]
    store: StoreArgs,
}

// Arguments of `weft prune`.
#[derive(Args)]
pub struct PruneArgs {
    /// Delete instances that ended before this time (RFC 3339, e.g. 2026-11-01T00:00:00Z), by their
    /// last change.
    #[arg(long, value_name = "TIME")]
    ended_before: String,
    /// Print what was deleted as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub(super) fn delete(args: DeleteArgs) -> Result<ExitCode, ExitCode> {
    let store = args.store.open()?;
    store.delete(&args.id, SystemClock.now_ms()).map_err(|e| durable_error(e.into()))?;
    eprintln!("deleted process instance \"{}\"", args.id);
    Ok(ExitCode::SUCCESS)
}

pub(super) fn prune(args: PruneArgs) -> Result<ExitCode, ExitCode> {
    let before = parse_time(&args.ended_before).map_err(|e| fail(EXIT_BAD_INPUT, format!("--ended-before: {e}")))?;
    let store = args.store.open()?;
    let (mut instances, mut blobs) = (0, 0);
    loop {
        let pruned = store.prune(before, SystemClock.now_ms(), BATCH).map_err(|e| durable_error(e.into()))?;
        instances += pruned.instances.len();
        blobs += pruned.blobs;
        if pruned.instances.len() < BATCH {
            break;
        }
    }
    if args.json {
        println!("{}", serde_json::json!({"instances": instances, "blobs": blobs}));
    } else {
        eprintln!(
            "deleted {instances} process instance(s) that ended before {} and {blobs} blob(s) no run needs",
            args.ended_before
        );
    }
    Ok(ExitCode::SUCCESS)
}
