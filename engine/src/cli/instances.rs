//! Commands on durable process instances: `weft status ID`, `weft list`, `weft resume ID`,
//! `weft cancel ID`, `weft history ID`. Each takes `--json` for machine-readable output.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::store::StoreArgs;
use super::{CacheArgs, EXIT_BAD_INPUT, EXIT_RUN_FAILED, fail, report};
use crate::durable::{Driver, DurableError, Instance};
use crate::runner::clock::{self, format_time};
use crate::sinks::topics::TopicSinks;
use crate::store::{Store, StoreError};

/// Arguments naming one instance.
#[derive(Args)]
pub struct InstanceArgs {
    /// The process instance id.
    id: String,
    /// Print JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// With `resume`: first rebind the run to its definition file and components as they are now, if
    /// compatible (same steps, and everything its state refers to still exists).
    #[arg(long)]
    upgrade: bool,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

/// Arguments of `weft send`.
#[derive(Args)]
pub struct SendArgs {
    /// The process instance id.
    id: String,
    /// The awaited event's type.
    #[arg(long, value_name = "TYPE")]
    event: String,
    /// The event's data, as JSON text (default: null).
    #[arg(long, value_name = "JSON", conflicts_with = "data_file")]
    data: Option<String>,
    /// A file holding the event's data as JSON.
    #[arg(long, value_name = "FILE")]
    data_file: Option<std::path::PathBuf>,
    /// Print the summary as one JSON line on stdout instead of text on stderr.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

/// Arguments of `weft list`.
#[derive(Args)]
pub struct ListArgs {
    /// Only instances with this status (running, waiting, completed, stopped, failed, cancelled).
    #[arg(long, value_name = "STATUS")]
    status: Option<String>,
    /// Print one JSON object per line on stdout instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// What an instance command does.
#[derive(Clone, Copy)]
pub enum Action {
    /// Print the summary.
    Status,
    /// Publish what is unpublished and run on to the next waiting or final status.
    Resume,
    /// End it as cancelled.
    Cancel,
}

/// The exit code for a durable operation's error: 2 for what the user asked wrongly (unknown id, an
/// ended run, a run held by another process, an unusable store), 1 for a failure along the way.
fn durable_error(e: DurableError) -> ExitCode {
    let code = match &e {
        DurableError::Store(StoreError::Backend(_)) | DurableError::Publish(_) => EXIT_RUN_FAILED,
        _ => EXIT_BAD_INPUT,
    };
    fail(code, e.to_string())
}

pub(super) fn instance(action: Action, args: InstanceArgs) -> Result<ExitCode, ExitCode> {
    if args.upgrade && !matches!(action, Action::Resume) {
        return Err(fail(EXIT_BAD_INPUT, "--upgrade goes with `weft resume`".into()));
    }
    let clock = clock::from_env().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let store = args.store.open()?;
    let runtime = args.cache.runtime()?;
    let driver = Driver::new(&store, &runtime, clock.as_ref());
    match action {
        Action::Status => {
            let loaded = store.load(&args.id).map_err(|e| durable_error(e.into()))?;
            let process = driver.pinned_process(&loaded.info).map_err(durable_error)?;
            Ok(report(&process, &loaded.state, args.json))
        }
        Action::Resume => {
            let held = if args.upgrade { driver.upgrade(&args.id) } else { driver.open(&args.id) };
            drive_and_report(&driver, held.map_err(durable_error)?, args.json)
        }
        Action::Cancel => {
            let held = driver.cancel(&args.id).map_err(durable_error)?;
            Ok(report(held.run().process(), held.run().state(), args.json))
        }
    }
}

/// Drive `held` on, its public events on stdout, then report its summary.
fn drive_and_report(driver: &Driver<'_>, mut held: Instance, json: bool) -> Result<ExitCode, ExitCode> {
    let process = held.run().process().clone();
    let mut sink = TopicSinks::new(&process, std::io::stdout().lock());
    driver.drive(&mut held, &mut sink).map_err(durable_error)?;
    let code = report(held.run().process(), held.run().state(), json);
    let id = held.run().state().instance_id.clone();
    super::deliveries::finish(sink, Some((driver, &id))).map(|()| code)
}

/// Print `lines` on stdout, one each, stopping quietly when the reader went away (e.g. `| head`).
fn print_lines(lines: impl Iterator<Item = String>) -> ExitCode {
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// `weft history ID`: the history, as JSON lines (`--json`) or a line per record for people.
pub(super) fn history(args: InstanceArgs) -> Result<ExitCode, ExitCode> {
    let store = args.store.open()?;
    let entries = store.history(&args.id).map_err(|e| durable_error(e.into()))?;
    let lines = entries.into_iter().filter_map(|entry| {
        let value = serde_json::to_value(&entry).expect("a history entry serialises");
        if args.json {
            return Some(value.to_string());
        }
        let (kind, fields) = value["record"].as_object()?.iter().next()?;
        let rest: Vec<String> = fields.as_object().into_iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
        Some(format!("superstep {:>4}  {kind:<13} {}", entry.superstep, rest.join(" ")))
    });
    Ok(print_lines(lines))
}

pub(super) fn send(args: SendArgs) -> Result<ExitCode, ExitCode> {
    let data = super::run::event_data(args.data.as_deref(), args.data_file.as_deref())?;
    let clock = clock::from_env().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let store = args.store.open()?;
    let runtime = args.cache.runtime()?;
    let driver = Driver::new(&store, &runtime, clock.as_ref());
    let held = driver.send(&args.id, &args.event, data).map_err(durable_error)?;
    drive_and_report(&driver, held, args.json)
}

pub(super) fn list(args: ListArgs) -> Result<ExitCode, ExitCode> {
    let store = args.store.open()?;
    let instances = store.list(args.status.as_deref()).map_err(|e| durable_error(e.into()))?;
    let lines = instances.into_iter().map(|i| {
        if args.json {
            json!(i).to_string()
        } else {
            format!("{}  {:<9}  {} {}  created {}", i.id, i.status, i.process, i.version, format_time(i.created_ms))
        }
    });
    Ok(print_lines(lines))
}
