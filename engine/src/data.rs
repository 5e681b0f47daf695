//! [`Json`]: event data, arguments, results and state snapshots as checked JSON text, shared without copying.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::Digest;

/// Deepest nesting of arrays and objects a [`Json`] may have: serde_json's own parser limit, so that every
/// `Json` can also be read as a [`serde_json::Value`].
pub const MAX_DEPTH: usize = 127;

/// Checked JSON text behind an `Arc`: cloning it for fan-out costs a reference count, and it is handed to a
/// guest as text, without re-serialising. Serialises as the JSON it holds (not as a string).
///
/// Invariant: the text is one JSON value (RFC 8259) nested at most [`MAX_DEPTH`] deep.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Json(Arc<RawValue>);

/// Why text is not acceptable as [`Json`].
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON; serde_json's message gives line and column.
    #[error("{0}")]
    Syntax(#[from] serde_json::Error),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("arrays and objects are nested more than {MAX_DEPTH} deep")]
    TooDeep,
}

impl Json {
    /// Check that `text` is one JSON value nested at most [`MAX_DEPTH`] deep, and keep it.
    pub fn parse(text: String) -> Result<Json, JsonError> {
        let raw = RawValue::from_string(text)?;
        if depth(raw.get()) > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        Ok(Json(Arc::from(raw)))
    }

    /// JSON `null` (shared: no allocation after the first).
    pub fn null() -> Json {
        static NULL: std::sync::LazyLock<Json> =
            std::sync::LazyLock::new(|| Json::parse("null".into()).expect("null is JSON"));
        NULL.clone()
    }

    /// The JSON text of `value`. Errors: [`JsonError::TooDeep`].
    pub fn from_value(value: &serde_json::Value) -> Result<Json, JsonError> {
        Json::parse(value.to_string())
    }

    /// The array of `entries` (`null` for `None`), joined as text and checked.
    ///
    /// Errors: [`JsonError::TooDeep`] when an entry is nested [`MAX_DEPTH`] deep.
    pub fn array<'a>(entries: impl IntoIterator<Item = Option<&'a Json>>) -> Result<Json, JsonError> {
        let mut text = String::from("[");
        for (k, entry) in entries.into_iter().enumerate() {
            if k > 0 {
                text.push(',');
            }
            text += entry.map_or("null", Json::as_str);
        }
        text.push(']');
        Json::parse(text)
    }

    /// The object of `members` (`(key, value)`, in order), joined as text and checked.
    ///
    /// Errors: [`JsonError::TooDeep`] when a value is nested [`MAX_DEPTH`] deep.
    pub fn object<'a>(members: impl IntoIterator<Item = (&'a str, &'a Json)>) -> Result<Json, JsonError> {
        let mut text = String::from("{");
        for (k, (key, value)) in members.into_iter().enumerate() {
            if k > 0 {
                text.push(',');
            }
            text += &serde_json::Value::from(key).to_string();
            text.push(':');
            text += value.as_str();
        }
        text.push('}');
        Json::parse(text)
    }

    /// Whether `self` and `other` are the same shared text (one `Arc`), not merely equal: what a copy
    /// that keeps unchanged values checks, at the cost of a pointer comparison.
    pub fn same(&self, other: &Json) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Parsed as a value (allocates; for output and conditions, not for routing).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).expect("Json holds JSON within serde_json's depth limit")
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Json::parse(raw.get().to_owned()).map_err(serde::de::Error::custom)
    }
}

/// Deepest nesting of `[`/`{` in JSON text (which must already be valid JSON), ignoring string contents.
fn depth(text: &str) -> usize {
    let (mut current, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                current += 1;
                deepest = deepest.max(current);
            }
            b']' | b'}' => current = current.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// SHA-256 of `bytes`, as lower-case hex: how Weft names content (components, definitions, arguments).
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Whether `text` has the form of a [`sha256_hex`] digest: 64 hex digits (so it can name a file).
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(depth(r#"{"a":[1,{"b":"[[[\"{{"}]}"#), 3);
        assert_eq!(depth("1"), 0);
    }

    #[test]
    fn too_deep_is_refused_and_the_limit_is_accepted() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(matches!(Json::parse(nested(MAX_DEPTH + 1)), Err(JsonError::TooDeep)));
        let ok = Json::parse(nested(MAX_DEPTH)).unwrap();
        assert!(ok.to_value().is_array());
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(Json::parse("{oops".into()), Err(JsonError::Syntax(_))));
    }
}
