//! What the positions in a [`RunState`](super::RunState) mean: the run's steps (sub-processes' steps
//! flattened in) with their kernel functions and parameters, its all-of groups, and each step's resolved
//! configuration. A durable run pins its layout with its definition, so that `weft status`, `list` and
//! `history` read a checkpoint from the store alone (no component compiled, no secret needed), and so that
//! a re-run sees the configuration the run started with, whatever the environment says now
//! (docs/durability.md, "Pinning").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::load::Process;

/// A run's layout; serialised as JSON and kept as a blob by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Process name.
    pub process: String,
    /// Process version.
    pub version: String,
    /// The steps, by index as in the run state.
    pub steps: Vec<StepLayout>,
    /// The all-of groups, by index as in the run state's arrivals.
    pub all_of: Vec<AllOfLayout>,
}

/// One step of a [`Layout`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepLayout {
    /// Step id (`<sub-process step>/<id>` inside a sub-process).
    pub id: String,
    /// SHA-256 of the component it runs (its own, or its map's); none for a sub-process step or a map over
    /// a process.
    pub component: Option<String>,
    /// Its kernel functions, by index.
    pub functions: Vec<FunctionLayout>,
    /// Its configuration values as resolved when the run started (`capabilities.config`; never secrets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// One kernel function of a [`StepLayout`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionLayout {
    /// Its name.
    pub name: String,
    /// Its parameters' names, by index.
    pub params: Vec<String>,
}

/// One all-of group of a [`Layout`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllOfLayout {
    /// Index of its edge in the definition's `edges`.
    pub edge: usize,
    /// Each member's key, `"<step>.<event>"`.
    pub keys: Vec<String>,
}

impl Layout {
    /// The layout of `process`.
    pub fn of(process: &Process) -> Layout {
        let steps = process
            .steps
            .iter()
            .map(|s| StepLayout {
                id: s.id.clone(),
                component: s.component().map(|c| c.digest().to_owned()),
                functions: s
                    .description
                    .functions
                    .iter()
                    .map(|f| FunctionLayout {
                        name: f.name.clone(),
                        params: f.params.iter().map(|p| p.name.clone()).collect(),
                    })
                    .collect(),
                config: s.grants.config.0.clone(),
            })
            .collect();
        let all_of =
            process.routing.all_of().iter().map(|g| AllOfLayout { edge: g.edge, keys: g.keys.clone() }).collect();
        Layout { process: process.name().into(), version: process.loaded.definition.version.clone(), steps, all_of }
    }

    /// Its JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a layout is plain data")
    }

    /// Read a layout back from its JSON text.
    ///
    /// Errors: serde_json's message.
    pub fn from_json(text: &[u8]) -> Result<Layout, String> {
        serde_json::from_slice(text).map_err(|e| e.to_string())
    }

    /// Each step's configuration, by step id: what a re-run resolves its configuration to.
    pub fn config(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, String>)> {
        self.steps.iter().map(|s| (s.id.as_str(), &s.config))
    }
}
