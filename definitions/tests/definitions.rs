//! The definition loader on good and bad YAML: every error names file:line:column and what would fix it.

use std::path::Path;

use weft_definitions::{DefinitionError, load_str, schema};

const GOOD: &str = "\
name: linear
version: 1.0.0
steps:
  - id: echo
    component: echo.wasm
  - id: repeat
    component: repeat.wasm
    state: { times: 0 }
inputs:
  - event: Start
    to: [{ step: echo }]
edges:
  - from: { step: echo, result: echo }
    to:
      - step: repeat
        parameter: message
      - stop
";

fn errors(text: &str) -> Vec<String> {
    match load_str(text, Path::new("p.yaml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e @ DefinitionError::Io { .. }) => panic!("unexpected {e}"),
        Err(DefinitionError::Invalid(d)) => d.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn committed_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/process.schema.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == schema::json_schema_text(),
        "definitions/process.schema.json is stale: run `cargo run -p weft-engine -- schema > definitions/process.schema.json`"
    );
}

#[test]
fn good_definition_loads() {
    let loaded = load_str(GOOD, Path::new("p.yaml")).unwrap();
    assert_eq!(loaded.definition.steps.len(), 2);
    assert_eq!(loaded.definition.max_supersteps(), 1000);
    assert_eq!(loaded.definition.edges[0].from.as_ref().and_then(|f| f.event_type()).as_deref(), Some("echo.OnResult"));
}

#[test]
fn malformed_yaml_names_line_and_column() {
    let e = errors("name: x\nsteps:\n  - id: [a\n");
    assert!(e[0].starts_with("p.yaml:") && e[0].contains("malformed YAML"), "{e:?}");
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let e = errors(&GOOD.replace("    component: repeat.wasm", "    compnent: repeat.wasm"));
    assert!(
        e.iter().any(|l| l.starts_with("p.yaml:7:5: at /steps/1/compnent: unknown key \"compnent\"")
            && l.contains("did you mean \"component\"")),
        "{e:?}"
    );
}

#[test]
fn unknown_key_inside_a_target_is_found_through_any_of() {
    let e = errors(&GOOD.replace("        parameter: message", "        paramter: message"));
    assert!(
        e.iter().any(|l| l.contains("at /edges/0/to/0/paramter") && l.contains("did you mean \"parameter\"")),
        "{e:?}"
    );
}

#[test]
fn schema_violation_names_the_place() {
    let e = errors(&GOOD.replace("version: 1.0.0", "version: [1]"));
    assert!(e.iter().any(|l| l.starts_with("p.yaml:2:10: at /version:")), "{e:?}");
    let e = errors(&GOOD.replace("    component: echo.wasm\n", ""));
    assert!(
        e.iter().any(|l| l.starts_with("p.yaml:4:5: at /steps/0:")
            && l.contains("exactly one of `component`, `process` and `map`")),
        "{e:?}"
    );
}

#[test]
fn unknown_step_in_an_edge_lists_the_steps() {
    let e = errors(&GOOD.replace("      - step: repeat", "      - step: repaet"));
    assert!(
        e.iter().any(|l| l.starts_with("p.yaml:15:15: at /edges/0/to/0/step: no step has the id \"repaet\"")
            && l.contains("did you mean \"repeat\"")),
        "{e:?}"
    );
}

#[test]
fn edge_source_needs_exactly_one_trigger() {
    let e = errors(&GOOD.replace("{ step: echo, result: echo }", "{ step: echo, result: echo, event: X }"));
    assert!(e.iter().any(|l| l.contains("exactly one of `event`, `result` or `error`")), "{e:?}");
}

#[test]
fn duplicate_step_ids_are_refused_naming_the_first() {
    let e = errors(&GOOD.replace("id: repeat", "id: echo"));
    assert!(
        e.iter().any(|l| l.starts_with("p.yaml:6:9: at /steps/1/id: step id \"echo\" is used twice (first by step 0)")),
        "{e:?}"
    );
    let three =
        GOOD.replace("id: repeat", "id: echo").replace("steps:\n", "steps:\n  - id: echo\n    component: x.wasm\n");
    let e = errors(&three);
    assert_eq!(e.iter().filter(|l| l.contains("(first by step 0)")).count(), 2, "{e:?}");
}

#[test]
fn error_handler_targets_must_name_existing_steps() {
    let e = errors(&format!("{GOOD}onError:\n  - step: nowhere\n"));
    assert!(
        e.iter().any(|l| l.starts_with("p.yaml:19:11: at /onError/0/step: no step has the id \"nowhere\"")),
        "{e:?}"
    );
}

#[test]
fn a_misspelt_stop_is_refused() {
    let e = errors(&GOOD.replace("      - stop", "      - stpo"));
    assert!(e.iter().any(|l| l.contains("at /edges/0/to/1")), "{e:?}");
}

/// A memo of texts the schema accepted: told of a text the schema accepts, with its document, never of one
/// it refuses; a text it remembers is neither parsed nor validated again (the other checks still run), and
/// what it remembers that is not a definition is ignored.
#[test]
fn the_schema_memo_remembers_acceptance_only_and_skips_parsing_for_what_it_remembers() {
    use std::cell::RefCell;
    use weft_definitions::load_str_with;
    use weft_definitions::schema::exact_json;
    /// The texts it was told of, with their documents as JSON.
    struct Recorded(RefCell<Vec<(String, Vec<u8>)>>);
    impl schema::Memo for Recorded {
        fn accepted(&self, text: &str) -> Option<Vec<u8>> {
            self.0.borrow().iter().find(|(t, _)| t == text).map(|(_, json)| json.clone())
        }
        fn accept(&self, text: &str, document: &serde_json::Value) {
            let json = exact_json(document).expect("a definition reads back exactly");
            self.0.borrow_mut().push((text.to_owned(), json));
        }
    }
    let file = Path::new("p.yaml");
    let memo = Recorded(RefCell::default());
    let parsed = load_str_with(GOOD, file, &memo).unwrap();
    assert_eq!(memo.0.borrow().len(), 1);
    assert_eq!(memo.0.borrow()[0].0, GOOD);
    let recalled = load_str_with(GOOD, file, &memo).unwrap();
    assert_eq!(memo.0.borrow().len(), 1, "remembered: not parsed, not told again");
    assert_eq!(format!("{:?}", recalled.definition), format!("{:?}", parsed.definition), "the same definition");
    // Refused by the schema (an unknown key): refused every time, never remembered.
    let unknown = GOOD.replace("name: linear", "name: linear\nnmae: typo");
    assert!(load_str_with(&unknown, file, &memo).is_err());
    assert!(load_str_with(&unknown, file, &memo).is_err());
    assert_eq!(memo.0.borrow().len(), 1);
    // Accepted by the schema but not read by the model (a state version past u32): refused, not remembered.
    let too_big = GOOD.replace("    state: { times: 0 }", "    state: { times: 0 }\n    stateVersion: 5000000000");
    let Err(refused) = load_str_with(&too_big, file, &memo) else { panic!("a state version past u32 loaded") };
    assert!(refused.to_string().contains("u32"), "refused by the model, not the schema: {refused}");
    assert_eq!(memo.0.borrow().len(), 1, "a text the model refuses is not remembered");
    // What the memo recalls is the definition: another document under the same text is what loads.
    let renamed = exact_json(&serde_json::to_value(&parsed.definition).unwrap()).unwrap();
    let other = String::from_utf8(renamed).unwrap().replace("\"linear\"", "\"recalled\"");
    let vouching = Recorded(RefCell::new(vec![(GOOD.to_owned(), other.into_bytes())]));
    assert_eq!(load_str_with(GOOD, file, &vouching).unwrap().definition.name, "recalled");
    // Something that is not a definition is ignored: the text is parsed, validated and remembered afresh.
    let damaged = Recorded(RefCell::new(vec![(GOOD.to_owned(), b"{\"name\": ".to_vec())]));
    assert_eq!(load_str_with(GOOD, file, &damaged).unwrap().definition.name, "linear");
    assert_eq!(damaged.0.borrow().len(), 2, "told of it again");
    // A recalled document still goes through the whole-definition checks, their diagnostics placed.
    let unknown_step = GOOD.replace("to: [{ step: echo }]", "to: [{ step: nobody }]");
    let (document, _) = weft_definitions::source::parse_yaml(&unknown_step).unwrap();
    let vouching = Recorded(RefCell::new(vec![(unknown_step.clone(), exact_json(&document).unwrap())]));
    let Err(DefinitionError::Invalid(found)) = load_str_with(&unknown_step, file, &vouching) else {
        panic!("an unknown step passed")
    };
    assert!(found.iter().any(|d| d.to_string().contains("nobody")), "{found:?}");
    let Err(DefinitionError::Invalid(direct)) = weft_definitions::load_str(&unknown_step, file) else {
        panic!("an unknown step passed")
    };
    assert_eq!(format!("{found:?}"), format!("{direct:?}"), "placed as when parsed");
}

/// A remembered document is keyed by how YAML is read: the saphyr crates' versions in
/// `source::DOCUMENT_FORMAT` are those `Cargo.lock` builds, so updating one fails here until the format
/// names it (and documents remembered under the old reading are parsed afresh).
#[test]
fn the_document_format_names_the_saphyr_that_is_built() {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock")).unwrap();
    for name in ["saphyr", "saphyr-parser"] {
        let entry = format!("name = \"{name}\"\nversion = \"");
        let at = lock.find(&entry).unwrap_or_else(|| panic!("{name} is in Cargo.lock")) + entry.len();
        let version = &lock[at..at + lock[at..].find('"').unwrap()];
        let named = format!("{name} {version},");
        assert!(
            weft_definitions::source::DOCUMENT_FORMAT.contains(&named),
            "Cargo.lock builds {name} {version}; name it in DOCUMENT_FORMAT"
        );
    }
}
