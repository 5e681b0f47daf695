//! `weft run FILE --event TYPE [--data JSON | --data-file F]`: start a process instance on one input event
//! and run it to its first waiting or final status. Durable by default (a checkpoint after every
//! superstep in the store); `--in-memory` runs it without a store.
//!
//! stdout: each public event as one line of CloudEvents JSON, then, with `--json`, the summary as one JSON
//! line. stderr: the summary for people (without `--json`) and any error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use weft_definitions::limits::human;

use clap::Args;

use super::store::StoreArgs;
use super::{CacheArgs, EXIT_BAD_INPUT, fail};
use crate::data::Json;
use crate::durable::{Driver, DurableError, Identity};
use crate::runner::clock;
use crate::store::memory::MemoryStore;
use crate::store::{Store, StoreError};

// Arguments of `weft run`.
#[derive(Args)]
pub struct RunArgs {
    /// The process definition (YAML).
    file: PathBuf,
    /// The input event's type, one the process declares under `inputs`.
    #[arg(long, value_name = "TYPE")]
    event: String,
    /// The input event's data, as JSON text (default: null).
    #[arg(long, value_name = "JSON", conflicts_with = "data_file")]
    data: Option<String>,
    /// A file holding the input event's data as JSON.
    #[arg(long, value_name = "FILE")]
    data_file: Option<PathBuf>,
    /// The process instance id (default: a random UUID).
    #[arg(long, value_name = "ID", value_parser = instance_id)]
    instance_id: Option<String>,
    #[command(flatten)]
    identity: super::instances::IdentityArgs,
    /// Print the summary as one JSON line on stdout instead of text on stderr.
    #[arg(long)]
    json: bool,
    /// Run without a store: nothing is kept, and the run cannot be resumed.
    #[arg(long)]
    in_memory: bool,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

pub(super) fn run(args: RunArgs) -> Result<ExitCode, ExitCode> {
    let data = event_data(args.data.as_deref(), args.data_file.as_deref())?;
    let clock = clock::from_env().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let runtime = args.cache.runtime()?;
    let process = runtime.load_process(&args.file).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?;
    super::warn_about(&process);
    let process = Arc::new(process);
    let instance = args.instance_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // In memory, the run goes through the same driver, on a store that keeps nothing after the command.
    let store: Arc<dyn Store> =
        if args.in_memory { Arc::new(MemoryStore::without_history()) } else { args.store.open()? };
    let mut driver = Driver::new(store, runtime, clock.as_ref()).with_lease(args.store.lease()).with_warming();
    if args.in_memory {
        // Nothing else reaches this store: no history to read afterwards, no lease to keep from others.
        driver = driver.without_history().without_renewal();
    }
    // With an event id, the input event is kept in the instance's inbox: the same event run again is
    // recognised as a duplicate.
    let identity = args.identity.event_id.as_deref().map(|id| Identity { source: args.identity.source(), id });
    let mut held = match driver.start(process.clone(), &args.file, &instance, &args.event, data, identity) {
        Ok(held) => held,
        Err(DurableError::Store(e @ StoreError::Duplicate { .. })) => {
            eprintln!("{e}");
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(fail(EXIT_BAD_INPUT, e.to_string())),
    };
    let mut relay = driver.relay(&held, std::io::stdout().lock());
    driver.drive(&mut held, &mut relay).map_err(super::instances::durable_error)?;
    let code = super::deliveries::conclude(&driver, &held, relay, !args.in_memory, args.json);
    super::leave(held);
    code
}

/// An event's data from `--data` or `--data-file` (default `null`), at most the engine's default
/// `maxEventSize` (16 MiB) like any event a step emits.
pub(super) fn event_data(data: Option<&str>, data_file: Option<&std::path::Path>) -> Result<Json, ExitCode> {
    let max = crate::host::sandbox::Limits::default().max_event_bytes;
    let too_big = |what: &str, size: u64| {
        let (size, max) = (human(size), human(max as u64));
        fail(EXIT_BAD_INPUT, format!("{what} holds {size} of data, more than the {max} one event may carry"))
    };
    match (data, data_file) {
        (Some(text), _) if text.len() > max => Err(too_big("--data", text.len() as u64)),
        (Some(text), _) => {
            Json::parse(text.to_owned()).map_err(|e| fail(EXIT_BAD_INPUT, format!("--data is not JSON: {e}")))
        }
        (None, Some(file)) => {
            if let Ok(meta) = std::fs::metadata(file)
                && meta.len() > max as u64
            {
                return Err(too_big(&format!("--data-file {}", file.display()), meta.len()));
            }
            let text = std::fs::read_to_string(file)
                .map_err(|e| fail(EXIT_BAD_INPUT, format!("cannot read --data-file {}: {e}", file.display())))?;
            Json::parse(text).map_err(|e| fail(EXIT_BAD_INPUT, format!("{}: not JSON: {e}", file.display())))
        }
        (None, None) => Ok(Json::null()),
    }
}

/// An `--instance-id`: what [`check_instance_id`](crate::durable::check_instance_id) allows.
fn instance_id(text: &str) -> Result<String, String> {
    crate::durable::check_instance_id(text).map(|()| text.to_owned())
}
