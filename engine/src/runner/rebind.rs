//! Rebinding a run to a new version of its process (`weft resume --upgrade`): the run state refers to
//! steps, kernel functions and parameters by index, so it is carried over by name. It is compatible when
//! the steps are the same (same ids, same order) and everything the state refers to — queued values,
//! queued and delayed messages, retries, awaits — still exists in the new version.

use crate::load::{Delivery, Process};
use crate::runner::state::{Fire, Message, RetryCall, RunState, Status};

/// `state` (a run of `old`) carried over to `new`.
///
/// Errors: every incompatibility found, one line each (e.g. `step "desk": kernel function "escalate" is
/// gone, and 1 queued value waits for it`).
pub fn rebind(state: &RunState, old: &Process, new: &Process) -> Result<RunState, Vec<String>> {
    let ids = |p: &Process| p.steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    if ids(old) != ids(new) {
        return Err(vec![format!(
            "the steps changed: the run has [{}], the new definition [{}]; a run can only be rebound to the same steps",
            ids(old).join(", "),
            ids(new).join(", ")
        )]);
    }
    let mut problems = Vec::new();
    let mut out = state.clone();
    out.queues = RunState::empty_queues(new);
    for (step, functions) in state.queues.iter().enumerate() {
        for (function, queue) in functions.iter().enumerate() {
            let waiting = queue.triggers + queue.params.iter().map(|p| p.len() as u64).sum::<u64>();
            if waiting == 0 {
                continue;
            }
            let what = format!("{waiting} queued value(s) wait for it");
            let Some((f, _)) = map(old, new, step, function, None, &what, &mut problems) else { continue };
            out.queue_mut(step, f).triggers = queue.triggers;
            for (param, values) in queue.params.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
                let what = format!("{} queued value(s) wait for it", values.len());
                if let Some((_, Some(p))) = map(old, new, step, function, Some(param), &what, &mut problems) {
                    out.queue_mut(step, f).params[p].clone_from(values);
                }
            }
        }
    }
    let message = |m: &Message, problems: &mut Vec<String>| {
        let d = m.to;
        let (function, param) = map(old, new, d.step, d.function, d.param, "a message is on its way to it", problems)?;
        Some(Message { to: Delivery { step: d.step, function, param }, data: m.data.clone() })
    };
    out.pending = state.pending.iter().filter_map(|m| message(m, &mut problems)).collect();
    let retry = |r: &RetryCall, problems: &mut Vec<String>| {
        let (function, _) = map(old, new, r.step, r.function, None, "a retry of it is due", problems)?;
        let new_params = new.steps[r.step].description.functions[function].param_names();
        let same_params = old.steps[r.step].description.functions[r.function].param_names().eq(new_params);
        if !same_params {
            problems.push(format!(
                "step \"{}\": kernel function \"{}\" changed its parameters, and a retry of it is due",
                old.steps[r.step].id, old.steps[r.step].description.functions[r.function].name
            ));
            return None;
        }
        Some(RetryCall { function, ..r.clone() })
    };
    out.retries_due = state.retries_due.iter().filter_map(|r| retry(r, &mut problems)).collect();
    for timer in &mut out.timers {
        let fire = match &timer.fire {
            Fire::Deliver(m) => message(m, &mut problems).map(Fire::Deliver),
            Fire::Retry(r) => retry(r, &mut problems).map(Fire::Retry),
        };
        if let Some(fire) = fire {
            timer.fire = fire;
        }
    }
    // An await is the same await when it is declared at the same place for the same event: matching by
    // event alone would let one of two awaits of an event take the other's timeout path.
    for a in &mut out.awaits {
        let path = old.routing.awaits().get(a.route).map(|r| r.path.clone());
        let same = |r: &&crate::load::AwaitRoute| Some(&r.path) == path.as_ref() && r.event == a.event;
        match new.routing.awaits().iter().position(|r| same(&r)) {
            Some(route) => a.route = route,
            None => problems.push(format!(
                "the run awaits \"{}\" (declared at /{}), which the new definition does not await there",
                a.event,
                path.as_deref().unwrap_or("?")
            )),
        }
    }
    let (before, after) = (old.routing.all_of().iter(), new.routing.all_of().iter());
    if !before.map(|g| &g.keys).eq(after.map(|g| &g.keys)) {
        if state.arrivals.iter().flatten().any(|q| !q.is_empty()) {
            problems.push("the all-of groups changed while some of their arrivals wait for the rest".into());
        }
        out.arrivals = new.routing.no_arrivals();
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // A set the new version made complete fires in the next superstep (docs/durability.md): a waiting run
    // would otherwise keep it until its next event.
    if out.status == Status::Waiting && out.any_ready(new) {
        out.status = Status::Running;
    }
    Ok(out)
}

/// The indices in `new` of function `function` (and parameter `param`) of step `step` of `old`, by name;
/// `None`, with a problem saying `what` depends on it, when it is gone.
fn map(
    old: &Process,
    new: &Process,
    step: usize,
    function: usize,
    param: Option<usize>,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<(usize, Option<usize>)> {
    let id = &old.steps[step].id;
    let f = &old.steps[step].description.functions[function];
    let Some(nf) = new.steps[step].description.function(&f.name) else {
        problems.push(format!("step \"{id}\": kernel function \"{}\" is gone, and {what}", f.name));
        return None;
    };
    let Some(p) = param else { return Some((nf, None)) };
    let name = &f.params[p].name;
    match new.steps[step].description.functions[nf].param(name) {
        Some(np) => Some((nf, Some(np))),
        None => {
            problems.push(format!("step \"{id}\": parameter \"{name}\" of \"{}\" is gone, and {what}", f.name));
            None
        }
    }
}
