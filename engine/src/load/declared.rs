//! Warnings that need the components: an edge on an event its step never declares (a typo, or an event
//! the step stopped emitting). Only components that declare events are checked (`step-info.events`,
//! weft:step 0.3.0); an undeclared event is still routed if it is emitted.

use weft_definitions::Diagnostic;

use super::{Process, StepKind};

/// The warnings of `process` its definition alone cannot give, placed in the definition file.
pub fn warnings(process: &Process) -> Vec<Diagnostic> {
    let loaded = &process.loaded;
    let mut out = Vec::new();
    for (i, edge) in loaded.definition.edges.iter().enumerate() {
        for (at, source) in edge.sources() {
            let Some(event) = &source.event else { continue };
            let Some(step) = process.steps.iter().find(|s| s.id == source.step) else { continue };
            let declared = &step.description.events;
            if !matches!(step.kind, StepKind::Component(_))
                || declared.is_empty()
                || declared.iter().any(|e| &e.name == event)
            {
                continue;
            }
            let names: Vec<&str> = declared.iter().map(|e| e.name.as_str()).collect();
            out.push(loaded.diagnostic(
                &format!("/edges/{i}/{at}/event"),
                format!(
                    "step \"{}\" never declares the event \"{event}\": the edge fires only if it emits it anyway",
                    step.id
                ),
                Some(format!("it declares: {}", names.join(", "))),
            ));
        }
    }
    out
}
