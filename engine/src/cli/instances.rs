//! Commands on durable process instances: `weft status ID`, `weft list`, `weft send ID`, `weft resume
//! ID`, `weft cancel ID`, `weft redeliver ID`, `weft history ID`. Each takes `--json` for
//! machine-readable output. `status`, `list` and `history` read the store alone: they compile no
//! component and need none of a run's secrets.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use super::store::StoreArgs;
use super::{CacheArgs, EXIT_BAD_INPUT, EXIT_RUN_FAILED, fail, report};
use crate::durable::{Driver, DurableError};
use crate::runner::clock::{self, format_time};
use crate::runner::layout::Layout;
use crate::store::{Appended, Inbound, ListCursor, ListFilter, Store, StoreError};

/// How many instances or history commits a command reads from the store at a time.
const PAGE: usize = 500;

// Arguments naming one instance.
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

// The CloudEvent identity of an event given on the command line.
#[derive(Args)]
pub struct IdentityArgs {
    /// The event's CloudEvent `source` (default: weft:cli).
    #[arg(long, value_name = "URI", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    event_source: Option<String>,
    /// The event's CloudEvent `id`: an event with the same source and id received again is recognised as a
    /// duplicate and changes nothing (default: a random UUID).
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub event_id: Option<String>,
}

/// The `source` of events given on the command line without `--event-source`.
pub const CLI_SOURCE: &str = "weft:cli";

impl IdentityArgs {
    /// The `source`: as given, else [`CLI_SOURCE`].
    pub fn source(&self) -> &str {
        self.event_source.as_deref().unwrap_or(CLI_SOURCE)
    }
}

// Arguments of `weft send`.
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
    identity: IdentityArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

// Arguments of `weft list`.
#[derive(Args)]
pub struct ListArgs {
    /// Only instances with this status (running, waiting, completed, stopped, failed, cancelled).
    #[arg(long, value_name = "STATUS", value_parser = crate::runner::status_name)]
    status: Option<String>,
    /// Only instances of this process.
    #[arg(long, value_name = "NAME")]
    process: Option<String>,
    /// At most this many instances (newest first).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
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
    /// Offer its dead letters again.
    Redeliver,
}

/// The exit code for a durable operation's error: 2 for what the user asked wrongly (unknown id, an
/// ended run, a run another driver holds, an unusable store), 1 for a failure along the way.
pub(super) fn durable_error(e: DurableError) -> ExitCode {
    let code = match &e {
        DurableError::Store(StoreError::Backend(_) | StoreError::LeaseLost(_)) | DurableError::Publish(_) => {
            EXIT_RUN_FAILED
        }
        _ => EXIT_BAD_INPUT,
    };
    fail(code, e.to_string())
}

pub(super) fn instance(action: Action, args: InstanceArgs) -> Result<ExitCode, ExitCode> {
    if args.upgrade && !matches!(action, Action::Resume) {
        return Err(fail(EXIT_BAD_INPUT, "--upgrade goes with `weft resume`".into()));
    }
    let store = args.store.open()?;
    if let Action::Status = action {
        return status(&store, &args);
    }
    let clock = clock::from_env().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let runtime = args.cache.runtime()?;
    let driver = Driver::new(store, runtime, clock.as_ref()).with_lease(args.store.lease());
    // A resumed run goes on with its steps; cancelling or redelivering runs none.
    let driver = if let Action::Resume = action { driver.with_warming() } else { driver };
    if let Action::Cancel = action {
        let id = uuid::Uuid::new_v4().to_string();
        let request = Inbound::cancel(CLI_SOURCE, &id, clock.now_ms());
        return deliver(&driver, &args.id, &request, args.json);
    }
    let mut held = match action {
        Action::Resume if args.upgrade => driver.open_running(&args.id),
        Action::Resume => driver.open(&args.id),
        Action::Status | Action::Cancel | Action::Redeliver => driver.open_any(&args.id),
    }
    .map_err(durable_error)?;
    let mut relay = driver.relay(&held, std::io::stdout().lock());
    let done = match action {
        Action::Resume if args.upgrade => {
            driver.upgrade(&mut held, &mut relay).and_then(|()| driver.drive(&mut held, &mut relay).map(drop))
        }
        Action::Resume => driver.drive(&mut held, &mut relay).map(drop),
        Action::Status | Action::Cancel | Action::Redeliver => driver.redeliver(&held, &mut relay).map(|n| {
            eprintln!("offered {n} dead letter(s) again");
        }),
    };
    done.map_err(durable_error)?;
    let code = super::deliveries::conclude(&driver, &held, relay, true, args.json);
    super::leave(held);
    code
}

/// `weft send` and `weft cancel`: receive `event` into the inbox of `id` (checked against the instance's
/// last checkpoint, and recognised if it is a duplicate), then drive the instance if no other driver holds
/// it; one that does takes the event at its next superstep boundary. Reports as [`report`] does.
///
/// Errors: exit code 2 when the event is refused, before or after it was appended (say, its await timed
/// out in between).
fn deliver(driver: &Driver<'_>, id: &str, event: &Inbound<'_>, json: bool) -> Result<ExitCode, ExitCode> {
    // A duplicate of an event this instance received is not appended again, but the instance is driven all
    // the same: the first attempt may have appended it and stopped before it was taken.
    let seq = match driver.receive(id, event).map_err(durable_error)? {
        Appended::New(seq) => seq,
        Appended::Duplicate { instance, seq } => {
            eprintln!(
                "this event (source \"{}\", id \"{}\") was received before, by process instance \"{instance}\" \
                 (inbox position {seq}); it is not received again",
                event.source, event.id
            );
            if instance != id {
                return Ok(ExitCode::SUCCESS);
            }
            seq
        }
    };
    let mut held = match driver.open_running(id) {
        Ok(held) => held,
        Err(DurableError::Store(StoreError::Held { owner, .. })) => {
            eprintln!(
                "queued in the inbox of process instance \"{id}\" (position {seq}): {owner} holds it and takes \
                 it at its next superstep boundary"
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(durable_error(e)),
    };
    let mut relay = driver.relay(&held, std::io::stdout().lock());
    let taken = driver.drive(&mut held, &mut relay).map_err(durable_error)?;
    let refused = taken.into_iter().find(|t| t.seq == seq).and_then(|t| t.refused);
    let code = super::deliveries::conclude(driver, &held, relay, true, json);
    super::leave(held);
    let code = code?;
    match refused {
        Some(why) => Err(fail(EXIT_BAD_INPUT, why)),
        None => Ok(code),
    }
}

/// `weft status ID`: the summary, from the store alone (a run started before layouts were pinned loads
/// its pinned process instead).
fn status(store: &Arc<dyn Store>, args: &InstanceArgs) -> Result<ExitCode, ExitCode> {
    let loaded = store.load(&args.id).map_err(|e| durable_error(e.into()))?;
    let dead_letters = store.dead_letters(&args.id).map_err(|e| durable_error(e.into()))?;
    let layout = match Driver::layout(&**store, &loaded.info).map_err(|e| durable_error(e.into()))? {
        Some(layout) => layout,
        None => {
            let clock = clock::from_env().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
            let runtime = args.cache.runtime()?;
            let driver = Driver::new(store.clone(), runtime, clock.as_ref());
            let process = driver.pinned_process(&loaded.info).map_err(durable_error)?;
            Layout::of(&process)
        }
    };
    Ok(report(&layout, &loaded.state, &dead_letters, args.json))
}

/// Print `line` on stdout; false when the reader went away (e.g. `| head`).
fn print_line(out: &mut impl Write, line: &str) -> bool {
    writeln!(out, "{line}").is_ok()
}

/// `weft history ID`: the history, as JSON lines (`--json`) or a line per record for people, read a page
/// at a time.
pub(super) fn history(args: InstanceArgs) -> Result<ExitCode, ExitCode> {
    let store = args.store.open()?;
    let mut out = std::io::stdout().lock();
    let printed = crate::store::each_history(&*store, &args.id, |entry| {
        let value = serde_json::to_value(&entry).expect("a history entry serialises");
        if args.json {
            return print_line(&mut out, &value.to_string());
        }
        let Some((kind, fields)) = value["record"].as_object().and_then(|r| r.iter().next()) else { return true };
        let rest: Vec<String> = fields.as_object().into_iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
        print_line(&mut out, &format!("superstep {:>4}  {kind:<13} {}", entry.superstep, rest.join(" ")))
    });
    printed.map_err(|e| durable_error(e.into()))?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn send(args: SendArgs) -> Result<ExitCode, ExitCode> {
    let data = super::run::event_data(args.data.as_deref(), args.data_file.as_deref())?;
    let clock = clock::from_env().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let store = args.store.open()?;
    let runtime = args.cache.runtime()?;
    let driver = Driver::new(store, runtime, clock.as_ref()).with_lease(args.store.lease()).with_warming();
    let generated = uuid::Uuid::new_v4().to_string();
    let id = args.identity.event_id.as_deref().unwrap_or(&generated);
    let event = Inbound::event(args.identity.source(), id, &args.event, data.as_str(), clock.now_ms());
    deliver(&driver, &args.id, &event, args.json)
}

/// `weft list`: the instances, newest first, read a page at a time.
pub(super) fn list(args: ListArgs) -> Result<ExitCode, ExitCode> {
    let store = args.store.open()?;
    let filter = ListFilter { status: args.status.clone(), process: args.process.clone() };
    let mut out = std::io::stdout().lock();
    let mut left = args.limit.unwrap_or(usize::MAX);
    let mut after: Option<ListCursor> = None;
    while left > 0 {
        let page = store.list(&filter, after.as_ref(), PAGE.min(left)).map_err(|e| durable_error(e.into()))?;
        let Some(last) = page.last() else { break };
        after = Some(ListCursor::from(last));
        left = left.saturating_sub(page.len());
        for i in &page {
            let line = if args.json {
                json!(i).to_string()
            } else {
                format!("{}  {:<9}  {} {}  created {}", i.id, i.status, i.process, i.version, format_time(i.created_ms))
            };
            if !print_line(&mut out, &line) {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
