//! YAML text → JSON value plus a source map, so that every later error can name `file:line:column`.
//!
//! Parsing uses saphyr (YAML 1.2, core schema): a plain `42` is an integer, `true` a boolean,
//! `~`/`null` null. Anchors and aliases are expanded by the parser (an alias's positions are those of
//! the alias).

use std::collections::HashMap;
use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};

/// A position in a file: line and column, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl From<&saphyr::Marker> for Position {
    fn from(m: &saphyr::Marker) -> Self {
        Position { line: m.line(), column: m.col() + 1 }
    }
}

/// Where each value and each mapping key of a document stands, by JSON Pointer (RFC 6901):
/// `/edges/0/to/1/function` is the `function` of the second target of the first edge.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

impl SourceMap {
    /// Position of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn value(&self, pointer: &str) -> Position {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Position { line: 1, column: 1 },
            }
        }
    }

    /// Position of the mapping key whose value is at `pointer` (falls back to [`SourceMap::value`]).
    pub fn key(&self, pointer: &str) -> Position {
        self.keys.get(pointer).copied().unwrap_or_else(|| self.value(pointer))
    }
}

/// A YAML syntax error or a construct a definition may not use.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// Where.
    pub position: Position,
    /// What, in the parser's words.
    pub message: String,
}

/// Parse one YAML document into JSON, recording positions.
///
/// Errors: malformed YAML (with the parser's position), an empty file, several documents, a non-scalar
/// mapping key, or a float that JSON cannot hold (`.nan`, `.inf`).
pub fn parse_yaml(text: &str) -> Result<(Value, SourceMap), SyntaxError> {
    nesting(text)?;
    let docs = MarkedYaml::load_from_str(text)
        .map_err(|e| SyntaxError { position: e.marker().into(), message: e.info().to_string() })?;
    let mut docs = docs.into_iter();
    let Some(doc) = docs.next() else {
        return Err(SyntaxError {
            position: Position { line: 1, column: 1 },
            message: "the file holds no YAML document; a process definition starts with `name:`".into(),
        });
    };
    if let Some(extra) = docs.next() {
        return Err(SyntaxError {
            position: (&extra.span.start).into(),
            message: "a second YAML document (`---`) follows; a file holds one process definition".into(),
        });
    }
    let mut map = SourceMap::default();
    let value = convert(&doc, String::new(), &mut map, 0)?;
    Ok((value, map))
}

/// Deepest nesting of lists and mappings a definition may have: twice that of event data and state
/// (127), so that a too-deep initial state is still refused at its place by the state check. It bounds
/// the recursion of saphyr's loader and of every later pass (found by the bad-input corpus: 3,000 nested
/// block mappings overflowed the stack).
pub const MAX_DEPTH: usize = 256;

/// Refuse text whose lists and mappings nest deeper than [`MAX_DEPTH`], reading the parser's events
/// (no recursion); a malformed text passes, for the loader to report.
fn nesting(text: &str) -> Result<(), SyntaxError> {
    use saphyr_parser::{Event, Parser};
    let mut depth = 0usize;
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { return Ok(()) };
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err(SyntaxError {
                position: (&span.start).into(),
                message: format!("lists and mappings nest deeper than {MAX_DEPTH} levels here"),
            });
        }
    }
    Ok(())
}

fn convert(node: &MarkedYaml<'_>, pointer: String, map: &mut SourceMap, depth: usize) -> Result<Value, SyntaxError> {
    let position: Position = (&node.span.start).into();
    let fail = |message: String| SyntaxError { position, message };
    // `nesting` measured the text; an alias can still put a deep node deep inside another.
    if depth > MAX_DEPTH {
        return Err(fail(format!("lists and mappings nest deeper than {MAX_DEPTH} levels here")));
    }
    let value = match &node.data {
        YamlData::Value(s) => scalar(s).map_err(fail)?,
        YamlData::Representation(text, _, _) => scalar(&Scalar::parse_from_cow(text.clone())).map_err(fail)?,
        YamlData::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(item, format!("{pointer}/{i}"), map, depth + 1)?);
            }
            Value::Array(out)
        }
        YamlData::Mapping(entries) => {
            let mut out = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let key = match &k.data {
                    YamlData::Value(s) => match scalar(s).map_err(fail)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    },
                    YamlData::Representation(text, _, _) => text.to_string(),
                    _ => {
                        return Err(SyntaxError {
                            position: (&k.span.start).into(),
                            message: "a mapping key must be a plain word, not a list or a mapping".into(),
                        });
                    }
                };
                let child = format!("{pointer}/{}", escape(&key));
                map.keys.insert(child.clone(), (&k.span.start).into());
                let v = convert(v, child, map, depth + 1)?;
                out.insert(key, v);
            }
            Value::Object(out)
        }
        YamlData::Tagged(_, inner) => return convert(inner, pointer, map, depth),
        // The loader expands aliases, so neither of these is expected; both are refused, not guessed at.
        YamlData::Alias(_) | YamlData::BadValue => return Err(fail("this value could not be read".into())),
    };
    map.values.insert(pointer, position);
    Ok(value)
}

fn scalar(s: &Scalar<'_>) -> Result<Value, String> {
    Ok(match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map(Value::Number)
            .ok_or_else(|| format!("{} cannot be represented in JSON; use a finite number", f.into_inner()))?,
        Scalar::String(s) => Value::String(s.to_string()),
    })
}

/// Escape one JSON Pointer reference token (RFC 6901, section 3).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_positions_of_values_and_keys() {
        let (v, map) = parse_yaml("name: x\nsteps:\n  - id: a\n    n: 3\n").unwrap();
        assert_eq!(v["steps"][0]["n"], 3);
        assert_eq!(map.value("/steps/0/n"), Position { line: 4, column: 8 });
        assert_eq!(map.key("/steps/0/n"), Position { line: 4, column: 5 });
        assert_eq!(map.value("/steps/0/n/deeper"), Position { line: 4, column: 8 });
    }

    #[test]
    fn reports_malformed_yaml_with_position() {
        let err = parse_yaml("name: x\nsteps: [a, b\n").unwrap_err();
        assert!(err.position.line >= 2, "{err:?}");
    }

    #[test]
    fn expands_aliases() {
        let (v, _) = parse_yaml("a: &x { n: 1 }\nb: *x\n").unwrap();
        assert_eq!(v["b"]["n"], 1);
    }

    #[test]
    fn refuses_non_finite_numbers_and_second_documents() {
        assert!(parse_yaml("a: .nan\n").unwrap_err().message.contains("finite"));
        assert!(parse_yaml("a: 1\n---\nb: 2\n").unwrap_err().message.contains("second YAML document"));
        assert!(parse_yaml("").unwrap_err().message.contains("no YAML document"));
    }
}
