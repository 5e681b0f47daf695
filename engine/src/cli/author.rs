//! `weft new`, `weft build`, `weft invoke`: authoring steps and processes (see [`crate::author`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::{CacheArgs, EXIT_BAD_INPUT, EXIT_RUN_FAILED, fail};
use crate::author::{self, Language, build, invoke, new};

/// What `weft new` writes.
#[derive(Subcommand)]
pub(super) enum NewCommand {
    /// A step project: one kernel function with state, a test for the language's own runner, a README.
    Step {
        /// Its name (lower-case letters, digits, '-'): the folder, the crate or package, the component.
        name: String,
        /// Its language.
        #[arg(long, value_enum)]
        lang: Lang,
        /// The folder to write it in (default: the current one).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Weft's step-sdk folder to depend on (default: the source tree this weft was built from, else
        /// the published packages).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// A process definition with the `$schema` line, one step and one input (NAME.yaml), and the
    /// schema beside it (process.schema.json).
    Process {
        /// Its name (lower-case letters, digits, '-').
        name: String,
        /// The step's component (default: the one .wasm file in the folder).
        #[arg(long, value_name = "COMPONENT")]
        step: Option<PathBuf>,
        /// The folder to write it in (default: the current one).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
}

/// `--lang`.
#[derive(Clone, Copy, ValueEnum)]
pub(super) enum Lang {
    Rust,
    Python,
    Javascript,
}

// `weft build`'s arguments.
#[derive(Args)]
pub(super) struct BuildArgs {
    /// Step folders, or folders of step folders (default: the current folder).
    dirs: Vec<PathBuf>,
    /// Where the component goes, for one step (default: <folder>.wasm beside its folder).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rebuild Python and JavaScript steps even when their components are up to date.
    #[arg(long)]
    force: bool,
}

// `weft invoke`'s arguments.
#[derive(Args)]
pub(super) struct InvokeArgs {
    /// The component (.wasm).
    component: PathBuf,
    /// The kernel function to call.
    #[arg(long)]
    function: String,
    /// Its arguments: a JSON object by parameter name.
    #[arg(long, default_value = "{}")]
    args: String,
    /// The state to start from, as JSON (default: the step's initial state).
    #[arg(long)]
    state: Option<String>,
    /// The version the state was written under (default: the component's).
    #[arg(long)]
    state_version: Option<u32>,
    /// A configuration value granted to the step, NAME=VALUE (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    config: Vec<String>,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

pub(super) fn new(command: NewCommand) -> Result<ExitCode, ExitCode> {
    match command {
        NewCommand::Step { name, lang, dir, sdk } => {
            let language = match lang {
                Lang::Rust => Language::Rust,
                Lang::Python => Language::Python,
                Lang::Javascript => Language::JavaScript,
            };
            let sdk = new::Sdk::find(sdk.as_deref()).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
            let made = new::step(&dir, &name, language, &sdk).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
            eprintln!(
                "wrote a {} step in {}: `weft build {}` makes {name}.wasm",
                language.name(),
                made.display(),
                made.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        NewCommand::Process { name, step, dir, cache } => {
            let component = match step {
                Some(step) => step,
                None => only_component(&dir).map_err(|e| fail(EXIT_BAD_INPUT, e))?,
            };
            let runtime = cache.runtime()?;
            let file = new::process(runtime, &dir, &name, &component).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
            eprintln!("wrote {}: `weft validate {}` checks it", file.display(), file.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The one `.wasm` file in `dir`.
fn only_component(dir: &std::path::Path) -> Result<PathBuf, String> {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "no component (.wasm) in {}: build a step with `weft build`, or name one with --step",
            dir.display()
        )),
        _ => Err(format!("{} components in {}: name the step's with --step", found.len(), dir.display())),
    }
}

pub(super) fn build(args: BuildArgs) -> Result<ExitCode, ExitCode> {
    let dirs = if args.dirs.is_empty() { vec![PathBuf::from(".")] } else { args.dirs };
    let mut steps = Vec::new();
    for dir in &dirs {
        steps.extend(build::find_steps(dir).map_err(|e| fail(EXIT_BAD_INPUT, e))?);
    }
    let steps = build::distinct(steps);
    let options = build::Options { output: args.output, force: args.force };
    let built = build::build(&steps, &options).map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    let rust = built.iter().filter(|b| b.project.language == Language::Rust).count();
    for b in built.iter().filter(|b| (b.rebuilt && b.project.language != Language::Rust) || built.len() == 1) {
        let done = if b.rebuilt { "built" } else { "up to date:" };
        eprintln!("{done} {} ({})", b.output.display(), b.project.language.name());
    }
    if built.len() > 1 {
        let others = built.iter().filter(|b| b.project.language != Language::Rust);
        let fresh = others.clone().filter(|b| !b.rebuilt).count();
        eprintln!(
            "{} step components up to date: {rust} Rust (built by cargo), {} Python/JavaScript ({fresh} unchanged)",
            built.len(),
            others.count()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn invoke(args: InvokeArgs) -> Result<ExitCode, ExitCode> {
    let parse = |what: &str, text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| fail(EXIT_BAD_INPUT, format!("--{what} is not JSON: {e}")))
    };
    let mut config = Vec::new();
    for pair in &args.config {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| fail(EXIT_BAD_INPUT, format!("--config {pair:?}: expected NAME=VALUE")))?;
        config.push((name.to_string(), value.to_string()));
    }
    let request = invoke::Request {
        function: args.function.clone(),
        args: parse("args", &args.args)?,
        state: args.state.as_deref().map(|s| parse("state", s)).transpose()?,
        state_version: args.state_version,
        config,
    };
    let runtime = args.cache.runtime()?;
    let component = runtime.component_at(&args.component).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    match author::invoke::invoke(runtime, component, &request) {
        Ok(out) if args.json => {
            println!("{}", serde_json::to_string(&out).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Ok(out) => {
            print_logs(&out.logs);
            for event in &out.events {
                println!(
                    "event {} ({}) {}",
                    event["type"].as_str().unwrap_or(""),
                    event["visibility"].as_str().unwrap_or(""),
                    event["data"]
                );
            }
            println!("result {}", out.result);
            println!("state {}", out.state);
            Ok(ExitCode::SUCCESS)
        }
        Err(Ok(failed)) => {
            if args.json {
                println!("{}", serde_json::to_string(&failed).unwrap_or_default());
            } else {
                print_logs(&failed.logs);
            }
            Err(fail(EXIT_RUN_FAILED, format!("{} failed ({}): {}", args.function, failed.kind, failed.message)))
        }
        Err(Err(message)) => Err(fail(EXIT_BAD_INPUT, message)),
    }
}

/// A step's log lines (`{"level", "message"}`) for people: `log LEVEL MESSAGE`, one per line.
fn print_logs(logs: &[serde_json::Value]) {
    for line in logs {
        println!("log {} {}", line["level"].as_str().unwrap_or("info"), line["message"].as_str().unwrap_or(""));
    }
}
