//! Edge conditions: `when:` expressions in jq (the jaq crates), compiled once when a definition loads
//! and run on each event that reaches the edge (docs/semantics.md, "Conditional edges" and "All-of edge groups").
//!
//! An expression sees one value, `{"data": ..., "event": {...}}`: the event's data and its CloudEvent
//! attributes (`type`, `source`, `id`, `time`; CloudEvents 1.0, "Context Attributes"). The edge fires
//! when the expression's **first output is `true`**; `false`, any other value, or no output at all
//! leaves it unfired. jq is the expression language of CNCF Serverless Workflow (the Open Workflow
//! Specification) for the same purpose; jaq implements it (jq's manual is the reference for the
//! language; jaq's README lists where it differs).

use std::fmt;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Cv, Native, ValXs, Vars, compile::Filter, data::JustLut};
use jaq_json::Val;

type Data = JustLut<Val>;

/// jq built-ins a condition may not use: they would end the engine's process (`halt`), read the
/// engine's environment (`env`, `$ENV`) or input (`input`), write to its stderr, or depend on the
/// machine's clock or time zone (`now`, `localtime`, ...), which a re-run after a crash would not
/// see the same (the event's `time` is the run's logical time: use that).
const DENIED: &[&str] =
    &["halt", "env", "now", "localtime", "strflocaltime", "input", "inputs", "debug_empty", "stderr_empty"];

/// Longest expression accepted, in bytes, and deepest nesting of brackets: jaq's parser and compiler
/// recurse, so a pathological expression could otherwise exhaust the stack.
const MAX_LEN: usize = 4096;
const MAX_NESTING: usize = 64;

/// A compiled `when:` expression.
pub struct Condition {
    text: String,
    filter: Filter<Native<Data>>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.text).finish()
    }
}

/// Why an expression does not compile: each problem with its character offset in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// `(offset in characters from the start of the expression, what is wrong)`, in order.
    pub problems: Vec<(usize, String)>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> =
            self.problems.iter().map(|(at, what)| format!("{what} at character {}", at + 1)).collect();
        write!(f, "{}", parts.join("; "))
    }
}

/// What a denied built-in does: fail, saying so.
fn denied(_: Cv<'_, Data>) -> ValXs<'_, Val> {
    jaq_core::native::bome(Err(jaq_core::Error::str("this jq built-in is not available in an edge condition")))
}

impl Condition {
    /// Compile jq expression `text`, with jq's standard library of named filters (`map`, `any`,
    /// `test`, `length`, ...).
    ///
    /// Errors: [`CompileError`] for a lexing or parsing error, or a name (filter, variable) that is not
    /// defined, each with its place in `text`.
    pub fn compile(text: &str) -> Result<Condition, CompileError> {
        if text.len() > MAX_LEN {
            return Err(CompileError { problems: vec![(0, format!("the expression is longer than {MAX_LEN} bytes"))] });
        }
        let mut depth = 0usize;
        for (i, c) in text.chars().enumerate() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_NESTING {
                return Err(CompileError { problems: vec![(i, format!("brackets nest deeper than {MAX_NESTING}"))] });
            }
        }
        let offset = |s: &str| (s.as_ptr() as usize).saturating_sub(text.as_ptr() as usize).min(text.len());
        let chars = |s: &str| text[..offset(s)].chars().count();
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
        // Denied built-ins stay defined (the standard library's own definitions refer to them) but fail.
        let funs =
            jaq_core::funs::<Data>().chain(jaq_std::funs()).chain(jaq_json::funs()).map(|(name, args, native)| {
                if DENIED.contains(&name) { (name, args, Native::<Data>::new(denied)) } else { (name, args, native) }
            });
        let arena = Arena::default();
        let modules = Loader::new(defs).load(&arena, File { code: text, path: () }).map_err(|errors| {
            let mut problems = Vec::new();
            for (_, e) in errors {
                match e {
                    jaq_core::load::Error::Io(io) => {
                        problems.extend(io.into_iter().map(|(s, m)| (chars(s), format!("cannot load a module: {m}"))))
                    }
                    jaq_core::load::Error::Lex(lex) => problems
                        .extend(lex.into_iter().map(|(expect, s)| (chars(s), format!("expected {}", expect.as_str())))),
                    jaq_core::load::Error::Parse(parse) => problems.extend(parse.into_iter().map(|(expect, s)| {
                        let found = if s.is_empty() { "the end".to_string() } else { format!("\"{s}\"") };
                        (chars(s), format!("expected {}, found {found}", expect.as_str()))
                    })),
                }
            }
            CompileError { problems }
        })?;
        let filter = Compiler::default().with_funs(funs).compile(modules).map_err(|errors| CompileError {
            problems: errors
                .into_iter()
                .flat_map(|(_, es)| es)
                .map(|(s, undefined)| (chars(s), format!("undefined {} \"{s}\"", undefined.as_str())))
                .collect(),
        })?;
        Ok(Condition { text: text.to_string(), filter })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Run the expression on `input` (JSON text, normally `{"data": ..., "event": {...}}`): whether its
    /// first output is `true`.
    ///
    /// Errors: `input` is not JSON, or the expression fails on it (e.g. `.data.n + "a"`), as jq's message.
    pub fn matches(&self, input: &str) -> Result<bool, String> {
        let input = jaq_json::read::parse_single(input.as_bytes()).map_err(|e| format!("unreadable input: {e}"))?;
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        match self.filter.id.run((ctx, input)).next() {
            None => Ok(false),
            Some(Ok(value)) => Ok(value == Val::from(true)),
            // An error, or a halt (which the denied built-ins should make impossible): never an exit.
            Some(Err(exn)) => Err(match exn.get_err() {
                Ok(error) => error.to_string(),
                Err(_) => "the expression tried to halt".into(),
            }),
        }
    }
}

impl Condition {
    /// Run the expression on `input` (JSON text) as a correlation key: its first output, a string as it is
    /// or a number as its JSON text; `None` for no output or `null`.
    ///
    /// Errors: the expression fails, or its first output is another kind of value.
    pub fn key(&self, input: &str) -> Result<Option<String>, String> {
        let input = jaq_json::read::parse_single(input.as_bytes()).map_err(|e| format!("unreadable input: {e}"))?;
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let first = match self.filter.id.run((ctx, input)).next() {
            None => return Ok(None),
            Some(Ok(value)) => value,
            Some(Err(exn)) => {
                return Err(match exn.get_err() {
                    Ok(error) => error.to_string(),
                    Err(_) => "the expression tried to halt".into(),
                });
            }
        };
        let text = first.to_string();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Null) => Ok(None),
            Ok(serde_json::Value::String(s)) => Ok(Some(s)),
            Ok(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            _ => Err(format!("a correlation key must be a string or a number, not {text}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_fires_only_on_a_first_output_of_true() {
        let c = Condition::compile(".data.score >= 700 and .event.type == \"Scored\"").unwrap();
        assert!(c.matches(r#"{"data":{"score":720},"event":{"type":"Scored"}}"#).unwrap());
        assert!(!c.matches(r#"{"data":{"score":600},"event":{"type":"Scored"}}"#).unwrap());
        assert!(!Condition::compile(".data").unwrap().matches(r#"{"data":1}"#).unwrap(), "1 is not true");
        assert!(!Condition::compile("empty").unwrap().matches("{}").unwrap(), "no output");
        assert!(Condition::compile(".data | any(. > 2)").unwrap().matches(r#"{"data":[1,3]}"#).unwrap());
    }

    #[test]
    fn built_ins_that_reach_outside_are_not_there() {
        for text in ["halt", "halt_error", "env", "$ENV", "now", "input", "debug", "stderr", "now | localtime"] {
            let refused = match Condition::compile(text) {
                Err(_) => true,
                Ok(c) => c.matches(r#"{"data":1}"#).is_err(),
            };
            assert!(refused, "{text} ran");
        }
        assert!(Condition::compile("\"2026-11-22T00:00:00Z\" | fromdate | todate | test(\"^2026\")").is_ok());
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(Condition::compile(&deep).unwrap_err().to_string().contains("nest deeper"));
        assert!(Condition::compile(&"1+".repeat(3000)).unwrap_err().to_string().contains("longer than"));
    }

    #[test]
    fn a_key_is_the_first_output_as_a_string() {
        let key = Condition::compile(".data.ticketId").unwrap();
        assert_eq!(key.key(r#"{"data":{"ticketId":"T-1"}}"#).unwrap().as_deref(), Some("T-1"));
        assert_eq!(key.key(r#"{"data":{"ticketId":42}}"#).unwrap().as_deref(), Some("42"));
        assert_eq!(key.key(r#"{"data":{}}"#).unwrap(), None);
        assert!(key.key(r#"{"data":{"ticketId":[1]}}"#).unwrap_err().contains("a string or a number"));
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = Condition::compile(".data.score >= ").unwrap_err();
        assert!(e.to_string().contains("expected"), "{e}");
        let e = Condition::compile(".data | nosuch(1)").unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert!(e.to_string().contains("undefined filter \"nosuch\" at character 9"), "{e}");
        let run = Condition::compile(".data + \"a\"").unwrap().matches(r#"{"data":1}"#).unwrap_err();
        assert!(run.contains("cannot"), "{run}");
    }
}
