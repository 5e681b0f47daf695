//! Property tests of definition loading and edge conditions on the stable toolchain (proptest): whatever
//! the text, loading returns a definition or diagnostics that point inside the file, and never panics.
//! `scripts/test` runs them with `PROPTEST_CASES` cases each (proptest's default, 256, otherwise); a case
//! that ever failed is kept in `tests/corpus/` with the message it must give.

use std::path::Path;

use proptest::prelude::*;
use weft_definitions::condition::Condition;
use weft_definitions::{DefinitionError, load_str};

/// Valid definitions to mutate: the examples and the test processes (their text only; nothing is read
/// from disk but the definition itself).
fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let mut texts = Vec::new();
    for dir in ["examples/account-opening", "examples/food-delivery", "examples/support-ticket", "tests/processes"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                texts.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    texts.sort();
    texts
}

/// Load `text`; on failure, every diagnostic has a message and a position inside the text.
fn loads_or_explains(text: &str) {
    match load_str(text, Path::new("fuzz.yaml")) {
        Ok(_) => {}
        Err(DefinitionError::Invalid(diagnostics)) => {
            assert!(!diagnostics.is_empty());
            let lines = text.lines().count() + 1;
            for d in diagnostics {
                assert!(!d.message.is_empty(), "an empty message for {text:?}");
                assert!(
                    d.position.line <= lines,
                    "{}:{} is past the end of {text:?}",
                    d.position.line,
                    d.position.column
                );
            }
        }
        Err(e) => panic!("not a diagnostic: {e}"),
    }
}

/// One edit of a text: `(kind, at, length, insert)`.
fn edit() -> impl Strategy<Value = (u8, usize, usize, String)> {
    (0u8..5, any::<usize>(), 0usize..40, "[ -~\n\t]{0,12}|[:{}\\[\\]&*!|>'\"#-]{1,4}")
}

fn apply(text: &str, (kind, at, len, insert): &(u8, usize, usize, String)) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + len).min(chars.len());
    let (head, tail): (String, String) = (chars[..at].iter().collect(), chars[end..].iter().collect());
    let middle: String = chars[at..end].iter().collect();
    match kind {
        0 => format!("{head}{tail}"),                 // delete
        1 => format!("{head}{insert}{middle}{tail}"), // insert
        2 => format!("{head}{insert}{tail}"),         // replace
        3 => format!("{head}{middle}{middle}{tail}"), // duplicate
        _ => format!("{head}{tail}{middle}"),         // move to the end
    }
}

proptest! {
    #[test]
    fn any_text_loads_or_explains(text in "[ -~\n\t]{0,400}") {
        loads_or_explains(&text);
    }

    #[test]
    fn yaml_shaped_text_loads_or_explains(
        lines in prop::collection::vec("( {0,6})(-? ?)([a-zA-Z]{1,8})(: ?)([a-zA-Z0-9{}\\[\\],.:*&!' -]{0,20})", 0..30)
    ) {
        loads_or_explains(&lines.join("\n"));
    }

    #[test]
    fn mutated_definitions_load_or_explain(seed in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..6)) {
        let seeds = seeds();
        let mut text = seeds[seed.index(seeds.len())].clone();
        for e in &edits {
            text = apply(&text, e);
        }
        loads_or_explains(&text);
    }

    #[test]
    fn conditions_compile_or_explain_and_run_on_any_event(
        expression in "[.a-z0-9 ()\\[\\]|=<>!+*/\"$,:?-]{0,40}",
        data in "[-0-9a-z\"{}\\[\\],:. ]{0,60}",
    ) {
        if let Ok(condition) = Condition::compile(&expression) {
            let input = format!("{{\"data\": {data}, \"event\": {{\"type\": \"E\"}}}}");
            let _ = condition.matches(&input);
        }
    }
}
