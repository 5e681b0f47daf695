//! `weft serve [DEFINITION...]`: serve processes over HTTP (docs/serving.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::store::StoreArgs;
use super::{CacheArgs, EXIT_BAD_INPUT, EXIT_RUN_FAILED, fail};
use crate::durable::Driver;
use crate::runner::clock;
use crate::serve::registry::Registry;
use crate::serve::{ServeConfig, serve as run_server};

// Arguments of `weft serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Process definitions (YAML) to deploy first (a version already the latest is not deployed again);
    /// the server starts instances of the latest deployment of every process in the store.
    definitions: Vec<PathBuf>,
    /// The address to listen on; anything but loopback needs a token.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Worker threads driving instances (default: 64 per core: a worker mostly waits for its commit, and
    /// the commits of workers that wait together are written in one transaction).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// The most commits written in one transaction (group commit); 1 writes each alone.
    #[arg(long, value_name = "N", default_value_t = 64)]
    group_commit: usize,
    /// Supersteps an instance runs before it yields to the others.
    #[arg(long, value_name = "N", default_value_t = 100)]
    slice: u64,
    /// The most instances that may wait for a worker; past it, requests that add events are answered
    /// 429 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_backlog: usize,
    /// How long a client may take to send a request's head (the connection is closed past it), and then
    /// its body (answered 408 past it).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = request_timeout)]
    request_timeout: std::time::Duration,
    /// A file holding the bearer token every request must carry (or `WEFT_TOKEN`).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

pub(super) fn serve(args: ServeArgs) -> Result<ExitCode, ExitCode> {
    let token = match &args.token_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| fail(EXIT_BAD_INPUT, format!("cannot read --token-file {}: {e}", file.display())))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var("WEFT_TOKEN").ok().filter(|t| !t.is_empty()),
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = args.workers.unwrap_or(64 * cores);
    let config = ServeConfig {
        listen: args.listen,
        workers,
        slice: args.slice.max(1),
        token,
        max_backlog: args.max_backlog,
        request_timeout: args.request_timeout,
    };
    // Refused before anything is loaded.
    config.check().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let clock = clock::from_env().map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let store = args.store.open_serving()?;
    // The server lives as long as the process: its runtime and clock are never dropped.
    let runtime = args.cache.runtime()?;
    let driver = Driver::new(store, runtime, Box::leak(clock))
        .with_lease(args.store.lease())
        .with_group_commit(args.group_commit);
    let registry = Registry::open(&driver, &args.definitions).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    run_server(driver, registry, config).map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    Ok(ExitCode::SUCCESS)
}

/// A request timeout: a whole number and a unit (`ms`, `s`, `m`), at least 1 ms.
fn request_timeout(text: &str) -> Result<std::time::Duration, String> {
    weft_definitions::Duration(text.into())
        .millis()
        .filter(|ms| *ms > 0)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| format!("\"{text}\" is not a duration; write e.g. 30s or 500ms"))
}
