//! The summary of a run that `weft run`, `resume`, `status` and `cancel` print: as one JSON object
//! (`--json`), or as lines for people.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::data::Json;
use crate::runner::RunState;
use crate::runner::clock::format_time;
use crate::runner::layout::Layout;
use crate::store::DeadLetter;

/// The run's summary: status (and error), supersteps, invocations, final step states, unrouted events,
/// parameter values left over, all-of arrivals waiting, awaits and timers (none once the run has ended:
/// they are never acted on), each step's component digest, and the events a sink refused for good
/// (`dead_letters`).
pub fn summary(layout: &Layout, state: &RunState, dead_letters: &[DeadLetter]) -> Value {
    let states: BTreeMap<&str, Value> = layout
        .steps
        .iter()
        .zip(&state.step_states)
        .map(|(s, v)| (s.id.as_str(), v.as_ref().map_or(Value::Null, Json::to_value)))
        .collect();
    let leftovers: Vec<Value> = state
        .leftovers()
        .into_iter()
        .filter_map(|(s, f, p, count)| {
            let step = layout.steps.get(s)?;
            let function = step.functions.get(f)?;
            Some(json!({"step": step.id, "function": function.name, "parameter": function.params.get(p)?, "values": count}))
        })
        .collect();
    let arrivals: Vec<Value> = layout
        .all_of
        .iter()
        .zip(&state.arrivals)
        .flat_map(|(group, queues)| {
            let waiting = group.keys.iter().zip(queues).filter(|(_, q)| !q.is_empty());
            waiting.map(|(key, q)| json!({"edge": group.edge, "source": key, "values": q.len()}))
        })
        .collect();
    let components: Vec<Value> = layout
        .steps
        .iter()
        .filter_map(|s| s.component.as_ref().map(|digest| json!({"step": s.id, "digest": digest})))
        .collect();
    // A run that has ended awaits nothing and sets no timer: those it had are never acted on.
    let open = !state.status.is_final();
    let mut out = json!({
        "process": layout.process,
        "version": layout.version,
        "instance": state.instance_id,
        "supersteps": state.superstep,
        "invocations": state.invocations,
        "states": states,
        "unrouted": state.unrouted,
        "unrouted_total": state.unrouted_total,
        "leftovers": leftovers,
        "arrivals": arrivals,
        "awaits": state.awaits.iter().filter(|_| open).map(|a| json!({"event": a.event, "deadline": a.deadline_ms.map(format_time)})).collect::<Vec<_>>(),
        "timers": state.timers.iter().filter(|_| open).map(|t| json!({"due": format_time(t.due_ms), "retry": matches!(t.fire, crate::runner::Fire::Retry(_))})).collect::<Vec<_>>(),
        "components": components,
        "dead_letters": dead_letters,
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
    for d in summary["dead_letters"].as_array().into_iter().flatten() {
        text += &format!(
            "dead letter: outbox event {} refused by sink {} at {}: {} (`weft redeliver` offers it again)\n",
            d["seq"],
            d["sink"],
            d["at_ms"].as_u64().map(format_time).unwrap_or_default(),
            d["reason"].as_str().unwrap_or_default()
        );
    }
    for w in summary["leftovers"].as_array().into_iter().flatten() {
        text += &format!(
            "left over: {} value(s) for {}.{}({}) never formed a complete set of arguments\n",
            w["values"], w["step"], w["function"], w["parameter"]
        );
    }
    text
}
