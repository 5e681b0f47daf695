//! The `weft` command as a user runs it, in one test binary (one link of wasmtime): output and exit codes
//! ([`cli`]), durable instances ([`durable`]), runs killed with SIGKILL and resumed ([`crash`]), and webhook
//! sinks against a loopback HTTP service ([`webhooks`]). Uses
//! the components built by scripts/build-steps under tests/steps. Every command gets a store in a
//! temporary folder: no test touches the user's data directory.

mod authoring;
mod capabilities;
mod cli;
mod crash;
mod crash_time;
mod deploy;
mod durable;
mod fairness;
mod inbox;
mod inspection;
mod leases;
mod load;
mod properties;
mod replay;
mod retention;
mod serve;
mod server;
mod service;
mod store_file;
mod webhooks;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `weft ARGS` in the repository root with the shared test cache and `store`, with extra environment
/// `env`; not yet started. The account-opening example's credit bureau is started (once) and its test
/// key is in the environment.
pub fn command(store: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    command_under(&[], store, args, env)
}

/// [`command`], run by the program and arguments `wrapper` (e.g. `unshare --pid --fork`).
pub fn command_under(wrapper: &[&str], store: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    credit_bureau::for_tests();
    let weft = env!("CARGO_BIN_EXE_weft");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(weft);
            c
        }
        None => Command::new(weft),
    };
    command
        .env(credit_bureau::KEY_VARIABLE, credit_bureau::TEST_KEY)
        .args(args)
        .current_dir(root())
        .env("WEFT_CACHE_DIR", root().join("target/weft-test-cache"))
        .env("WEFT_STORE", store)
        .env_remove("WEFT_NOW")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Run `weft ARGS` on `store` to the end; asserts it did not panic.
pub fn weft_in(store: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = command(store, args, env).output().expect("weft runs");
    assert!(!text(&out.stderr).contains("panicked"), "weft panicked: {}", text(&out.stderr));
    out
}

/// Run `weft ARGS` with a store of its own.
pub fn weft(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("a temporary folder");
    weft_in(&dir.path().join("weft.db"), args, &[])
}

/// Run `weft ARGS` with compiled-code cache `cache` and a store of its own.
pub fn weft_with_cache(args: &[&str], cache: &Path) -> Output {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cache = cache.to_string_lossy();
    weft_in(&dir.path().join("weft.db"), args, &[("WEFT_CACHE_DIR", &cache)])
}

/// Write `yaml` to `<dir>/<name>.yaml`, with `{steps}` standing for the built test components' folder;
/// its path, as text.
pub fn definition(dir: &Path, name: &str, yaml: &str) -> String {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml.replace("{steps}", &root().join("tests/steps").to_string_lossy())).expect("write it");
    file.to_string_lossy().into_owned()
}

/// The arguments of a `weft run` of the support-ticket example's outage ticket as instance `id`: a run
/// that then waits for the agent's reply.
pub fn new_ticket(id: &str) -> [&str; 8] {
    let data = "examples/support-ticket/tickets/outage.json";
    ["run", "examples/support-ticket/process.yaml", "--event", "NewTicket", "--data-file", data, "--instance-id", id]
}

/// The CloudEvents in `stdout`, parsed (other lines, such as a summary, left out).
pub fn cloudevents(stdout: &[u8]) -> Vec<serde_json::Value> {
    text(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("specversion").is_some())
        .collect()
}

/// Poll `done` every 10 ms, for at most 20 s.
pub fn wait_for(what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The CloudEvents JSON lines in the output of a `weft` that may have been killed: complete lines only; a
/// line cut by the kill can only be the last one.
pub fn killed_output(stdout: &str) -> Vec<String> {
    let lines: Vec<&str> = stdout.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v.get("specversion").is_some() => out.push(line.to_string()),
            Ok(_) => {} // a summary
            Err(e) => assert_eq!(i, lines.len() - 1, "only the last line may be cut by a kill: {line}: {e}"),
        }
    }
    out
}

/// A random delay up to `max`.
pub fn random_delay(max: std::time::Duration) -> std::time::Duration {
    use std::hash::{BuildHasher, RandomState};
    let r = RandomState::new().hash_one(std::time::Instant::now());
    std::time::Duration::from_micros(r % u64::try_from(max.as_micros()).unwrap_or(1).max(1))
}

/// The summary of instance `id` in `store` (`weft status --json`), asserting it is readable.
pub fn summary_of(store: &Path, id: &str) -> serde_json::Value {
    let status = weft_in(store, &["status", id, "--json"], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    serde_json::from_str(text(&status.stdout).trim()).expect("status prints JSON")
}

/// The history of instance `id` in `store` (`weft history --json`) with its timings zeroed: what two runs
/// of the same schedule must agree on.
pub fn history_of(store: &Path, id: &str) -> Vec<serde_json::Value> {
    text(&weft_in(store, &["history", id, "--json"], &[]).stdout)
        .lines()
        .map(|l| {
            let mut entry: serde_json::Value = serde_json::from_str(l).expect("history prints JSON lines");
            if let Some(invoked) = entry["record"].get_mut("invoked") {
                invoked["duration_us"] = serde_json::Value::from(0);
            }
            entry
        })
        .collect()
}

/// Bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
