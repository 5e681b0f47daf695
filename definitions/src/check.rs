//! Checks that need the whole definition, after it fits the schema: unique step ids, edges that name
//! existing steps, edge sources with exactly one trigger. Checks that need the components' descriptions
//! (functions, parameters, binding shortcuts) are the engine's, at load.

use std::collections::{HashMap, HashSet};

use crate::LoadedDefinition;
use crate::error::{Diagnostic, suggest};
use crate::model::Target;

/// Every problem found, in document order.
pub fn check(loaded: &LoadedDefinition) -> Vec<Diagnostic> {
    let def = &loaded.definition;
    let mut out = Vec::new();
    let mut ids = HashMap::new();
    for (i, step) in def.steps.iter().enumerate() {
        let first = *ids.entry(step.id.as_str()).or_insert(i);
        if first != i {
            out.push(loaded.diagnostic(
                &format!("/steps/{i}/id"),
                format!("step id \"{}\" is used twice (first by step {first})", step.id),
                Some("give each step its own id".into()),
            ));
        }
    }
    let known = || def.steps.iter().map(|s| s.id.as_str());
    let step_exists = |pointer: String, id: &str, out: &mut Vec<Diagnostic>| {
        if !ids.contains_key(id) {
            out.push(loaded.diagnostic(&pointer, format!("no step has the id \"{id}\""), Some(suggest(id, known()))));
        }
    };
    let mut inputs = HashSet::new();
    for (i, input) in def.inputs.iter().enumerate() {
        if !inputs.insert(input.event.as_str()) {
            out.push(loaded.diagnostic(
                &format!("/inputs/{i}/event"),
                format!("input event \"{}\" is declared twice", input.event),
                Some("list all its targets under one entry".into()),
            ));
        }
        for (j, target) in input.to.iter().enumerate() {
            if let Target::Function(t) = target {
                step_exists(format!("/inputs/{i}/to/{j}/step"), &t.step, &mut out);
            }
        }
    }
    for (i, edge) in def.edges.iter().enumerate() {
        step_exists(format!("/edges/{i}/from/step"), &edge.from.step, &mut out);
        if edge.from.event_type().is_none() {
            out.push(loaded.diagnostic(
                &format!("/edges/{i}/from"),
                "an edge source needs exactly one of `event`, `result` or `error`".into(),
                Some(
                    "e.g. `from: { step: credit, event: Approved }` or `from: { step: credit, result: check }`".into(),
                ),
            ));
        }
        for (j, target) in edge.to.iter().enumerate() {
            if let Target::Function(t) = target {
                step_exists(format!("/edges/{i}/to/{j}/step"), &t.step, &mut out);
            }
        }
    }
    for (j, target) in def.on_error.iter().enumerate() {
        if let Target::Function(t) = target {
            step_exists(format!("/onError/{j}/step"), &t.step, &mut out);
        }
    }
    out.sort_by_key(|d| (d.position.line, d.position.column));
    out
}
