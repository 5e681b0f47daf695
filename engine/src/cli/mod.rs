//! The `weft` command line: `validate`, `run`, `status`, `list`, `send`, `resume`, `cancel`, `history`,
//! `serve`, `deploy`, `deployments`, `redeliver`, `delete`, `prune`, `schema`, `new`, `build`, `invoke`,
//! `describe`, `graph`.
//!
//! Exit codes: 0 for a valid definition or a run that completed, stopped, waits or was cancelled; 1 for a
//! run that failed (or a store that failed along the way); 2 for bad input (definition, component, event
//! data, command-line usage, an unknown instance, an ended run, an instance another process holds, a file
//! that is not a usable store).

mod author;
mod deliveries;
mod deploy;
mod describe;
mod graph;
mod instances;
mod retention;
mod run;
mod serve;
mod store;
pub mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::load::{Runtime, RuntimeConfig};

/// Exit code for bad input.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a run that failed.
pub const EXIT_RUN_FAILED: u8 = 1;

#[derive(Parser)]
#[command(name = "weft", version, about = "Run business processes declared in YAML, with WebAssembly steps")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log what the engine does (component loads and cache hits, step logs) on stderr; -vv for more.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

// Each subcommand's arguments are built only when it is the one invoked (clap's `defer`): building all of
// them cost every command ~0.4 ms. The argument structs carry plain comments, not doc comments: a deferred
// struct's doc comment would replace the about line of the command it serves (a test guards this).
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Check a process definition and its components; print a one-line summary.
    Validate {
        /// The process definition (YAML).
        file: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Start a process instance on one input event and run it to its first waiting or final status; print
    /// its public events as CloudEvents JSON, one per line.
    Run(run::RunArgs),
    /// Print a process instance's summary.
    Status(instances::InstanceArgs),
    /// List the process instances in the store.
    List(instances::ListArgs),
    /// Deliver an event a waiting process instance awaits, and run it on to its next waiting or final
    /// status.
    Send(instances::SendArgs),
    /// Go on with a process instance from its last checkpoint (after a crash, or to fire due timers).
    Resume(instances::InstanceArgs),
    /// Cancel a process instance: nothing of it runs afterwards.
    Cancel(instances::InstanceArgs),
    /// Print a process instance's history: events received, invocations, events emitted, state and
    /// status changes.
    History(instances::InstanceArgs),
    /// Serve processes over HTTP: start instances and deliver events from CloudEvents, drive them, fire
    /// their timers on time.
    Serve(serve::ServeArgs),
    /// Deploy process definitions with their components into the store, as the latest version of each
    /// process: `weft serve` starts new instances on it; instances already started keep their version.
    Deploy(deploy::DeployArgs),
    /// List the process versions deployed in the store, oldest first.
    Deployments(deploy::DeploymentsArgs),
    /// Offer the events a webhook refused for good (dead letters, listed by `weft status`) to it again.
    Redeliver(instances::InstanceArgs),
    /// Delete an ended process instance with its history, outbox and the blobs no other instance needs.
    Delete(retention::DeleteArgs),
    /// Delete every process instance that ended before a date, as `weft delete` does.
    Prune(retention::PruneArgs),
    /// Print the JSON Schema of process definitions.
    Schema,
    /// Draw a process definition as declared: every step, input, edge (event, condition, delay), all-of
    /// group, stop, await and the error handler; with `--run ID`, marked with the path that instance took.
    Graph(graph::GraphArgs),
    /// Write a new step project (Rust, Python or JavaScript) or process definition.
    #[command(subcommand)]
    New(author::NewCommand),
    /// Build step projects into components (<folder>.wasm beside each folder).
    Build(author::BuildArgs),
    /// Run one kernel function of a component in the sandbox; print its result, events, state and logs.
    Invoke(author::InvokeArgs),
    /// Print what a step component offers: its kernel functions, parameters, declared events and state
    /// version.
    Describe {
        /// The component (.wasm).
        component: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
}

// Compiled-code cache settings.
#[derive(Args, Clone)]
struct CacheArgs {
    /// Where compiled components are cached (default: $WEFT_CACHE_DIR, else $XDG_CACHE_HOME/weft, else ~/.cache/weft).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every component afresh and cache nothing.
    #[arg(long)]
    no_cache: bool,
}

impl CacheArgs {
    /// The command's runtime, kept to the process's end: the process's exit frees its compiled code and
    /// instance pool at once, rather than piece by piece when a command returns (see [`leave`]).
    fn runtime(&self) -> Result<&'static Runtime, ExitCode> {
        let cache_dir =
            if self.no_cache { None } else { self.cache_dir.clone().or_else(|| RuntimeConfig::default().cache_dir) };
        let runtime = Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })
            .map_err(|e| fail(EXIT_BAD_INPUT, format!("cannot start the WebAssembly engine: {e:#}")))?;
        Ok(Box::leak(Box::new(runtime)))
    }
}

/// End a command's hold on an instance whose run it is done with: its lease is let go of now, and its live
/// step instances are left to the process's end, which frees them at once (tearing each down cost a few
/// ms for a Python step's memory).
fn leave(held: crate::durable::Instance) {
    std::mem::forget(held.release());
}

/// Run the command line; the exit code follows the module documentation.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Validate { file, cache } => validate(&file, &cache),
        Command::Run(args) => run::run(args),
        Command::Status(args) => instances::instance(instances::Action::Status, args),
        Command::List(args) => instances::list(args),
        Command::Send(args) => instances::send(args),
        Command::Resume(args) => instances::instance(instances::Action::Resume, args),
        Command::Cancel(args) => instances::instance(instances::Action::Cancel, args),
        Command::History(args) => instances::history(args),
        Command::Serve(args) => serve::serve(args),
        Command::Deploy(args) => deploy::deploy(args),
        Command::Deployments(args) => deploy::deployments(args),
        Command::Redeliver(args) => instances::instance(instances::Action::Redeliver, args),
        Command::Delete(args) => retention::delete(args),
        Command::Prune(args) => retention::prune(args),
        Command::Schema => {
            print!("{}", weft_definitions::schema::json_schema_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::New(command) => author::new(command),
        Command::Build(args) => author::build(args),
        Command::Invoke(args) => author::invoke(args),
        Command::Describe { component, cache } => describe::describe(&component, &cache),
        Command::Graph(args) => graph::graph(args),
    };
    result.unwrap_or_else(|code| code)
}

fn validate(file: &std::path::Path, cache: &CacheArgs) -> Result<ExitCode, ExitCode> {
    let runtime = cache.runtime()?;
    let process = runtime.load_process(file).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?;
    warn_about(&process);
    let def = &process.loaded.definition;
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "{}: process \"{}\" {} is valid: {}, {}, {}",
        file.display(),
        def.name,
        def.version,
        count(def.steps.len(), "step", "steps"),
        count(def.inputs.len(), "input event", "input events"),
        count(def.edges.len(), "edge", "edges")
    );
    Ok(ExitCode::SUCCESS)
}

/// Print the definition's warnings (e.g. steps nothing reaches, edges on events their steps never
/// declare) on stderr, in the order of the file.
fn warn_about(process: &crate::load::Process) {
    let mut warnings = weft_definitions::check::warnings(&process.loaded);
    warnings.extend(crate::load::declared::warnings(process));
    warnings.sort_by_key(|d| (d.position.line, d.position.column));
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// Print the summary of `state` laid out as `layout`, with the instance's `dead_letters` (on stdout as
/// JSON with `json`, else on stderr for people); the exit code follows the status: 1 when failed, else 0.
fn report(
    layout: &crate::runner::layout::Layout,
    state: &crate::runner::RunState,
    dead_letters: &[crate::store::DeadLetter],
    json: bool,
) -> ExitCode {
    let summary = summary::summary(layout, state, dead_letters);
    if json {
        println!("{summary}");
    } else {
        eprint!("{}", summary::human(&summary));
    }
    match state.status {
        crate::runner::Status::Failed { .. } => ExitCode::from(EXIT_RUN_FAILED),
        _ => ExitCode::SUCCESS,
    }
}

/// Print `message` as an error on stderr and give exit code `code`.
fn fail(code: u8, message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own checks of the command line (argument names unique, and so on), which otherwise only
    /// fail when the command with the fault is run.
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    /// Each subcommand's arguments are built only when it is invoked (`defer`); building them must not
    /// change the about line `weft SUBCOMMAND --help` shows from the one `weft --help` lists (an argument
    /// struct's doc comment would).
    #[test]
    fn a_subcommand_keeps_its_about_line_once_built() {
        let about = |c: &clap::Command| c.get_about().map(ToString::to_string).unwrap_or_default();
        let mut cli = super::Cli::command();
        let listed: Vec<(String, String)> =
            cli.get_subcommands().map(|s| (s.get_name().to_string(), about(s))).collect();
        cli.build();
        for (name, line) in listed {
            let built = cli.find_subcommand(&name).map(about).unwrap_or_default();
            assert_eq!(built, line, "`weft {name} --help` shows another about line than `weft --help`");
            assert!(!line.is_empty(), "`weft {name}` has no about line");
        }
    }
}
