//! The process-definition model: what a Weft YAML file says, as Rust types.
//!
//! The JSON Schema in `definitions/process.schema.json` is generated from these types
//! (`weft schema`), so a field added here is a field editors can complete.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default for [`Limits::max_supersteps`]: SEMANTICS.md, "Ending".
pub const DEFAULT_MAX_SUPERSTEPS: u64 = 1_000;

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
    /// Run limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// One step: a WASM component implementing the `weft:step/step` world.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDefinition {
    /// Step id, unique in the process: letters, digits, `-` and `_`, starting with a letter.
    #[schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9_-]*$"))]
    pub id: String,
    /// Path of the component (`.wasm`), relative to the definition file.
    #[schemars(length(min = 1))]
    pub component: String,
    /// What the step does, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Initial state snapshot handed to the step's first invocation (any JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
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
    /// What fires the edge.
    pub from: EdgeSource,
    /// Where the data goes.
    #[schemars(length(min = 1))]
    pub to: Vec<Target>,
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

/// Where an event's data goes: a parameter of a kernel function, or `stop`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Target {
    /// `stop`: end the run as stopped; no later superstep runs.
    Stop(StopTarget),
    /// A parameter of a kernel function of a step.
    Function(FunctionTarget),
}

/// The word `stop`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StopTarget {
    /// End the run as stopped.
    Stop,
}

/// `{step, function, parameter}`; `function` may be left out when the step has one kernel function, and
/// `parameter` when the function has at most one parameter (SEMANTICS.md, "Events and routing", rule 6).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionTarget {
    /// Id of the target step.
    pub step: String,
    /// Kernel function of that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Parameter of that function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

/// Limits on one run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// Supersteps after which the run fails (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_supersteps: Option<u64>,
}

impl ProcessDefinition {
    /// The superstep limit in force: [`Limits::max_supersteps`] or [`DEFAULT_MAX_SUPERSTEPS`].
    pub fn max_supersteps(&self) -> u64 {
        self.limits.as_ref().and_then(|l| l.max_supersteps).unwrap_or(DEFAULT_MAX_SUPERSTEPS)
    }
}

impl EdgeSource {
    /// The event type this source listens to: `event`, `F.OnResult` or `F.OnError`
    /// (SEMANTICS.md, rule 2). `None` when not exactly one of the three is given.
    pub fn event_type(&self) -> Option<String> {
        match (&self.event, &self.result, &self.error) {
            (Some(e), None, None) => Some(e.clone()),
            (None, Some(f), None) => Some(on_result(f)),
            (None, None, Some(f)) => Some(on_error(f)),
            _ => None,
        }
    }
}

/// Suffix of the automatic event carrying a function's return value (SEMANTICS.md rule 2).
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
