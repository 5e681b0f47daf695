//! Edges resolved against the components' descriptions into a routing table of indices, applying SK's
//! binding shortcuts (docs/semantics.md, "Binding shortcuts"): the function may be left out when the
//! step has one kernel function, the parameter when the function has at most one. Anything ambiguous or
//! unknown is a load error placed at the edge's `file:line:column`, listing what exists.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weft_definitions::condition::Condition;
use weft_definitions::error::suggest;
use weft_definitions::{Diagnostic, FunctionTarget, LoadedDefinition, Target, on_error, on_result};

use crate::load::description::StepDescription;

/// Where an event comes from: outside the process, or a step (by index in definition order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Source {
    /// An input event of the process.
    Input,
    /// Step at this index.
    Step(usize),
}

impl Source {
    /// Its index in the table's lists by source: 0 for input events, `i + 1` for step `i`.
    fn index(self) -> usize {
        match self {
            Source::Input => 0,
            Source::Step(i) => i + 1,
        }
    }
}

/// What an edge does with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Route {
    /// End the run as stopped.
    Stop,
    /// Queue the data for a parameter of a kernel function.
    Deliver(Delivery),
    /// Queue the data for a parameter after `delay_ms` milliseconds of the run's time (a durable timer).
    Later {
        /// Where it goes.
        to: Delivery,
        /// How long after the superstep that routed it.
        delay_ms: u64,
    },
    /// Open the await at this index of [`RoutingTable::awaits`].
    Await(usize),
    /// Send the data to the external topic at this index of [`RoutingTable::topics`].
    Topic(usize),
    /// An arrival for member `member` of the all-of group at index `group` of [`RoutingTable::all_of`].
    Arrive {
        /// Group index.
        group: usize,
        /// Member index, in the order of the edge's `allOf`.
        member: usize,
    },
}

/// An all-of edge group (`allOf`): fires once every member has an arrival (docs/semantics.md, "Conditional edges" and
/// "All-of edge groups").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllOfGroup {
    /// Index of its edge in the definition's `edges`.
    pub edge: usize,
    /// Its edge's path, as the history names the edges that fired (see [`GuardedEdge::path`]).
    pub path: Arc<str>,
    /// Each member's key in the object the group delivers, `"<step>.<event>"`, in `allOf` order.
    pub keys: Vec<String>,
    /// Where the object goes.
    pub routes: Vec<Route>,
}

/// An await an edge opens: the input event it waits for, how long, and where the data that opened it
/// goes if the time runs out first.
#[derive(Debug, Clone)]
pub struct AwaitRoute {
    /// Where the await target is declared, as a JSON Pointer without its leading `/` (`edges/3/to/0`;
    /// prefixed with the step id inside a sub-process): what identifies it across versions of a definition.
    pub path: Arc<str>,
    /// The awaited input event.
    pub event: String,
    /// Milliseconds until it times out; `None` for never.
    pub timeout_ms: Option<u64>,
    /// Routes of the data that opened it, on timeout.
    pub on_timeout: Vec<Route>,
    /// The correlation key's expression, over `{"data": ...}` (see
    /// [`weft_definitions::AwaitTarget::correlate`]).
    pub correlate: Option<Arc<Condition>>,
}

/// How a kernel function's errors are retried (from the definition's `retries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt, ms.
    pub initial_delay_ms: u64,
    /// Longest wait, ms.
    pub max_delay_ms: u64,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (from 1): the initial delay doubled `attempt - 1` times,
    /// at most the maximum.
    pub fn delay_ms(&self, attempt: u32) -> u64 {
        let doubled =
            self.initial_delay_ms.saturating_mul(1u64.checked_shl(attempt.saturating_sub(1)).unwrap_or(u64::MAX));
        doubled.min(self.max_delay_ms)
    }
}

/// A parameter of a kernel function, by indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Delivery {
    /// Step index.
    pub step: usize,
    /// Function index in the step's description.
    pub function: usize,
    /// Parameter index; `None` for a function without parameters (the message only triggers it).
    pub param: Option<usize>,
}

/// When an edge of an [`EdgeGroup`] fires.
#[derive(Debug, Clone)]
pub enum Guard {
    /// Always (no `when`, not `default`).
    Always,
    /// When the condition's first output is `true` (`when:`).
    When(Arc<Condition>),
    /// When no `When` edge of the group matched (`default: true`).
    Default,
}

/// One edge of an [`EdgeGroup`].
#[derive(Debug, Clone)]
pub struct GuardedEdge {
    /// When it fires.
    pub guard: Guard,
    /// Its index in the definition's `edges`, for messages (`/edges/<i>`); for an input event, its
    /// index in `inputs`.
    pub edge: usize,
    /// Where it is declared, as the history's `fired` records name it: `edges/3`, `inputs/0`, or
    /// `edges/5/allOf/1` for the arrival of member 1 of an all-of group; inside a sub-process, prefixed
    /// with the sub-process step's id (`kyc/edges/1`), as the sub-process's steps are.
    pub path: Arc<str>,
    /// Its routes.
    pub routes: Vec<Route>,
}

/// Every edge on one source event: the unit of routing, since a `default` edge depends on its siblings
/// (docs/semantics.md, "Conditional edges" and "All-of edge groups").
#[derive(Debug, Clone, Default)]
pub struct EdgeGroup {
    /// Every edge's routes in definition order: what fires when no edge of the group is guarded.
    all: Vec<Route>,
    /// The edges with their guards, in definition order.
    guarded: Vec<GuardedEdge>,
    /// Whether some edge has a `when` or is `default`.
    conditional: bool,
}

impl EdgeGroup {
    /// The group's routes when no edge has a condition (the usual case, decided without running
    /// anything); `None` when the edges must be chosen with [`EdgeGroup::guarded`].
    pub fn unconditional(&self) -> Option<&[Route]> {
        (!self.conditional).then_some(&self.all)
    }

    /// The edges with their guards, in definition order.
    pub fn guarded(&self) -> &[GuardedEdge] {
        &self.guarded
    }

    /// Whether no edge listens.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    fn push(&mut self, guard: Guard, edge: usize, path: String, routes: Vec<Route>) {
        self.conditional |= !matches!(guard, Guard::Always);
        self.all.extend(routes.iter().copied());
        self.guarded.push(GuardedEdge { guard, edge, path: path.into(), routes });
    }
}

/// A process or one of its sub-processes, in a routing table flattened over them (docs/semantics.md,
/// "Sub-processes").
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The sub-process's step in the enclosing scope (`None` for the process itself): its public events
    /// rise as events of that step.
    pub step: Option<usize>,
    /// The enclosing scope (`None` for the process itself).
    pub parent: Option<usize>,
    /// Its error handler (`onError`): routes of a function error no `error` edge handles.
    pub error_handler: Vec<Route>,
    /// The error handler's path in the history's `fired` records: `onError`, `kyc/onError`.
    pub error_path: Arc<str>,
}

/// How the indices of a sub-process's routing table move when it is appended to its parent's.
struct Shift<'a> {
    steps: usize,
    awaits: usize,
    all_of: usize,
    scopes: usize,
    /// Parent topic index by child topic index.
    topics: &'a [usize],
    /// What the child's paths are prefixed with: the sub-process step's id and `/`.
    path: &'a str,
}

impl Shift<'_> {
    fn route(&self, r: Route) -> Route {
        let to = |d: Delivery| Delivery { step: d.step + self.steps, ..d };
        match r {
            Route::Stop => Route::Stop,
            Route::Deliver(d) => Route::Deliver(to(d)),
            Route::Later { to: d, delay_ms } => Route::Later { to: to(d), delay_ms },
            Route::Await(i) => Route::Await(i + self.awaits),
            Route::Topic(i) => Route::Topic(self.topics[i]),
            Route::Arrive { group, member } => Route::Arrive { group: group + self.all_of, member },
        }
    }

    fn routes(&self, routes: &[Route]) -> Vec<Route> {
        routes.iter().map(|r| self.route(*r)).collect()
    }

    fn path(&self, path: &str) -> Arc<str> {
        format!("{}{path}", self.path).into()
    }

    fn group(&self, g: &EdgeGroup) -> EdgeGroup {
        EdgeGroup {
            all: self.routes(&g.all),
            guarded: g
                .guarded
                .iter()
                .map(|e| GuardedEdge {
                    guard: e.guard.clone(),
                    edge: e.edge,
                    path: self.path(&e.path),
                    routes: self.routes(&e.routes),
                })
                .collect(),
            conditional: g.conditional,
        }
    }
}

/// A sub-process step's routing, for binding targets to its input events: its table and where its steps
/// start in the flattened list.
#[derive(Clone, Copy)]
pub struct Nested<'a> {
    /// The sub-process's own table (flattened over its own sub-processes).
    pub routing: &'a RoutingTable,
    /// Index of its first step in the parent's flattened list.
    pub offset: usize,
}

/// The index of topic `name` in `topics`, added at the end if new.
fn topic_index(topics: &mut Vec<String>, name: &str) -> usize {
    match topics.iter().position(|t| t == name) {
        Some(i) => i,
        None => {
            topics.push(name.to_string());
            topics.len() - 1
        }
    }
}

/// An empty group, for sources no edge listens to.
static NO_EDGES: EdgeGroup = EdgeGroup { all: Vec::new(), guarded: Vec::new(), conditional: false };

/// Routes by source and event type.
#[derive(Debug, Clone, Default)]
pub struct RoutingTable {
    /// Index 0: input events; index `i + 1`: events of step `i`.
    by_source: Vec<HashMap<String, EdgeGroup>>,
    /// The process and its sub-processes, flattened: scope 0 is the process itself (see [`Scope`]).
    scopes: Vec<Scope>,
    /// `step_scope[step]`: the scope each step belongs to.
    step_scope: Vec<usize>,
    /// `automatic[step][function]`: the edges of its `F.OnResult` and `F.OnError` events, resolved at
    /// load so that an invocation's automatic events cost no lookup.
    automatic: Vec<Vec<(EdgeGroup, EdgeGroup)>>,
    /// The awaits that edges open, indexed by [`Route::Await`].
    awaits: Vec<AwaitRoute>,
    /// The all-of groups, indexed by [`Route::Arrive`].
    all_of: Vec<AllOfGroup>,
    /// The external topics, indexed by [`Route::Topic`].
    topics: Vec<String>,
    /// `retries[step][function]`: its retry policy, if the definition gives one.
    retries: Vec<Vec<Option<RetryPolicy>>>,
}

impl RoutingTable {
    /// The edges of `event_type` from `source`; an empty group when no edge listens.
    pub fn routes(&self, source: Source, event_type: &str) -> &EdgeGroup {
        self.by_source.get(source.index()).and_then(|m| m.get(event_type)).unwrap_or(&NO_EDGES)
    }

    /// The event types edges listen to from `source` (automatic events aside), sorted.
    pub fn listened(&self, source: Source) -> Vec<&str> {
        let mut types: Vec<&str> =
            self.by_source.get(source.index()).into_iter().flat_map(|m| m.keys().map(String::as_str)).collect();
        types.sort_unstable();
        types
    }

    /// The routes of input event `event_type` (inputs have no conditions); empty when it is not declared.
    pub fn input_routes(&self, event_type: &str) -> &[Route] {
        &self.routes(Source::Input, event_type).all
    }

    /// The edges of `F.OnResult` for function `function` of step `step` (docs/semantics.md, "Automatic events").
    pub fn result_routes(&self, step: usize, function: usize) -> &EdgeGroup {
        &self.automatic[step][function].0
    }

    /// The edges of `F.OnError` for function `function` of step `step`.
    pub fn error_routes(&self, step: usize, function: usize) -> &EdgeGroup {
        &self.automatic[step][function].1
    }

    /// The scope whose error handler takes the unhandled errors of `step`: its own scope's, or the nearest
    /// enclosing scope's that declares one (docs/semantics.md, "Sub-processes"); `None` when none does.
    pub fn error_handler(&self, step: usize) -> Option<&Scope> {
        let mut scope = self.step_scope.get(step).copied();
        while let Some(s) = scope {
            if !self.scopes[s].error_handler.is_empty() {
                return Some(&self.scopes[s]);
            }
            scope = self.scopes[s].parent;
        }
        None
    }

    /// The sub-process step that the events of `step` rise to, if `step` is inside a sub-process.
    pub fn rises_to(&self, step: usize) -> Option<usize> {
        self.step_scope.get(step).and_then(|&s| self.scopes[s].step)
    }

    /// Whether anything in the table stops the run or opens an await (which a sub-process may not do:
    /// it would stop or hold its parent's run).
    pub fn stops_or_awaits(&self) -> bool {
        let stops = |routes: &[Route]| routes.contains(&Route::Stop);
        !self.awaits.is_empty()
            || self.by_source.iter().flat_map(|m| m.values()).any(|g| stops(&g.all))
            || self.automatic.iter().flatten().any(|(r, e)| stops(&r.all) || stops(&e.all))
            || self.all_of.iter().any(|g| stops(&g.routes))
            || self.scopes.iter().any(|s| stops(&s.error_handler))
    }

    /// Append the table of the sub-process run by step `step` (whose id is `step_id`), whose steps start
    /// at `offset` in the flattened list (right after every step already in this table).
    pub fn append(&mut self, child: &RoutingTable, step: usize, step_id: &str, offset: usize) {
        debug_assert_eq!(self.by_source.len(), offset + 1, "a sub-process's steps follow those already appended");
        let topics: Vec<usize> = child.topics.iter().map(|t| self.topic(t)).collect();
        let shift = Shift {
            steps: offset,
            awaits: self.awaits.len(),
            all_of: self.all_of.len(),
            scopes: self.scopes.len(),
            topics: &topics,
            path: &format!("{step_id}/"),
        };
        for by_type in &child.by_source[1..] {
            self.by_source.push(by_type.iter().map(|(k, g)| (k.clone(), shift.group(g))).collect());
        }
        self.automatic.extend(
            child.automatic.iter().map(|fs| fs.iter().map(|(r, e)| (shift.group(r), shift.group(e))).collect()),
        );
        self.awaits.extend(child.awaits.iter().map(|a| AwaitRoute {
            path: shift.path(&a.path),
            event: a.event.clone(),
            timeout_ms: a.timeout_ms,
            on_timeout: shift.routes(&a.on_timeout),
            correlate: a.correlate.clone(),
        }));
        self.all_of.extend(child.all_of.iter().map(|g| AllOfGroup {
            edge: g.edge,
            path: shift.path(&g.path),
            keys: g.keys.clone(),
            routes: shift.routes(&g.routes),
        }));
        self.retries.extend(child.retries.iter().cloned());
        let parent = self.step_scope[step];
        self.scopes.extend(child.scopes.iter().map(|s| Scope {
            step: Some(s.step.map_or(step, |i| i + offset)),
            parent: Some(s.parent.map_or(parent, |p| p + shift.scopes)),
            error_handler: shift.routes(&s.error_handler),
            error_path: shift.path(&s.error_path),
        }));
        self.step_scope.extend(child.step_scope.iter().map(|s| s + shift.scopes));
    }

    /// The index of topic `name`, added if new.
    fn topic(&mut self, name: &str) -> usize {
        topic_index(&mut self.topics, name)
    }

    /// The routes of input event `event` of a sub-process, as seen from its parent.
    fn nested_input(&self, nested: Nested<'_>, event: &str, parent_topics: &[String]) -> Vec<Route> {
        let topics: Vec<usize> =
            self.topics.iter().map(|t| parent_topics.iter().position(|p| p == t).unwrap_or(usize::MAX)).collect();
        let shift = Shift { steps: nested.offset, awaits: 0, all_of: 0, scopes: 0, topics: &topics, path: "" };
        shift.routes(self.input_routes(event))
    }

    /// The awaits edges open, by index.
    pub fn awaits(&self) -> &[AwaitRoute] {
        &self.awaits
    }

    /// The all-of groups, by index.
    pub fn all_of(&self) -> &[AllOfGroup] {
        &self.all_of
    }

    /// No arrivals yet for any all-of group: `[group][member]`, each queue empty (a run's
    /// `RunState::arrivals` to start from).
    pub fn no_arrivals<T: Clone>(&self) -> Vec<Vec<std::collections::VecDeque<T>>> {
        self.all_of.iter().map(|g| vec![std::collections::VecDeque::new(); g.keys.len()]).collect()
    }

    /// The external topics, by index.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The retry policy of function `function` of step `step`, if any.
    pub fn retry(&self, step: usize, function: usize) -> Option<RetryPolicy> {
        self.retries.get(step).and_then(|f| f.get(function)).copied().flatten()
    }

    /// Resolve every input and edge of `loaded` against `descriptions` (one per step, in order).
    ///
    /// Errors: one diagnostic per unknown function or parameter, ambiguous binding, or `result`/`error`
    /// source naming a function the step lacks.
    ///
    /// `shapes` says, per step, how targets bind to it; a sub-process's own table is not appended here
    /// (see [`RoutingTable::append`]), but its topics are counted in.
    pub fn build(
        loaded: &LoadedDefinition,
        descriptions: &[&StepDescription],
        shapes: &[Shape<'_>],
    ) -> Result<Self, Vec<Diagnostic>> {
        let def = &loaded.definition;
        let index: HashMap<&str, usize> = def.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        let mut problems = Vec::new();
        let mut topics = def.topics();
        for shape in shapes {
            if let Shape::Nested(n) = shape {
                for topic in &n.routing.topics {
                    topic_index(&mut topics, topic);
                }
            }
        }
        let binder = Binder { loaded, descriptions, shapes, index: &index, topics: &topics };
        let mut awaits = Vec::new();
        let error_handler = binder.bind_all(&def.on_error, "/onError", &mut awaits, &mut problems);
        let mut table = RoutingTable {
            by_source: vec![HashMap::new(); def.steps.len() + 1],
            scopes: vec![Scope { step: None, parent: None, error_handler, error_path: "onError".into() }],
            step_scope: vec![0; def.steps.len()],
            automatic: Vec::new(),
            awaits: Vec::new(),
            all_of: Vec::new(),
            topics: topics.clone(),
            retries: binder.retries(&mut problems),
        };

        for (i, input) in def.inputs.iter().enumerate() {
            let routes = binder.bind_all(&input.to, &format!("/inputs/{i}/to"), &mut awaits, &mut problems);
            let path = format!("inputs/{i}");
            table.by_source[0].entry(input.event.clone()).or_default().push(Guard::Always, i, path, routes);
        }
        for (i, edge) in def.edges.iter().enumerate() {
            // Each source as (step index, event type), once it names a step and exactly one trigger.
            let mut sources = Vec::new();
            for (at, from) in edge.sources() {
                let Some(&source) = index.get(from.step.as_str()) else { continue };
                let function =
                    from.result.as_deref().map(|f| ("result", f)).or(from.error.as_deref().map(|f| ("error", f)));
                if let Some((key, f)) = function
                    && descriptions[source].function(f).is_none()
                {
                    problems.push(loaded.diagnostic(
                        &format!("/edges/{i}/{at}/{key}"),
                        format!("step \"{}\" has no kernel function \"{f}\"", from.step),
                        Some(suggest(f, descriptions[source].function_names())),
                    ));
                }
                sources.extend(from.event_type().map(|event| (source, event)));
            }
            let routes = binder.bind_all(&edge.to, &format!("/edges/{i}/to"), &mut awaits, &mut problems);
            if edge.from.is_some() {
                let Some((source, event)) = sources.pop() else { continue };
                let path = format!("edges/{i}");
                table.by_source[source + 1].entry(event).or_default().push(guard(loaded, i), i, path, routes);
            } else if sources.len() == edge.all_of.len() && !sources.is_empty() {
                let group = table.all_of.len();
                for (member, (source, event)) in sources.into_iter().enumerate() {
                    let arrive = vec![Route::Arrive { group, member }];
                    let path = format!("edges/{i}/allOf/{member}");
                    table.by_source[source + 1].entry(event).or_default().push(Guard::Always, i, path, arrive);
                }
                let keys = edge.all_of.iter().filter_map(weft_definitions::EdgeSource::key).collect();
                table.all_of.push(AllOfGroup { edge: i, path: format!("edges/{i}").into(), keys, routes });
            }
        }
        // Automatic events are routed by index; guests cannot emit their names, so they leave the map.
        table.automatic = descriptions
            .iter()
            .enumerate()
            .map(|(step, d)| {
                let by_type = &mut table.by_source[step + 1];
                let mut take = |event: String| by_type.remove(&event).unwrap_or_default();
                d.functions.iter().map(|f| (take(on_result(&f.name)), take(on_error(&f.name)))).collect()
            })
            .collect();
        table.awaits = awaits;
        if problems.is_empty() { Ok(table) } else { Err(problems) }
    }
}

/// The guard of edge `i`, its condition as compiled when the definition loaded.
fn guard(loaded: &LoadedDefinition, i: usize) -> Guard {
    match loaded.conditions.get(i).cloned().flatten() {
        Some(condition) => Guard::When(condition),
        None if loaded.definition.edges[i].default => Guard::Default,
        None => Guard::Always,
    }
}

/// How targets bind to a step.
#[derive(Clone, Copy)]
pub enum Shape<'a> {
    /// A component: `function` and `parameter`, with SK's shortcuts.
    Component,
    /// A sub-process: `event`, one of its input events (may be left out when it has one).
    Nested(Nested<'a>),
    /// A map over a component: as a component, but each function called must take one parameter (the
    /// item).
    MapComponent,
    /// A map over a process: `event`, one of its input events (its description's functions).
    MapProcess,
}

struct Binder<'a> {
    loaded: &'a LoadedDefinition,
    descriptions: &'a [&'a StepDescription],
    shapes: &'a [Shape<'a>],
    index: &'a HashMap<&'a str, usize>,
    topics: &'a [String],
}

impl Binder<'_> {
    /// The routes of `targets` (at `pointer`); awaits they open are added to `awaits`.
    fn bind_all(
        &self,
        targets: &[Target],
        pointer: &str,
        awaits: &mut Vec<AwaitRoute>,
        problems: &mut Vec<Diagnostic>,
    ) -> Vec<Route> {
        let mut routes = Vec::with_capacity(targets.len());
        for (j, target) in targets.iter().enumerate() {
            match target {
                Target::Stop(_) => routes.push(Route::Stop),
                Target::Topic(t) => routes.extend(self.topics.iter().position(|n| *n == t.topic).map(Route::Topic)),
                Target::Function(t) => {
                    let delay = t.delay.as_ref().and_then(|d| d.millis());
                    let later = |to| match delay {
                        Some(delay_ms) => Route::Later { to, delay_ms },
                        None => Route::Deliver(to),
                    };
                    let at = format!("{pointer}/{j}");
                    match self.index.get(t.step.as_str()).map(|&i| (i, self.shapes[i])) {
                        Some((_, Shape::Nested(nested))) => match self.nested(t, nested, &at) {
                            Ok(inner) => routes.extend(inner.into_iter().map(|r| match (r, delay) {
                                (Route::Deliver(to), Some(_)) => later(to),
                                (r, _) => r,
                            })),
                            Err(d) => problems.push(d),
                        },
                        _ => match self.bind(t, &at) {
                            Ok(Some(to)) => routes.push(later(to)),
                            Ok(None) => {}
                            Err(d) => problems.push(d),
                        },
                    }
                }
                Target::Await(a) => {
                    let on_timeout =
                        self.bind_all(&a.on_timeout, &format!("{pointer}/{j}/onTimeout"), awaits, problems);
                    let timeout_ms = a.timeout.as_ref().and_then(|d| d.millis());
                    let path = format!("{pointer}/{j}").trim_start_matches('/').into();
                    // Checked when the definition loaded: it compiles.
                    let correlate = a.correlate.as_deref().and_then(|text| Condition::compile(text).ok()).map(Arc::new);
                    awaits.push(AwaitRoute { path, event: a.event.clone(), timeout_ms, on_timeout, correlate });
                    routes.push(Route::Await(awaits.len() - 1));
                }
            }
        }
        routes
    }

    /// Each step's retry policies by function index; a `retries` key naming no function is a problem.
    fn retries(&self, problems: &mut Vec<Diagnostic>) -> Vec<Vec<Option<RetryPolicy>>> {
        let steps = &self.loaded.definition.steps;
        let mut out: Vec<Vec<Option<RetryPolicy>>> =
            self.descriptions.iter().map(|d| vec![None; d.functions.len()]).collect();
        for (i, step) in steps.iter().enumerate() {
            let Some(desc) = self.descriptions.get(i) else { continue };
            for (name, retry) in &step.retries {
                let Some(f) = desc.function(name) else {
                    problems.push(self.loaded.diagnostic(
                        &format!("/steps/{i}/retries/{name}"),
                        format!("step \"{}\" has no kernel function \"{name}\" to retry", step.id),
                        Some(suggest(name, desc.function_names())),
                    ));
                    continue;
                };
                let ms = |d: &Option<weft_definitions::Duration>, default| {
                    d.as_ref().and_then(|d| d.millis()).unwrap_or(default)
                };
                out[i][f] = Some(RetryPolicy {
                    attempts: retry.attempts.max(1),
                    initial_delay_ms: ms(&retry.initial_delay, 1_000),
                    max_delay_ms: ms(&retry.max_delay, 3_600_000),
                });
            }
        }
        out
    }

    /// The routes of a target naming sub-process step `t.step`: those of the input event it names.
    fn nested(&self, t: &FunctionTarget, nested: Nested<'_>, pointer: &str) -> Result<Vec<Route>, Diagnostic> {
        let events = nested.routing.listened(Source::Input);
        let hint = || format!("name one of its input events with `event:` ({})", events.join(", "));
        if t.function.is_some() || t.parameter.is_some() {
            let key = if t.function.is_some() { "function" } else { "parameter" };
            let message =
                format!("step \"{}\" is a sub-process: a target names one of its input events, not a `{key}`", t.step);
            return Err(self.loaded.diagnostic(&format!("{pointer}/{key}"), message, Some(hint())));
        }
        let event = match (&t.event, events.as_slice()) {
            (Some(e), _) => e.as_str(),
            (None, [only]) => only,
            (None, _) => {
                let message = format!(
                    "sub-process step \"{}\" has {} input events; the target must name one",
                    t.step,
                    events.len()
                );
                return Err(self.loaded.diagnostic(pointer, message, Some(hint())));
            }
        };
        if !events.contains(&event) {
            let message = format!("the process of step \"{}\" has no input event \"{event}\"", t.step);
            return Err(self.loaded.diagnostic(
                &format!("{pointer}/event"),
                message,
                Some(suggest(event, events.iter().copied())),
            ));
        }
        Ok(nested.routing.nested_input(nested, event, self.topics))
    }

    /// `Ok(None)` for an unknown step, already reported by the definition checks.
    fn bind(&self, t: &FunctionTarget, pointer: &str) -> Result<Option<Delivery>, Diagnostic> {
        let Some(&step) = self.index.get(t.step.as_str()) else { return Ok(None) };
        let desc = self.descriptions[step];
        let shape = self.shapes[step];
        let err = |key: &str, message: String, hint: String| {
            let at = if key.is_empty() { pointer.to_string() } else { format!("{pointer}/{key}") };
            self.loaded.diagnostic(&at, message, Some(hint))
        };
        // A map over a process takes its input events as its functions.
        let named = match (shape, &t.event, &t.function) {
            (Shape::MapProcess, Some(event), None) => Some(event),
            (Shape::MapProcess, None, Some(_)) => {
                let message = format!("step \"{}\" maps a process: a target names one of its input events", t.step);
                let hint =
                    format!("write `event:` with one of: {}", desc.function_names().collect::<Vec<_>>().join(", "));
                return Err(err("function", message, hint));
            }
            (_, Some(_), _) => {
                let message =
                    format!("`event` names an input event of a sub-process, and step \"{}\" is a component", t.step);
                return Err(err("event", message, "name a kernel function with `function:` instead".into()));
            }
            (_, None, f) => f.as_ref(),
        };
        let function = match named {
            Some(name) => desc.function(name).ok_or_else(|| {
                err(
                    "function",
                    format!("step \"{}\" has no kernel function \"{name}\"", t.step),
                    suggest(name, desc.function_names()),
                )
            })?,
            None if desc.functions.len() == 1 => 0,
            None => {
                return Err(err(
                    "",
                    format!(
                        "step \"{}\" has {} kernel functions; the target must name one",
                        t.step,
                        desc.functions.len()
                    ),
                    format!("add `function:` with one of: {}", desc.function_names().collect::<Vec<_>>().join(", ")),
                ));
            }
        };
        let f = &desc.functions[function];
        if matches!(shape, Shape::MapComponent) && f.params.len() != 1 {
            let message = format!(
                "step \"{}\" is a map: it calls kernel function \"{}\" once per item, with the item as its one \
                 parameter, and \"{}\" has {}",
                t.step,
                f.name,
                f.name,
                f.params.len()
            );
            return Err(err("", message, "map a kernel function of one parameter".into()));
        }
        let param = match &t.parameter {
            Some(name) => Some(f.param(name).ok_or_else(|| {
                let message =
                    format!("kernel function \"{}\" of step \"{}\" has no parameter \"{name}\"", f.name, t.step);
                err("parameter", message, suggest(name, f.param_names()))
            })?),
            None if f.params.len() <= 1 => (!f.params.is_empty()).then_some(0),
            None => {
                return Err(err(
                    "",
                    format!(
                        "kernel function \"{}\" of step \"{}\" has {} parameters; the target must name one",
                        f.name,
                        t.step,
                        f.params.len()
                    ),
                    format!("add `parameter:` with one of: {}", f.param_names().collect::<Vec<_>>().join(", ")),
                ));
            }
        };
        Ok(Some(Delivery { step, function, param }))
    }
}
