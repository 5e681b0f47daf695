//! The process-definition model: what a Weft YAML file says, as Rust types.
//!
//! The JSON Schema in `definitions/process.schema.json` is generated from these types
//! (`weft schema`), so a field added here is a field editors can complete.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default for [`Limits::max_supersteps`]: docs/semantics.md, "Ending and statuses".
pub const DEFAULT_MAX_SUPERSTEPS: u64 = 1_000;

/// Most values a parameter queue or an all-of member holds unless `limits.maxQueuedValues` says.
pub const DEFAULT_MAX_QUEUED_VALUES: u64 = 100_000;

/// A process: a named, versioned graph of steps connected by edges.
///
/// ```yaml
/// name: account-opening
/// version: 1.0.0
/// steps:
///   - id: credit
///     component: steps/credit.wasm
/// inputs:
///   - event: NewApplication
///     to: [{ step: credit }]
/// edges:
///   - from: { step: credit, event: Approved }
///     to: [{ step: account, function: create }]
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Weft process definition")]
pub struct ProcessDefinition {
    /// Optional JSON Schema reference for editors; ignored by the engine.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Process name: letters, digits, `-`, `_` and `.`, starting with a letter.
    #[schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9_.-]*$"))]
    pub name: String,
    /// Version of this definition, e.g. `1.0.0`.
    #[schemars(length(min = 1))]
    pub version: String,
    /// What the process does, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The steps, in definition order (which also orders delivery within a superstep).
    #[schemars(length(min = 1))]
    pub steps: Vec<StepDefinition>,
    /// Events the process accepts from outside (SK's `OnInputEvent`), and where each goes.
    #[schemars(length(min = 1))]
    pub inputs: Vec<InputEvent>,
    /// Routing between steps.
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// The process's error handler: where a function error goes when its step has no `error` edge for that
    /// function. The data is `{type, message, step, function}`. Without it, such an error fails the run.
    #[serde(rename = "onError", default, skip_serializing_if = "Vec::is_empty")]
    pub on_error: Vec<Target>,
    /// Where the events sent to each external topic go. A topic without a sink goes to standard output,
    /// with the run's public events (and `weft validate` warns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<Sink>,
    /// Run limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// One step: a WASM component implementing the `weft:step/step` world (`component`), another process
/// definition run as a sub-process (`process`), or a map of either over the items of an array (`map`).
/// A step has exactly one of the three.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDefinition {
    /// Step id, unique in the process: letters, digits, `-` and `_`, starting with a letter.
    #[schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9_-]*$"))]
    pub id: String,
    /// Path of the component (`.wasm`), relative to the definition file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub component: Option<String>,
    /// Path of another process definition (`.yaml`), relative to this one, run as a sub-process: edges send
    /// to its input events (`{ step: kyc, event: Start }`) and its public events rise as events of this
    /// step (docs/semantics.md, "Sub-processes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub process: Option<String>,
    /// A map step: the component or sub-process runs once per item of the array it is sent, and the step
    /// emits each event type its items emitted once, with the array of the items' data in input order
    /// (docs/semantics.md, "Map steps").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapDefinition>,
    /// What the step does, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Initial state snapshot handed to the step's first invocation (any JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// The state-version the initial `state` is written in (default: the component's own); an older one
    /// is migrated by the step on its first invocation.
    #[serde(rename = "stateVersion", default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<u32>,
    /// Retries of kernel functions' errors, by function name: `{ pull: { attempts: 3, initialDelay: 1s } }`.
    /// Between attempts the run waits on a durable timer; only the last failure goes on to error routing.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub retries: std::collections::BTreeMap<String, Retry>,
    /// What one invocation of the step may use, where the engine's defaults do not suit it
    /// (docs/semantics.md, "Limits"). For a map, each item's; for a sub-process, not allowed (its steps
    /// have their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<StepLimits>,
    /// What the step may do besides computing, each denied unless granted here: outbound HTTP to listed
    /// origins, configuration values, secrets (docs/semantics.md, "Capabilities"). For a map, each
    /// item's; for a sub-process, not allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<crate::capabilities::Capabilities>,
}

/// `limits: { timeout: 2s, memory: 64MiB, maxEvents: 100, maxEventSize: 1MiB, maxStateSize: 256KiB }`:
/// overrides of the engine's per-invocation limits for one step; each key left out keeps the engine's
/// default. Hitting one fails the invocation with an error naming the limit and its value, routed like
/// any function error (docs/semantics.md, "Limits").
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StepLimits {
    /// Longest one invocation may run, wall-clock (default `30s`, at most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Most linear memory the step's instance may hold (default `1GiB`, at most `4GiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Size>,
    /// Most events one invocation may emit (default 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub max_events: Option<u32>,
    /// Largest data of one event it emits, its result included (default `16MiB`, at most `1GiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_event_size: Option<Size>,
    /// Largest state snapshot it may keep (default `16MiB`, at most `1GiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_state_size: Option<Size>,
}

/// How to write a [`Duration`], for messages.
pub const DURATION_HINT: &str = "write a whole number and a unit: ms, s, m, h or d, e.g. `72h`";

/// How to write a [`Size`], for messages.
pub const SIZE_HINT: &str = "write a whole number and a unit: B, KB, MB, GB, KiB, MiB or GiB, e.g. `64MiB`";

/// The pattern of a [`Size`] in the schema.
pub const SIZE_PATTERN: &str = r"^[0-9]+(B|KB|MB|GB|KiB|MiB|GiB)$";

/// An amount of bytes: a whole number and a unit, `B`, `KB`, `MB`, `GB` (powers of 1000) or `KiB`, `MiB`,
/// `GiB` (powers of 1024), e.g. `64MiB`, `500KB`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Size(#[schemars(regex(pattern = SIZE_PATTERN))] pub String);

impl Size {
    /// The amount in bytes; `None` when the text does not fit the pattern or overflows.
    pub fn bytes(&self) -> Option<u64> {
        let (number, unit) = number_and_unit(&self.0)?;
        number.checked_mul(match unit {
            "B" => 1,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => return None,
        })
    }
}

/// `text`'s leading whole number and the unit after it: `64MiB` → `(64, "MiB")`; `None` without both.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    Some((number.parse().ok()?, unit))
}

/// What a map step runs once per item: a component or a process, exactly one of the two.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MapDefinition {
    /// Path of the component (`.wasm`) run for each item, relative to the definition file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub component: Option<String>,
    /// Path of a process definition run as its own sub-process for each item, relative to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub process: Option<String>,
    /// State handed to the component for every item (each item starts from it; a map keeps no state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
}

/// What a step is, borrowed from its [`StepDefinition`].
#[derive(Debug, Clone, Copy)]
pub enum StepKind<'a> {
    /// A component, by path.
    Component(&'a str),
    /// A sub-process, by definition path.
    Process(&'a str),
    /// A map of a component or a process.
    Map(&'a MapDefinition),
}

impl StepDefinition {
    /// What the step is; `None` unless it has exactly one of `component`, `process` and `map` (a load
    /// error, reported by the checks).
    pub fn kind(&self) -> Option<StepKind<'_>> {
        match (&self.component, &self.process, &self.map) {
            (Some(c), None, None) => Some(StepKind::Component(c)),
            (None, Some(p), None) => Some(StepKind::Process(p)),
            (None, None, Some(m)) => Some(StepKind::Map(m)),
            _ => None,
        }
    }

    /// The component file it runs, for a component step or a map over one.
    pub fn component_file(&self) -> Option<&str> {
        match self.kind()? {
            StepKind::Component(c) => Some(c),
            StepKind::Map(m) => m.component.as_deref(),
            StepKind::Process(_) => None,
        }
    }

    /// The definition file of the process it runs, for a sub-process or a map over one.
    pub fn process_file(&self) -> Option<&str> {
        match self.kind()? {
            StepKind::Process(p) => Some(p),
            StepKind::Map(m) => m.process.as_deref(),
            StepKind::Component(_) => None,
        }
    }
}

/// How a kernel function's errors are retried: up to `attempts` attempts in all, waiting `initialDelay`
/// before the second, doubling each time up to `maxDelay`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Retry {
    /// Attempts in all, the first included (at least 2 to retry at all).
    #[schemars(range(min = 1, max = 100))]
    pub attempts: u32,
    /// Wait before the second attempt, e.g. `500ms`, `2s`, `1m` (default `1s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<Duration>,
    /// Longest wait between attempts (default `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<Duration>,
}

/// The pattern of a [`Duration`] in the schema.
pub const DURATION_PATTERN: &str = r"^[0-9]+(ms|s|m|h|d)$";

/// A span of time: a whole number and a unit, `ms`, `s`, `m`, `h` or `d` (e.g. `250ms`, `72h`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Duration(#[schemars(regex(pattern = DURATION_PATTERN))] pub String);

impl Duration {
    /// The span in milliseconds; `None` when the text does not fit the pattern or overflows.
    pub fn millis(&self) -> Option<u64> {
        let (number, unit) = number_and_unit(&self.0)?;
        number.checked_mul(match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        })
    }
}

/// An event accepted from outside the process, and its targets.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputEvent {
    /// Event type, e.g. `NewApplication` (the CloudEvent's `type`).
    #[schemars(length(min = 1))]
    pub event: String,
    /// Where the event's data goes.
    #[schemars(length(min = 1))]
    pub to: Vec<Target>,
}

/// "When this happens at step S, send the data to these targets."
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// What fires the edge: one event of one step. An edge has either `from` or `allOf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<EdgeSource>,
    /// An all-of group: the edge fires once every listed event has arrived, with an object of their data
    /// keyed `"<step>.<event>"` (e.g. `{"credit.Approved": ..., "fraud.Cleared": ...}`), then waits for
    /// a full set again; arrivals queue per source, first in first out, like parameter values.
    #[serde(default, rename = "allOf", skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 2))]
    pub all_of: Vec<EdgeSource>,
    /// A condition in jq over `{data, event}` (the event's data and its CloudEvent attributes `type`,
    /// `source`, `id`, `time`): the edge fires only when the expression's first output is `true`, e.g.
    /// `.data.score >= 700`. Compiled when the definition loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// `true`: the edge fires only when no `when` edge on the same source matched the event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Where the data goes.
    #[schemars(length(min = 1))]
    pub to: Vec<Target>,
}

impl Edge {
    /// Its sources with their JSON pointers below the edge (`from`, `allOf/0`, ...).
    pub fn sources(&self) -> impl Iterator<Item = (String, &EdgeSource)> {
        let from = self.from.iter().map(|s| ("from".to_string(), s));
        from.chain(self.all_of.iter().enumerate().map(|(i, s)| (format!("allOf/{i}"), s)))
    }
}

/// The source of an edge: a step and exactly one of `event`, `result` or `error`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeSource {
    /// Id of the step the event comes from.
    pub step: String,
    /// An event the step emits with `ctx.emit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// A kernel function whose return value fires the edge (the event `F.OnResult`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// A kernel function whose failure fires the edge (the event `F.OnError`, data `{type, message, step, function}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where an event's data goes: a parameter of a kernel function (now or after a delay), `stop`, or an
/// await of an external event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Target {
    /// `stop`: end the run as stopped; no later superstep runs.
    Stop(StopTarget),
    /// A parameter of a kernel function of a step.
    Function(FunctionTarget),
    /// Wait for an external event.
    Await(AwaitTarget),
    /// Send the data out of the process to an external topic.
    Topic(TopicTarget),
}

/// `{ topic: OrderPlaced }`: the data leaves the process as a CloudEvent of type `OrderPlaced` (with the
/// extension attribute `wefttopic`), delivered to the topic's sink (SK's proxy step and external topics).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicTarget {
    /// The topic's name.
    #[schemars(length(min = 1))]
    pub topic: String,
}

/// `{ topic: OrderPlaced, to: { file: orders.jsonl } }`: where the events of one topic go.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sink {
    /// The topic's name, as edges' `topic` targets name it.
    #[schemars(length(min = 1))]
    pub topic: String,
    /// Where its events go.
    pub to: SinkTo,
}

/// A sink: standard output, a file, or a webhook.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SinkTo {
    /// `stdout`: as CloudEvents JSON lines on standard output, with the run's public events.
    Stdout(StdoutSink),
    /// `{ file: PATH }`: appended as CloudEvents JSON lines to a file (relative to the definition).
    File(FileSink),
    /// `{ webhook: URL }`: each event POSTed to the URL as a structured-mode CloudEvent.
    Webhook(WebhookSink),
}

/// The word `stdout`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StdoutSink {
    /// Standard output.
    Stdout,
}

/// `{ file: PATH }`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSink {
    /// The file, relative to the definition file; created if missing, appended to.
    #[schemars(length(min = 1))]
    pub file: String,
}

/// The pattern of a webhook's URL in the schema: `http` or `https`, then a host.
pub const WEBHOOK_URL_PATTERN: &str = r"^https?://[^\s/?#]+(/[^\s]*)?$";

/// `{ webhook: URL, attempts: 5, timeout: 10s }`: each event of the topic is POSTed to `URL` as a
/// structured-mode CloudEvent (`Content-Type: application/cloudevents+json`, CloudEvents HTTP protocol
/// binding 1.0.2, section 3.2), one at a time and in order, by a worker beside the run (the run never
/// waits for it). A 2xx response delivers the event; a refused connection, a timeout, 408, 429 or a
/// 5xx is retried after 100 ms, doubling up to 5 s; any other status is a refusal that is not retried
/// (docs/semantics.md, "External topics").
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSink {
    /// The URL, `http://` or `https://`.
    #[schemars(regex(pattern = WEBHOOK_URL_PATTERN))]
    pub webhook: String,
    /// Attempts per event in all, the first included (default 5). When they are used up, the event and
    /// those after it stay undelivered until the instance is next driven (`weft resume ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub attempts: Option<u32>,
    /// How long one attempt may take, connection included, e.g. `500ms`, `10s` (default `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// `{ await: AgentReplied, timeout: 72h, onTimeout: [...] }`: the run waits for the input event `await`,
/// which `weft send` delivers (routed like any input event). If `timeout` passes first, the data that
/// opened the await goes to `onTimeout` instead (docs/semantics.md, "Waiting, timers and retries").
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwaitTarget {
    /// The awaited event: one of the process's input events.
    #[serde(rename = "await")]
    #[schemars(length(min = 1))]
    pub event: String,
    /// How long to wait; none waits for ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Where the data that opened the await goes when the timeout passes first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_timeout: Vec<Target>,
    /// A correlation key: a jq expression over `{"data": ...}`, the data that opened the await, whose
    /// first output (a string or a number) is the key. An event addressed to the process (not to an
    /// instance) whose type is this awaited event and whose CloudEvent `subject` is the key goes to the one
    /// instance awaiting it, e.g. `correlate: .data.ticketId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub correlate: Option<String>,
}

/// The word `stop`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StopTarget {
    /// End the run as stopped.
    Stop,
}

/// `{step, function, parameter}`; `function` may be left out when the step has one kernel function, and
/// `parameter` when the function has at most one parameter (docs/semantics.md, "Binding shortcuts").
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionTarget {
    /// Id of the target step.
    pub step: String,
    /// For a sub-process step (or a map over a process): which of the process's input events to send,
    /// which may be left out when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Kernel function of that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Parameter of that function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// Deliver after this long (a durable timer), e.g. `10m`; default at once (the next superstep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
}

/// Limits on one run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// Supersteps after which the run fails (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_supersteps: Option<u64>,
    /// Most values one parameter queue, or one member of an all-of group, may hold waiting for the rest
    /// of its set; more fails the run with `message-limit` (default 100000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_queued_values: Option<u64>,
}

impl ProcessDefinition {
    /// Every external topic its targets name, in order of first appearance.
    pub fn topics(&self) -> Vec<String> {
        fn walk(targets: &[Target], out: &mut Vec<String>) {
            for target in targets {
                match target {
                    Target::Topic(t) if !out.contains(&t.topic) => out.push(t.topic.clone()),
                    Target::Await(a) => walk(&a.on_timeout, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for input in &self.inputs {
            walk(&input.to, &mut out);
        }
        for edge in &self.edges {
            walk(&edge.to, &mut out);
        }
        walk(&self.on_error, &mut out);
        out
    }

    /// The superstep limit in force: [`Limits::max_supersteps`] or [`DEFAULT_MAX_SUPERSTEPS`].
    pub fn max_supersteps(&self) -> u64 {
        self.limits.as_ref().and_then(|l| l.max_supersteps).unwrap_or(DEFAULT_MAX_SUPERSTEPS)
    }

    /// The bound on waiting values in force: [`Limits::max_queued_values`] or [`DEFAULT_MAX_QUEUED_VALUES`].
    pub fn max_queued_values(&self) -> u64 {
        self.limits.as_ref().and_then(|l| l.max_queued_values).unwrap_or(DEFAULT_MAX_QUEUED_VALUES)
    }
}

impl EdgeSource {
    /// The key of this source's data in an all-of group's object: `"<step>.<event type>"`.
    pub fn key(&self) -> Option<String> {
        self.event_type().map(|e| format!("{}.{e}", self.step))
    }

    /// The event type this source listens to: `event`, `F.OnResult` or `F.OnError` (docs/semantics.md,
    /// "Automatic events"). `None` unless exactly one of the three is given.
    pub fn event_type(&self) -> Option<String> {
        match (&self.event, &self.result, &self.error) {
            (Some(e), None, None) => Some(e.clone()),
            (None, Some(f), None) => Some(on_result(f)),
            (None, None, Some(f)) => Some(on_error(f)),
            _ => None,
        }
    }
}

/// Suffix of the automatic event carrying a function's return value (docs/semantics.md, "Automatic events").
pub const ON_RESULT: &str = ".OnResult";
/// Suffix of the automatic event carrying a function's failure.
pub const ON_ERROR: &str = ".OnError";

/// The automatic event carrying function `function`'s return value: `function.OnResult`.
pub fn on_result(function: &str) -> String {
    format!("{function}{ON_RESULT}")
}

/// The automatic event carrying function `function`'s failure: `function.OnError`.
pub fn on_error(function: &str) -> String {
    format!("{function}{ON_ERROR}")
}
