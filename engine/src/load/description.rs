//! What a step component says it offers (its `describe` export), as plain data, checked.

use serde::{Deserialize, Serialize};

use crate::host::StepInfo;

/// A step component's kernel functions, the events it declares and its state version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepDescription {
    /// Kernel functions in declaration order.
    pub functions: Vec<FunctionDescription>,
    /// Events it declares it emits, in declaration order (none from a component that declares none).
    #[serde(default)]
    pub events: Vec<EventDescription>,
    /// Version of the state snapshot layout.
    pub state_version: u32,
}

/// One event a step declares it emits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventDescription {
    /// The event's type, as edges name it.
    pub name: String,
    /// One line for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One kernel function.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionDescription {
    /// Name, unique in the step.
    pub name: String,
    /// One line for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parameters in declaration order.
    pub params: Vec<ParamDescription>,
}

/// One parameter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ParamDescription {
    /// Name, unique in the function.
    pub name: String,
    /// Whether the function waits for it.
    pub required: bool,
    /// JSON Schema of its value, if the step gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
}

impl StepDescription {
    /// Check and convert what a guest's `describe` returned.
    ///
    /// Errors (as text for a diagnostic): no functions, an empty or repeated function, parameter or event
    /// name, a parameter schema that is not JSON.
    pub fn from_guest(info: StepInfo) -> Result<Self, String> {
        if info.functions.is_empty() {
            return Err("it describes no kernel functions".into());
        }
        let mut functions: Vec<FunctionDescription> = Vec::with_capacity(info.functions.len());
        for f in info.functions {
            if f.name.is_empty() || functions.iter().any(|g| g.name == f.name) {
                return Err(format!("it describes the kernel function name \"{}\" twice or empty", f.name));
            }
            let mut params: Vec<ParamDescription> = Vec::with_capacity(f.params.len());
            for p in f.params {
                if p.name.is_empty() || params.iter().any(|q| q.name == p.name) {
                    return Err(format!(
                        "function \"{}\" describes the parameter \"{}\" twice or empty",
                        f.name, p.name
                    ));
                }
                let schema = match p.schema {
                    None => None,
                    Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                        format!("function \"{}\" parameter \"{}\" has a schema that is not JSON: {e}", f.name, p.name)
                    })?),
                };
                params.push(ParamDescription { name: p.name, required: p.required, schema });
            }
            functions.push(FunctionDescription { name: f.name, description: f.description, params });
        }
        let mut events: Vec<EventDescription> = Vec::with_capacity(info.events.len());
        for e in info.events {
            if e.name.is_empty() || events.iter().any(|d| d.name == e.name) {
                return Err(format!("it declares the event \"{}\" twice or empty", e.name));
            }
            events.push(EventDescription { name: e.name, description: e.description });
        }
        Ok(StepDescription { functions, events, state_version: info.state_version })
    }

    /// Index of the function named `name`.
    pub fn function(&self, name: &str) -> Option<usize> {
        self.functions.iter().position(|f| f.name == name)
    }

    /// The function names, for hints.
    pub fn function_names(&self) -> impl Iterator<Item = &str> + Clone {
        self.functions.iter().map(|f| f.name.as_str())
    }
}

impl FunctionDescription {
    /// Index of the parameter named `name`.
    pub fn param(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    /// The parameter names, for hints.
    pub fn param_names(&self) -> impl Iterator<Item = &str> + Clone {
        self.params.iter().map(|p| p.name.as_str())
    }
}
