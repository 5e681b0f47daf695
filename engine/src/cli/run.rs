//! `weft run FILE --event TYPE [--data JSON | --data-file F]`: run a process on one input event.
//!
//! stdout: each public event as one line of CloudEvents JSON, then, with `--json`, the summary as one JSON
//! line. stderr: the summary for people (without `--json`) and any error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::{CacheArgs, EXIT_BAD_INPUT, EXIT_RUN_FAILED, fail};
use crate::data::Json;
use crate::load::Process;
use crate::runner::{Ending, Run};
use crate::sinks::cloudevents::JsonLines;

/// Arguments of `weft run`.
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
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// Print the summary as one JSON line on stdout instead of text on stderr.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

pub(super) fn run(args: RunArgs) -> Result<ExitCode, ExitCode> {
    let data = input_data(&args)?;
    let runtime = args.cache.runtime()?;
    let process = runtime.load_process(&args.file).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?;
    let instance = args.instance_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut run = Run::new(&process, instance);
    run.send(&args.event, data).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?;
    let mut sink = JsonLines::new(std::io::stdout().lock());
    let ending = run.run_to_end(&mut sink).clone();
    if let Some(e) = sink.error {
        return Err(fail(EXIT_RUN_FAILED, format!("cannot write events to stdout: {e}")));
    }
    let summary = summary(&process, &run, &ending);
    if args.json {
        println!("{summary}");
    } else {
        eprint!("{}", human(&summary));
    }
    Ok(match ending {
        Ending::Completed | Ending::Stopped => ExitCode::SUCCESS,
        Ending::Failed { .. } => ExitCode::from(EXIT_RUN_FAILED),
    })
}

fn input_data(args: &RunArgs) -> Result<Json, ExitCode> {
    match (&args.data, &args.data_file) {
        (Some(text), _) => {
            Json::parse(text.clone()).map_err(|e| fail(EXIT_BAD_INPUT, format!("--data is not JSON: {e}")))
        }
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| fail(EXIT_BAD_INPUT, format!("cannot read --data-file {}: {e}", file.display())))?;
            Json::parse(text).map_err(|e| fail(EXIT_BAD_INPUT, format!("{}: not JSON: {e}", file.display())))
        }
        (None, None) => Ok(Json::null()),
    }
}

/// The run's summary: status, error, supersteps, invocations, final step states, unrouted events,
/// parameter values left waiting, and where each component's compiled code came from.
fn summary(process: &Process, run: &Run<'_>, ending: &Ending) -> Value {
    let state = run.state();
    let states: BTreeMap<&str, Value> = process
        .steps
        .iter()
        .zip(&state.step_states)
        .map(|(s, v)| (s.id.as_str(), v.as_ref().map_or(Value::Null, Json::to_value)))
        .collect();
    let leftovers: Vec<Value> = state
        .leftovers()
        .into_iter()
        .map(|(s, f, p, count)| {
            let function = &process.steps[s].component.description.functions[f];
            json!({"step": process.steps[s].id, "function": function.name, "parameter": function.params[p].name, "values": count})
        })
        .collect();
    let components: Vec<Value> = process
        .steps
        .iter()
        .map(|s| json!({"step": s.id, "component": s.component.path, "cache": s.component.cache}))
        .collect();
    let mut out = json!({
        "process": process.name(),
        "version": process.loaded.definition.version,
        "instance": state.instance_id,
        "supersteps": state.superstep,
        "invocations": state.invocations,
        "states": states,
        "unrouted": state.unrouted,
        "waiting": leftovers,
        "components": components,
    });
    let ending = serde_json::to_value(ending).expect("an ending serialises");
    if let (Value::Object(out), Value::Object(ending)) = (&mut out, ending) {
        out.extend(ending);
    }
    out
}

fn human(summary: &Value) -> String {
    let mut text = format!(
        "{} {} instance {}: {} after {} supersteps, {} invocations\n",
        summary["process"].as_str().unwrap_or_default(),
        summary["version"].as_str().unwrap_or_default(),
        summary["instance"].as_str().unwrap_or_default(),
        summary["status"].as_str().unwrap_or_default(),
        summary["supersteps"],
        summary["invocations"],
    );
    if let Some(error) = summary.get("error") {
        text += &format!("error: {error}\n");
    }
    for (step, state) in summary["states"].as_object().into_iter().flatten() {
        text += &format!("state {step}: {state}\n");
    }
    for event in summary["unrouted"].as_array().into_iter().flatten() {
        text += &format!("unrouted event {} from step {}: {}\n", event["event_type"], event["step"], event["data"]);
    }
    for w in summary["waiting"].as_array().into_iter().flatten() {
        text += &format!(
            "waiting: {} value(s) for {}.{}({}) never formed a complete set of arguments\n",
            w["values"], w["step"], w["function"], w["parameter"]
        );
    }
    text
}
