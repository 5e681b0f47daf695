//! The JSON Schema of a process definition, generated from [`crate::model`], and validation against it
//! with every error placed at `file:line:column`.

use std::path::Path;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::error::{Diagnostic, suggest};
use crate::model::ProcessDefinition;
use crate::source::{SourceMap, escape};

/// The JSON Schema (draft 2020-12) of [`ProcessDefinition`], as committed in `definitions/process.schema.json`.
pub fn json_schema() -> Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(ProcessDefinition)).expect("a generated schema is plain JSON");
    schema["$id"] = Value::String("https://weft.dev/schemas/process.schema.json".into());
    schema
}

/// [`json_schema`] as pretty JSON text with a final newline: the committed file's exact content.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("a generated schema is plain JSON");
    text.push('\n');
    text
}

/// The committed schema's text (`definitions/process.schema.json`, kept equal to [`json_schema_text`] by a
/// test): what a [`Memo`] keys what it remembers by, so that nothing accepted under another schema counts.
pub const SCHEMA_TEXT: &str = include_str!("../process.schema.json");

/// What a caller remembers of definition texts the schema accepted before, with their documents, so that
/// they are neither parsed nor validated again: parsing YAML costs ~8 µs per step of a definition, and
/// compiling the validator a few milliseconds of every command. Parsing and validation are functions of
/// the text and the schema alone, so a text accepted once is accepted again, as the same document.
pub trait Memo {
    /// The document of `text` as remembered when the schema accepted it (the JSON text [`exact_json`]
    /// gave), or `None`. Anything that does not read back as a definition is ignored: the text is then
    /// parsed and validated afresh.
    fn accepted(&self, text: &str) -> Option<Vec<u8>>;
    /// Remember that the schema accepted `text`, whose document is `document`.
    fn accept(&self, text: &str, document: &Value);
}

/// Remembers nothing: every text is parsed and validated.
pub struct NoMemo;

impl Memo for NoMemo {
    fn accepted(&self, _: &str) -> Option<Vec<u8>> {
        None
    }

    fn accept(&self, _: &str, _: &Value) {}
}

/// `document` as JSON text that reads back as exactly `document`, or `None` when it would not (serde_json
/// may read a few decimal numbers back one unit in the last place off; such a document is not
/// remembered, and its text is parsed every time).
pub fn exact_json(document: &Value) -> Option<Vec<u8>> {
    let json = serde_json::to_vec(document).ok()?;
    let back: Value = serde_json::from_slice(&json).ok()?;
    (back == *document).then_some(json)
}

/// The schema and its compiled validator, made once.
fn compiled() -> &'static (Value, Validator) {
    static COMPILED: OnceLock<(Value, Validator)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = json_schema();
        let validator = jsonschema::validator_for(&schema).expect("the generated schema is valid");
        (schema, validator)
    })
}

/// Validate a parsed document against the schema; one diagnostic per problem, in document order.
pub fn validate(document: &Value, map: &SourceMap, file: &Path) -> Vec<Diagnostic> {
    let (schema, validator) = compiled();
    let mut out = Vec::new();
    for error in validator.iter_errors(document) {
        describe(&error, schema, document, map, file, &mut out);
    }
    out.sort_by_key(|d| (d.position.line, d.position.column));
    out
}

fn describe(
    error: &ValidationError<'_>,
    schema: &Value,
    document: &Value,
    map: &SourceMap,
    file: &Path,
    out: &mut Vec<Diagnostic>,
) {
    let pointer = error.instance_path().as_str().to_string();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(schema, document, &pointer);
            for key in unexpected {
                let child = format!("{pointer}/{}", escape(key));
                out.push(Diagnostic {
                    file: file.to_path_buf(),
                    position: map.key(&child),
                    pointer: child,
                    message: format!("unknown key \"{key}\""),
                    hint: Some(if key == "map" && pointer.ends_with("/map") {
                        "a map may not run another map: map a component, or a process that has the inner map".into()
                    } else {
                        suggest(key, allowed.iter().map(String::as_str))
                    }),
                });
            }
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context }
            if !context.is_empty() =>
        {
            // Report the one alternative whose type fits, if exactly one does; otherwise the alternatives.
            let fitting: Vec<&Vec<ValidationError<'_>>> = context
                .iter()
                .filter(|branch| {
                    // A branch fits when the value has its shape (type, const, enum, nested alternatives);
                    // its remaining errors (unknown or missing keys, bad fields) are then the real ones.
                    !branch.iter().any(|e| {
                        e.instance_path().as_str() == pointer
                            && matches!(
                                e.kind(),
                                ValidationErrorKind::Type { .. }
                                    | ValidationErrorKind::Enum { .. }
                                    | ValidationErrorKind::Constant { .. }
                                    | ValidationErrorKind::AnyOf { .. }
                                    | ValidationErrorKind::OneOfNotValid { .. }
                            )
                    })
                })
                .collect();
            // Of several fitting branches, the one with the fewest errors is what the author meant
            // (`{step, paramter}` is a function target with a misspelt key, not an await missing `await`).
            let fewest = fitting.iter().map(|b| b.len()).min().unwrap_or(0);
            let closest: Vec<&&Vec<ValidationError<'_>>> = fitting.iter().filter(|b| b.len() == fewest).collect();
            if let [branch] = closest.as_slice() {
                for e in branch.iter() {
                    describe(e, schema, document, map, file, out);
                }
            } else {
                let options: Vec<String> = context.iter().flatten().map(quoting_shortly).collect();
                // An optional key's `null` alternative says nothing about a value that is there.
                let present: Vec<String> =
                    options.iter().filter(|o| !o.ends_with("is not of type \"null\"")).cloned().collect();
                let options = if present.is_empty() { options } else { present };
                let (message, hint) = match options.as_slice() {
                    [only] => (only.clone(), None),
                    _ => (
                        format!("{} fits none of the allowed forms", short(error.instance())),
                        Some(options.join("; or ")),
                    ),
                };
                out.push(Diagnostic {
                    file: file.to_path_buf(),
                    position: map.value(&pointer),
                    message,
                    hint,
                    pointer,
                });
            }
        }
        ValidationErrorKind::Pattern { pattern } if let Some((what, hint)) = pattern_meaning(pattern) => {
            out.push(Diagnostic {
                file: file.to_path_buf(),
                position: map.value(&pointer),
                message: format!("{} is not {what}", short(error.instance())),
                hint: Some(hint.into()),
                pointer,
            })
        }
        // A file whose top level is no mapping is not a definition at all: said without quoting it (it may
        // be any file the server can read, named in `POST /deployments`).
        ValidationErrorKind::Type { .. } if pointer.is_empty() => out.push(Diagnostic {
            file: file.to_path_buf(),
            position: map.value(&pointer),
            pointer,
            message: format!("this is not a process definition: its top level is {}", kind(error.instance())),
            hint: Some("a definition is a YAML mapping with name, version, steps and inputs".into()),
        }),
        _ => out.push(Diagnostic {
            file: file.to_path_buf(),
            position: map.value(&pointer),
            pointer,
            message: quoting_shortly(error),
            hint: None,
        }),
    }
}

/// `error`'s message with the value it starts with (jsonschema's messages quote the whole value) cut to
/// [`short`]'s length.
fn quoting_shortly(error: &ValidationError<'_>) -> String {
    let message = error.to_string();
    let quoted = error.instance().to_string();
    match message.strip_prefix(&quoted) {
        Some(rest) if quoted.chars().count() > 40 => format!("{}{rest}", short(error.instance())),
        _ => message,
    }
}

/// What kind of JSON value `value` is, with its article: "a string", "a list", ….
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// What a value that fails `pattern` should have been, and how to write one; for the model's patterns.
fn pattern_meaning(pattern: &str) -> Option<(&'static str, &'static str)> {
    match pattern {
        crate::model::DURATION_PATTERN => Some(("a duration", crate::model::DURATION_HINT)),
        crate::model::SIZE_PATTERN => Some(("a size", crate::model::SIZE_HINT)),
        crate::model::WEBHOOK_URL_PATTERN => {
            Some(("an http or https URL", "e.g. `https://hooks.example.com/orders` or `http://127.0.0.1:8080/events`"))
        }
        _ => None,
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
}

/// Keys allowed by the schema for the object at `pointer`, following `$ref`, `items`, `properties` and the
/// branches of `anyOf`/`oneOf` along the instance path.
fn allowed_keys(schema: &Value, document: &Value, pointer: &str) -> Vec<String> {
    let mut nodes = vec![schema];
    let mut instance = document;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let mut next = Vec::new();
        for node in nodes.iter().flat_map(|n| expand(schema, n)) {
            let child = if instance.is_array() {
                node.get("items")
            } else {
                node.get("properties").and_then(|p| p.get(&token))
            };
            next.extend(child);
        }
        nodes = next;
        instance = match instance {
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)).unwrap_or(&Value::Null),
            Value::Object(o) => o.get(&token).unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    let mut keys: Vec<String> = nodes
        .iter()
        .flat_map(|n| expand(schema, n))
        .filter_map(|n| n.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    keys.dedup();
    keys
}

/// A schema node with its `$ref` resolved and its `anyOf`/`oneOf` branches listed.
fn expand<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    let node = match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(path) => root.pointer(path).unwrap_or(node),
        None => node,
    };
    let mut out = vec![node];
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = node.get(key).and_then(Value::as_array) {
            out.extend(branches.iter().flat_map(|b| expand(root, b)));
        }
    }
    out
}
