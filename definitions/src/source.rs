//! YAML text → JSON value plus a source map, so that every later error can name `file:line:column`.
//!
//! Parsing uses saphyr (YAML 1.2, core schema): a plain `42` is an integer, `true` a boolean,
//! `~`/`null` null. Anchors and aliases are expanded by the parser (an alias's positions are those of
//! the alias).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use saphyr::{MarkedYaml, Scalar, YamlData, YamlLoader};
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
///
/// Positions are needed only to place a diagnostic, so they are found on the first question, by reading
/// the text again; a definition that loads without one never pays for them.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    text: Arc<str>,
    positions: OnceLock<Positions>,
}

#[derive(Debug, Clone, Default)]
struct Positions {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

impl SourceMap {
    /// The positions in `text`, a document [`parse_yaml`] accepted (they are found when first asked for).
    pub(crate) fn of(text: &str) -> Self {
        SourceMap { text: Arc::from(text), positions: OnceLock::new() }
    }

    fn positions(&self) -> &Positions {
        self.positions.get_or_init(|| {
            let mut positions = Positions::default();
            // The text was accepted once, so it loads again; were it not to, no position is known.
            if let Ok(doc) = document(&self.text) {
                place(&doc, &mut String::new(), &mut positions);
            }
            positions
        })
    }

    /// Position of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn value(&self, pointer: &str) -> Position {
        let values = &self.positions().values;
        let mut p = pointer;
        loop {
            if let Some(pos) = values.get(p) {
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
        self.positions().keys.get(pointer).copied().unwrap_or_else(|| self.value(pointer))
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
/// Errors: malformed YAML (with the parser's position), an empty file, several documents, lists and
/// mappings nested deeper than [`MAX_DEPTH`], a non-scalar mapping key, or a float that JSON cannot hold
/// (`.nan`, `.inf`).
pub fn parse_yaml(text: &str) -> Result<(Value, SourceMap), SyntaxError> {
    let doc = document(text)?;
    let value = convert(&doc, 0)?;
    Ok((value, SourceMap::of(text)))
}

/// How this module reads YAML into a JSON document: saphyr's versions, then this module's own revision of
/// [`parse_yaml`]'s conversion (bump it on any change of what a text reads as). What remembers documents
/// keys them by it (the engine's definition memo, [`crate::schema::Memo`]), so that a Weft that would read
/// a text otherwise parses it afresh. A test holds the saphyr part to `Cargo.lock`.
pub const DOCUMENT_FORMAT: &str = "saphyr 0.3.3, saphyr-parser 0.3.3, conversion 1";

/// Deepest nesting of lists and mappings a definition may have: twice that of event data and state
/// (127), so that a too-deep initial state is still refused at its place by the state check. It bounds
/// the recursion of every pass over the tree (found by the bad-input corpus: 3,000 nested block mappings
/// overflowed the stack).
pub const MAX_DEPTH: usize = 256;

/// The one document of `text`, read in one pass over the parser's events, which are counted on the way:
/// text whose lists and mappings nest deeper than [`MAX_DEPTH`] is refused at the event that goes too
/// deep, before any tree is built that deep. (saphyr's own `Parser::load` recurses once per level, so the
/// events are fed to its loader here, which keeps its own stack.)
fn document(text: &str) -> Result<MarkedYaml<'_>, SyntaxError> {
    use saphyr_parser::{Event, Parser, SpannedEventReceiver};
    let scan = |e: &saphyr::ScanError| SyntaxError { position: e.marker().into(), message: e.info().to_string() };
    let mut loader = YamlLoader::<MarkedYaml<'_>>::default();
    let mut depth = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| scan(&e))?;
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
        loader.on_event(event, span);
        if let Some(e) = loader.error() {
            return Err(scan(e));
        }
    }
    let mut docs = loader.into_documents().into_iter();
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
    Ok(doc)
}

fn convert(node: &MarkedYaml<'_>, depth: usize) -> Result<Value, SyntaxError> {
    let position: Position = (&node.span.start).into();
    let fail = |message: String| SyntaxError { position, message };
    // The events were counted; an alias can still put a deep node deep inside another.
    if depth > MAX_DEPTH {
        return Err(fail(format!("lists and mappings nest deeper than {MAX_DEPTH} levels here")));
    }
    Ok(match &node.data {
        YamlData::Value(s) => scalar(s).map_err(fail)?,
        YamlData::Representation(text, _, _) => scalar(&Scalar::parse_from_cow(text.clone())).map_err(fail)?,
        YamlData::Sequence(items) => {
            Value::Array(items.iter().map(|item| convert(item, depth + 1)).collect::<Result<_, _>>()?)
        }
        YamlData::Mapping(entries) => {
            let mut out = Map::with_capacity(entries.len());
            for (k, v) in entries {
                out.insert(key(k)?, convert(v, depth + 1)?);
            }
            Value::Object(out)
        }
        YamlData::Tagged(_, inner) => return convert(inner, depth),
        // The loader expands aliases, so neither of these is expected; both are refused, not guessed at.
        YamlData::Alias(_) | YamlData::BadValue => return Err(fail("this value could not be read".into())),
    })
}

/// The text of mapping key `k`, as a JSON object key.
fn key(k: &MarkedYaml<'_>) -> Result<String, SyntaxError> {
    let position = (&k.span.start).into();
    match &k.data {
        YamlData::Value(s) => match scalar(s).map_err(|message| SyntaxError { position, message })? {
            Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        },
        YamlData::Representation(text, _, _) => Ok(text.to_string()),
        _ => {
            Err(SyntaxError { position, message: "a mapping key must be a plain word, not a list or a mapping".into() })
        }
    }
}

/// Record the positions of `node` (at `pointer`, left as it was found) and of everything under it. The
/// document was converted already, so every key converts and no node is too deep.
fn place(node: &MarkedYaml<'_>, pointer: &mut String, positions: &mut Positions) {
    let at = pointer.len();
    match &node.data {
        YamlData::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                use std::fmt::Write;
                let _ = write!(pointer, "/{i}");
                place(item, pointer, positions);
                pointer.truncate(at);
            }
        }
        YamlData::Mapping(entries) => {
            for (k, v) in entries {
                let Ok(name) = key(k) else { continue };
                pointer.push('/');
                pointer.push_str(&escape(&name));
                positions.keys.insert(pointer.clone(), (&k.span.start).into());
                place(v, pointer, positions);
                pointer.truncate(at);
            }
        }
        YamlData::Tagged(_, inner) => return place(inner, pointer, positions),
        _ => {}
    }
    positions.values.insert(pointer.clone(), (&node.span.start).into());
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
    fn positions_are_found_on_the_first_question_only() {
        let (_, map) = parse_yaml("name: x\nsteps:\n  - id: a\n").unwrap();
        assert!(map.positions.get().is_none(), "not found while parsing");
        assert_eq!(map.value("/steps/0/id"), Position { line: 3, column: 9 });
        assert!(map.positions.get().is_some());
        assert_eq!(SourceMap::default().value("/steps"), Position { line: 1, column: 1 });
    }

    #[test]
    fn refuses_too_deep_nesting_at_the_level_that_goes_too_deep() {
        // Block mappings, one level a line (saphyr refuses deep flow collections itself).
        let nested = |levels: usize| (0..levels).map(|i| format!("{}a:\n", "  ".repeat(i))).collect::<String>();
        let err = parse_yaml(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(err.message.contains("nest deeper than 256"), "{err:?}");
        assert_eq!(err.position.line, MAX_DEPTH + 1, "where the 257th mapping starts");
        assert!(parse_yaml(&nested(MAX_DEPTH)).is_ok());
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
