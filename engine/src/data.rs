//! [`Json`]: event data, arguments, results and state snapshots as checked JSON text, shared without copying.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Checked JSON text behind an `Arc`: cloning it for fan-out costs a reference count, and it crosses into a
/// guest as the text it already is. Serialises as the JSON it holds (not as a string).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json(Arc<RawValue>);

impl Json {
    /// Check that `text` is one JSON value and keep it. Errors: serde_json's, with line and column.
    pub fn parse(text: String) -> Result<Json, serde_json::Error> {
        RawValue::from_string(text).map(|raw| Json(Arc::from(raw)))
    }

    /// JSON `null`.
    pub fn null() -> Json {
        Json::from_value(&serde_json::Value::Null)
    }

    /// The JSON text of `value`.
    pub fn from_value(value: &serde_json::Value) -> Json {
        let raw = serde_json::value::to_raw_value(value).expect("a serde_json::Value always serialises");
        Json(Arc::from(raw))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Parsed as a value (allocates; for output and conditions, not for routing).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).expect("Json holds checked JSON")
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
