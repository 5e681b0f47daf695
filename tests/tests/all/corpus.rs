//! The bad-input corpus (tests/corpus/): every definition under `definitions/` is refused, in under a
//! second once any component it names is compiled, without a panic, with a message that contains each text `expected.tsv` lists for it
//! (`name<TAB>text`, one line per text). In a definition, `{steps}` stands for tests/steps, `{corpus}` for
//! tests/corpus, and `{wat:NAME}` for a component compiled from `components/NAME.wat`. Set
//! `WEFT_CORPUS_PRINT=1` to print every message instead of checking (when adding a case).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use weft_tests::{runtime, tests_dir};

/// Most time one bad input may take to be refused: a bound against a hang or a blow-up (a quadratic
/// parse of the 10 MB scalar would take minutes), not a speed figure. A loaded 2-core CI machine took
/// 1.13 s for that case in a debug build, so the bound leaves room.
const MAX: Duration = Duration::from_secs(5);

fn expectations() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(tests_dir("corpus/expected.tsv")).expect("tests/corpus/expected.tsv");
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name, want) = line.split_once('\t').unwrap_or_else(|| panic!("no tab in expected.tsv line {line:?}"));
        expected.entry(name.to_string()).or_default().push(want.to_string());
    }
    expected
}

/// The definition `text` with its placeholders filled; WAT components are compiled into `dir`.
fn fill(text: &str, dir: &std::path::Path) -> String {
    let mut text = text.replace("{steps}", &tests_dir("steps").to_string_lossy());
    text = text.replace("{corpus}", &tests_dir("corpus").to_string_lossy());
    while let Some(start) = text.find("{wat:") {
        let end = start + text[start..].find('}').expect("a closing brace");
        let name = &text[start + 5..end];
        let wasm = wat::parse_file(tests_dir(&format!("corpus/components/{name}.wat")))
            .unwrap_or_else(|e| panic!("{name}.wat: {e}"));
        let path = dir.join(format!("{name}.wasm"));
        std::fs::write(&path, wasm).unwrap();
        text.replace_range(start..=end, &path.to_string_lossy());
    }
    text
}

#[test]
fn every_bad_definition_is_refused_quickly_with_its_message() {
    let expected = expectations();
    let print = std::env::var_os("WEFT_CORPUS_PRINT").is_some();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(tests_dir("corpus/definitions")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("process.yaml");
        std::fs::write(&file, fill(&String::from_utf8_lossy(&raw), dir.path())).unwrap();
        // Loaded once untimed: a case naming a component (tests/steps/echo.wasm, or a malformed one)
        // compiles it into the compiled-code cache, and a compile can queue behind other tests' compiles
        // on wasmtime's shared thread pool. The timed second load measures the refusal itself.
        if std::panic::catch_unwind(|| runtime().load_process(&file)).is_err() {
            panic!("{name}: loading panicked");
        }
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(|| runtime().load_process(&file));
        let took = started.elapsed();
        let message = match outcome {
            Err(_) => panic!("{name}: loading panicked"),
            Ok(Ok(_)) => panic!("{name}: loaded, but it is bad input"),
            Ok(Err(e)) => e.to_string(),
        };
        if print {
            println!("== {name} ({took:?})\n{message}");
            continue;
        }
        assert!(took < MAX, "{name}: took {took:?}");
        let wants =
            expected.get(&name).unwrap_or_else(|| panic!("{name}: no line in expected.tsv; its message:\n{message}"));
        for want in wants {
            assert!(message.contains(want.as_str()), "{name}: {want:?} not in\n{message}");
        }
        names.push(name);
    }
    if !print {
        assert!(names.len() >= 60, "the corpus has {} definitions", names.len());
        let stale: Vec<&String> = expected.keys().filter(|k| !names.contains(k)).collect();
        assert!(stale.is_empty(), "expected.tsv names cases that do not exist: {stale:?}");
    }
}
