//! The summary of a run that `weft run`, `resume`, `status` and `cancel` print: as one JSON object
//! (`--json`), or as lines for people.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::data::Json;
use crate::load::Process;
use crate::runner::RunState;
use crate::runner::clock::format_time;

/// The run's summary: status (and error), supersteps, invocations, final step states, unrouted events,
/// parameter values left over, all-of arrivals waiting, and where each component's compiled code came from.
pub fn summary(process: &Process, state: &RunState) -> Value {
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
            let function = &process.steps[s].description.functions[f];
            json!({"step": process.steps[s].id, "function": function.name, "parameter": function.params[p].name, "values": count})
        })
        .collect();
    let arrivals: Vec<Value> = process
        .routing
        .all_of()
        .iter()
        .zip(&state.arrivals)
        .flat_map(|(group, queues)| {
            let waiting = group.keys.iter().zip(queues).filter(|(_, q)| !q.is_empty());
            waiting.map(|(key, q)| json!({"edge": group.edge, "source": key, "values": q.len()}))
        })
        .collect();
    let components: Vec<Value> = process
        .steps
        .iter()
        .filter_map(|s| s.component().map(|c| (s, c)))
        .map(|(s, c)| json!({"step": s.id, "component": c.path, "digest": c.digest, "cache": c.cache}))
        .collect();
    let mut out = json!({
        "process": process.name(),
        "version": process.loaded.definition.version,
        "instance": state.instance_id,
        "supersteps": state.superstep,
        "invocations": state.invocations,
        "states": states,
        "unrouted": state.unrouted,
        "unrouted_total": state.unrouted_total,
        "leftovers": leftovers,
        "arrivals": arrivals,
        "awaits": state.awaits.iter().map(|a| json!({"event": a.event, "deadline": a.deadline_ms.map(format_time)})).collect::<Vec<_>>(),
        "timers": state.timers.iter().map(|t| json!({"due": format_time(t.due_ms), "retry": matches!(t.fire, crate::runner::Fire::Retry(_))})).collect::<Vec<_>>(),
        "components": components,
    });
    let status = serde_json::to_value(&state.status).expect("a status serialises");
    if let (Value::Object(out), Value::Object(status)) = (&mut out, status) {
        out.extend(status);
    }
    out
}

/// `summary` as lines for people.
pub fn human(summary: &Value) -> String {
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
    let unrouted = summary["unrouted"].as_array().map_or(&[][..], Vec::as_slice);
    let total = summary["unrouted_total"].as_u64().unwrap_or(0);
    if total > unrouted.len() as u64 {
        text += &format!("{total} unrouted events; the latest {} (`weft history` lists all):\n", unrouted.len());
    }
    for event in unrouted {
        text += &format!("unrouted event {} from step {}: {}\n", event["event_type"], event["step"], event["data"]);
    }
    for a in summary["arrivals"].as_array().into_iter().flatten() {
        text += &format!(
            "all-of edge /edges/{} holds {} value(s) from {} waiting for the rest of its group\n",
            a["edge"], a["values"], a["source"]
        );
    }
    for a in summary["awaits"].as_array().into_iter().flatten() {
        match a["deadline"].as_str() {
            Some(deadline) => text += &format!("awaits {} until {deadline}\n", a["event"]),
            None => text += &format!("awaits {}\n", a["event"]),
        }
    }
    for t in summary["timers"].as_array().into_iter().flatten() {
        let what = if t["retry"] == true { "a retry" } else { "a delayed delivery" };
        text += &format!("timer: {what} due {}\n", t["due"].as_str().unwrap_or_default());
    }
    for w in summary["leftovers"].as_array().into_iter().flatten() {
        text += &format!(
            "left over: {} value(s) for {}.{}({}) never formed a complete set of arguments\n",
            w["values"], w["step"], w["function"], w["parameter"]
        );
    }
    text
}
