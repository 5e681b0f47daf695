//! `weft deploy FILE…` and `weft deployments [NAME]`: process versions deployed in the store, which `weft
//! serve` starts new instances on (the latest of each process; instances already started keep theirs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use super::store::StoreArgs;
use super::{CacheArgs, EXIT_BAD_INPUT, EXIT_RUN_FAILED, fail, warn_about};
use crate::durable::Driver;
use crate::runner::clock::{self, format_time};
use crate::serve::registry;
use crate::store::Deployment;

// Arguments of `weft deploy`.
#[derive(Args)]
pub struct DeployArgs {
    /// The process definitions (YAML) to deploy, each with its components.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print one JSON object per deployment on stdout instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

// Arguments of `weft deployments`.
#[derive(Args)]
pub struct DeploymentsArgs {
    /// Only the deployments of this process.
    process: Option<String>,
    /// Print one JSON object per line on stdout instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// One line for people: `NAME  #N  VERSION  deployed TIME  FILE`.
pub fn deployment_line(d: &Deployment) -> String {
    format!(
        "{}  #{}  {}  deployed {}  {}",
        d.process,
        d.number,
        d.version,
        format_time(d.deployed_ms),
        d.definition_file
    )
}

pub(super) fn deploy(args: DeployArgs) -> Result<ExitCode, ExitCode> {
    let store = args.store.open()?;
    let runtime = args.cache.runtime()?;
    let clock = clock::from_env().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let driver = Driver::new(store, runtime, clock.as_ref());
    // Every file is loaded and checked before any is deployed.
    let mut loaded = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let process = runtime.load_process(file).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?;
        warn_about(&process);
        loaded.push((Arc::new(process), file));
    }
    for (process, file) in loaded {
        let deployed = registry::deploy(&driver, process, file).map_err(|e| fail(EXIT_RUN_FAILED, e))?;
        if args.json {
            println!("{}", registry::deployed_json(&deployed));
        } else {
            println!("{}", registry::said(&deployed));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn deployments(args: DeploymentsArgs) -> Result<ExitCode, ExitCode> {
    let store = args.store.open()?;
    let all = store.deployments(args.process.as_deref()).map_err(|e| fail(EXIT_RUN_FAILED, e.to_string()))?;
    for d in &all {
        if args.json {
            println!("{}", json!(d));
        } else {
            println!("{}", deployment_line(d));
        }
    }
    if all.is_empty() && !args.json {
        let what = args.process.map_or_else(|| "no process".to_owned(), |p| format!("\"{p}\""));
        eprintln!("{what} is deployed in this store: `weft deploy FILE` deploys one");
    }
    Ok(ExitCode::SUCCESS)
}
