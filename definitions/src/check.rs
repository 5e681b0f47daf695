//! Checks that need the whole definition, after it fits the schema: unique step ids, edges that name
//! existing steps, edge sources with exactly one trigger, durations that parse, awaits of declared input
//! events, `when` conditions that compile and `default` edges that have conditions beside them. Checks that need the components' descriptions
//! (functions, parameters, binding shortcuts) are the engine's, at load.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::LoadedDefinition;
use crate::condition::Condition;
use crate::error::{Diagnostic, suggest};
use crate::model::{Duration, SinkTo, Target, WebhookSink};

/// The definition's `when` conditions, compiled, by edge index (`None` for an edge without one); or every
/// problem found, in document order.
pub fn check(loaded: &LoadedDefinition) -> Result<Vec<Option<Arc<Condition>>>, Vec<Diagnostic>> {
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
    for (i, step) in def.steps.iter().enumerate() {
        kind(loaded, i, step, &mut out);
        crate::limits::check(loaded, i, step, &mut out);
        crate::capabilities::check(loaded, i, step, &mut out);
    }
    let inputs: Vec<&str> = def.inputs.iter().map(|i| i.event.as_str()).collect();
    let targets = Targets { loaded, ids: &ids, inputs: &inputs };
    let events = def.inputs.iter().map(|input| input.event.as_str());
    let twice = |e: &str| format!("input event \"{e}\" is declared twice");
    repeated(loaded, events, |i| format!("/inputs/{i}/event"), twice, "list all its targets under one entry", &mut out);
    for (i, input) in def.inputs.iter().enumerate() {
        targets.check(&input.to, &format!("/inputs/{i}/to"), &mut out);
    }
    for (i, edge) in def.edges.iter().enumerate() {
        for (at, source) in edge.sources() {
            targets.step_exists(&format!("/edges/{i}/{at}/step"), &source.step, &mut out);
            if source.event_type().is_none() {
                out.push(
                    loaded.diagnostic(
                        &format!("/edges/{i}/{at}"),
                        "an edge source needs exactly one of `event`, `result` or `error`".into(),
                        Some(
                            "e.g. `from: { step: credit, event: Approved }` or `from: { step: credit, result: check }`"
                                .into(),
                        ),
                    ),
                );
            }
        }
        all_of(loaded, i, edge, &mut out);
        targets.check(&edge.to, &format!("/edges/{i}/to"), &mut out);
    }
    let conditions = conditions(loaded, &mut out);
    targets.check(&def.on_error, "/onError", &mut out);
    let topics = def.sinks.iter().map(|sink| sink.topic.as_str());
    let twice = |t: &str| format!("topic \"{t}\" has two sinks");
    repeated(loaded, topics, |i| format!("/sinks/{i}/topic"), twice, "give each topic one sink", &mut out);
    for (i, sink) in def.sinks.iter().enumerate() {
        if let SinkTo::Webhook(WebhookSink { timeout: Some(d), .. }) = &sink.to {
            targets.duration(&format!("/sinks/{i}/to/timeout"), d, &mut out);
        }
    }
    for (i, step) in def.steps.iter().enumerate() {
        for (function, retry) in &step.retries {
            for (key, delay) in [("initialDelay", &retry.initial_delay), ("maxDelay", &retry.max_delay)] {
                if let Some(d) = delay {
                    targets.duration(&format!("/steps/{i}/retries/{function}/{key}"), d, &mut out);
                }
            }
        }
    }
    if out.is_empty() {
        return Ok(conditions);
    }
    out.sort_by_key(|d| (d.position.line, d.position.column));
    Err(out)
}

/// A step is exactly one of a component, a process and a map; a map runs exactly one of a component and a
/// process, and never another map.
fn kind(loaded: &LoadedDefinition, i: usize, step: &crate::model::StepDefinition, out: &mut Vec<Diagnostic>) {
    if step.kind().is_none() {
        out.push(loaded.diagnostic(
            &format!("/steps/{i}"),
            format!("step \"{}\" needs exactly one of `component`, `process` and `map`", step.id),
            Some("e.g. `component: steps/credit.wasm`, `process: kyc.yaml` or `map: { component: steps/square.wasm }`".into()),
        ));
    }
    if let Some(map) = &step.map
        && map.component.is_some() == map.process.is_some()
    {
        out.push(loaded.diagnostic(
            &format!("/steps/{i}/map"),
            format!("map step \"{}\" needs exactly one of `component` and `process`", step.id),
            Some("a map runs one component or one process per item; a map may not run another map".into()),
        ));
    }
    if step.map.as_ref().is_some_and(|m| m.process.is_some() && m.state.is_some()) {
        out.push(loaded.diagnostic(
            &format!("/steps/{i}/map/state"),
            "`state` is for a map over a component; a process's steps have their own".into(),
            Some("remove `state`, or give the steps of the mapped process their `state`".into()),
        ));
    }
}

/// A problem at `pointer(i)` saying `message(name)` for each name of `names` (the `i`-th) that came before.
fn repeated<'a>(
    loaded: &LoadedDefinition,
    names: impl Iterator<Item = &'a str>,
    pointer: impl Fn(usize) -> String,
    message: impl Fn(&str) -> String,
    hint: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen = HashSet::new();
    for (i, name) in names.enumerate() {
        if !seen.insert(name) {
            out.push(loaded.diagnostic(&pointer(i), message(name), Some(hint.into())));
        }
    }
}

/// An edge has `from` or an `allOf` of distinct sources, not both, and an all-of edge has no condition.
fn all_of(loaded: &LoadedDefinition, i: usize, edge: &crate::model::Edge, out: &mut Vec<Diagnostic>) {
    let pointer = format!("/edges/{i}");
    let problem = match (&edge.from, edge.all_of.is_empty()) {
        (Some(_), false) => Some("an edge has either `from` or `allOf`, not both"),
        (None, true) => Some("an edge needs `from` (one event) or `allOf` (a group of events)"),
        (None, false) if edge.when.is_some() || edge.default => Some(
            "an `allOf` edge cannot have `when` or `default`; put the condition on an edge from the group's target",
        ),
        _ => None,
    };
    if let Some(message) = problem {
        let hint = "e.g. `allOf: [{ step: credit, event: Approved }, { step: fraud, event: Cleared }]`";
        out.push(loaded.diagnostic(&pointer, message.into(), Some(hint.into())));
    }
    let mut keys = HashSet::new();
    for (j, source) in edge.all_of.iter().enumerate() {
        if let Some(key) = source.key()
            && !keys.insert(key.clone())
        {
            out.push(loaded.diagnostic(
                &format!("{pointer}/allOf/{j}"),
                format!("\"{key}\" is listed twice in this all-of group"),
                Some("list each (step, event) once".into()),
            ));
        }
    }
}

/// Every `when:` compiles (the compiled conditions by edge index); an edge is not both conditional and
/// `default`; a `default` edge shares its source with at least one `when` edge.
fn conditions(loaded: &LoadedDefinition, out: &mut Vec<Diagnostic>) -> Vec<Option<Arc<Condition>>> {
    let edges = &loaded.definition.edges;
    let source = |e: &crate::model::Edge| e.from.as_ref().map(|f| (f.step.clone(), f.event_type()));
    let conditional: HashSet<_> = edges.iter().filter(|e| e.when.is_some()).map(source).collect();
    let mut compiled = Vec::with_capacity(edges.len());
    for (i, edge) in edges.iter().enumerate() {
        compiled.push(edge.when.as_ref().and_then(|text| match Condition::compile(text) {
            Ok(condition) => Some(Arc::new(condition)),
            Err(e) => {
                out.push(loaded.diagnostic(
                    &format!("/edges/{i}/when"),
                    format!("the condition `{text}` is not a valid jq expression: {e}"),
                    Some("write a jq expression over `.data` and `.event`, e.g. `.data.score >= 700`".into()),
                ));
                None
            }
        }));
        if edge.default && edge.when.is_some() {
            out.push(loaded.diagnostic(
                &format!("/edges/{i}/default"),
                "an edge is either conditional (`when`) or the `default`, not both".into(),
                Some("remove `default: true`, or move the condition to an edge of its own".into()),
            ));
        } else if edge.default && !conditional.contains(&source(edge)) {
            out.push(loaded.diagnostic(
                &format!("/edges/{i}/default"),
                format!(
                    "a `default` edge fires when no `when` edge on the same source matched, and no edge from step \
                     \"{}\" on that event has `when`",
                    edge.from.as_ref().map_or("", |f| f.step.as_str())
                ),
                Some("add a `when` edge from the same step and event, or remove `default: true`".into()),
            ));
        }
    }
    compiled
}

/// Problems that do not stop a definition from loading, in document order: steps that no input event,
/// edge or error handler can ever reach, topics without a sink, sinks of topics nothing sends to
/// (docs/semantics.md, "Load-time checks").
pub fn warnings(loaded: &LoadedDefinition) -> Vec<Diagnostic> {
    let def = &loaded.definition;
    let mut reached: HashSet<&str> = HashSet::new();
    fn mark<'a>(targets: &'a [Target], reached: &mut HashSet<&'a str>) -> bool {
        let mut grew = false;
        for target in targets {
            match target {
                Target::Function(t) => grew |= reached.insert(t.step.as_str()),
                Target::Await(a) => grew |= mark(&a.on_timeout, reached),
                Target::Stop(_) | Target::Topic(_) => {}
            }
        }
        grew
    }
    for input in &def.inputs {
        mark(&input.to, &mut reached);
    }
    loop {
        let mut grew = false;
        for edge in &def.edges {
            let mut sources = edge.sources().map(|(_, s)| s.step.as_str());
            let fires = if edge.all_of.is_empty() {
                sources.any(|s| reached.contains(s))
            } else {
                sources.all(|s| reached.contains(s))
            };
            if fires {
                grew |= mark(&edge.to, &mut reached);
            }
        }
        if !reached.is_empty() {
            grew |= mark(&def.on_error, &mut reached);
        }
        if !grew {
            break;
        }
    }
    let topics = def.topics();
    let sunk: HashSet<&str> = def.sinks.iter().map(|s| s.topic.as_str()).collect();
    let mut out: Vec<Diagnostic> = def
        .sinks
        .iter()
        .enumerate()
        .filter(|(_, sink)| !topics.contains(&sink.topic))
        .map(|(i, sink)| {
            loaded.diagnostic(
                &format!("/sinks/{i}/topic"),
                format!("no edge sends anything to topic \"{}\"", sink.topic),
                Some(suggest(&sink.topic, topics.iter().map(String::as_str))),
            )
        })
        .collect();
    for topic in topics.iter().filter(|t| !sunk.contains(t.as_str())) {
        out.push(loaded.diagnostic(
            "",
            format!("topic \"{topic}\" has no sink: its events go to standard output with the public events"),
            Some(format!("add `sinks: [{{ topic: {topic}, to: {{ file: {topic}.jsonl }} }}]`, or `to: stdout`")),
        ));
    }
    out.extend(def.steps.iter().enumerate().filter(|(_, step)| !reached.contains(step.id.as_str())).map(
        |(i, step)| {
            loaded.diagnostic(
                &format!("/steps/{i}/id"),
                format!("step \"{}\" is never reached: no input event, edge or error handler leads to it", step.id),
                Some("add an edge to it, or remove the step".into()),
            )
        },
    ));
    out.sort_by_key(|d| (d.position.line, d.position.column));
    out
}

/// The milliseconds of `d`; `None` after a problem at `pointer` when it does not parse (it fits the
/// schema's pattern, so only when the number overflows).
pub(crate) fn duration(
    loaded: &LoadedDefinition,
    pointer: &str,
    d: &Duration,
    out: &mut Vec<Diagnostic>,
) -> Option<u64> {
    let millis = d.millis();
    if millis.is_none() {
        out.push(loaded.diagnostic(
            pointer,
            format!("\"{}\" is not a duration", d.0),
            Some(crate::model::DURATION_HINT.into()),
        ));
    }
    millis
}

/// Checks of a list of targets, wherever it stands.
struct Targets<'a> {
    loaded: &'a LoadedDefinition,
    ids: &'a HashMap<&'a str, usize>,
    inputs: &'a [&'a str],
}

impl Targets<'_> {
    fn step_exists(&self, pointer: &str, id: &str, out: &mut Vec<Diagnostic>) {
        if !self.ids.contains_key(id) {
            let hint = suggest(id, self.loaded.definition.steps.iter().map(|s| s.id.as_str()));
            out.push(self.loaded.diagnostic(pointer, format!("no step has the id \"{id}\""), Some(hint)));
        }
    }

    fn duration(&self, pointer: &str, d: &Duration, out: &mut Vec<Diagnostic>) {
        duration(self.loaded, pointer, d, out);
    }

    /// Every target at `pointer`: steps that exist, durations that parse, awaits of declared input events.
    fn check(&self, targets: &[Target], pointer: &str, out: &mut Vec<Diagnostic>) {
        for (j, target) in targets.iter().enumerate() {
            match target {
                Target::Stop(_) | Target::Topic(_) => {}
                Target::Function(t) => {
                    self.step_exists(&format!("{pointer}/{j}/step"), &t.step, out);
                    if let Some(d) = &t.delay {
                        self.duration(&format!("{pointer}/{j}/delay"), d, out);
                    }
                }
                Target::Await(a) => {
                    if !self.inputs.contains(&a.event.as_str()) {
                        out.push(self.loaded.diagnostic(
                            &format!("{pointer}/{j}/await"),
                            format!("the awaited event \"{}\" is not an input event of the process", a.event),
                            Some(format!(
                                "declare it under `inputs` with its targets (declared: {})",
                                self.inputs.join(", ")
                            )),
                        ));
                    }
                    if let Some(text) = &a.correlate
                        && let Err(e) = Condition::compile(text)
                    {
                        out.push(self.loaded.diagnostic(
                            &format!("{pointer}/{j}/correlate"),
                            format!("the correlation key `{text}` is not a valid jq expression: {e}"),
                            Some("write a jq expression over `.data`, e.g. `.data.ticketId`".into()),
                        ));
                    }
                    if let Some(d) = &a.timeout {
                        self.duration(&format!("{pointer}/{j}/timeout"), d, out);
                    }
                    self.check(&a.on_timeout, &format!("{pointer}/{j}/onTimeout"), out);
                }
            }
        }
    }
}
