//! What Weft remembers beside its compiled-code cache so that a later command need not do it again
//! (README, "Commands"): a component's description, asked once per component digest, and a definition's
//! document, parsed and validated once per text.

use std::path::Path;

use weft_engine::load::{Runtime, RuntimeConfig};
use weft_tests::component;

/// A runtime (one `weft` command) whose cache is under `root`.
fn command(root: &Path) -> Runtime {
    Runtime::new(RuntimeConfig { cache_dir: Some(root.to_path_buf()), ..RuntimeConfig::default() }).unwrap()
}

/// The function names `runtime` finds in the echo component.
fn functions(runtime: &Runtime) -> Vec<String> {
    let echo = runtime.component_at(&component("echo")).unwrap();
    echo.description.functions.iter().map(|f| f.name.clone()).collect()
}

/// A component's description is asked of it once per digest, then recalled by later commands without
/// instantiating it: an entry altered in the cache is what the next command sees (so it was not asked
/// again). A damaged entry is ignored, the component asked again and the entry written anew.
#[test]
fn a_component_is_described_once_per_digest() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(functions(&command(root.path())), ["echo"], "asked of the component");
    let digest = command(root.path()).component_at(&component("echo")).unwrap().digest().to_owned();
    let entries: Vec<_> = walk(&root.path().join("descriptions"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == format!("{digest}.json")))
        .collect();
    let [entry] = &entries[..] else { panic!("one entry for echo's digest: {entries:?}") };
    let text = std::fs::read_to_string(entry).unwrap();
    assert!(text.contains("\"echo\""), "{text}");

    std::fs::write(entry, text.replace("\"echo\"", "\"recalled\"")).unwrap();
    assert_eq!(functions(&command(root.path())), ["recalled"], "recalled, not asked");

    std::fs::write(entry, "{\"functions\": [").unwrap();
    assert_eq!(functions(&command(root.path())), ["echo"], "a damaged entry: asked again");
    assert!(std::fs::read_to_string(entry).unwrap().contains("\"echo\""), "and written anew");
}

/// A definition text the schema accepted is parsed once: its document is recalled by later commands (an
/// entry altered in the cache is what the next command loads), a damaged entry is ignored and written
/// anew, and the checks after the schema still run, their diagnostics placed in the text.
#[test]
fn a_definition_is_parsed_once_per_text() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("process.yaml");
    let yaml = format!(
        "name: once\nversion: 1.0.0\nsteps:\n  - id: echo\n    component: {}\ninputs:\n  - event: Start\n    \
         to: [{{ step: echo }}]\n",
        component("echo").display()
    );
    std::fs::write(&file, &yaml).unwrap();
    let version = |root: &Path| command(root).load_process(&file).unwrap().loaded.definition.version.clone();
    assert_eq!(version(root.path()), "1.0.0", "parsed");
    let entries = walk(&root.path().join("definitions"));
    let [entry] = &entries[..] else { panic!("one entry for the text: {entries:?}") };
    let json = std::fs::read_to_string(entry).unwrap();
    std::fs::write(entry, json.replace("1.0.0", "9.9.9")).unwrap();
    assert_eq!(version(root.path()), "9.9.9", "recalled, not parsed");
    std::fs::write(entry, "{\"name\": ").unwrap();
    assert_eq!(version(root.path()), "1.0.0", "a damaged entry: parsed again");
    assert!(std::fs::read_to_string(entry).unwrap().contains("1.0.0"), "and written anew");

    // An edge from a step that does not exist: the schema accepts it, the checks after it do not.
    let broken = format!("{yaml}edges:\n  - from: {{ step: nowhere, result: echo }}\n    to: [{{ step: echo }}]\n");
    std::fs::write(&file, broken).unwrap();
    let refused = || match command(root.path()).load_process(&file) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an edge from an unknown step loads"),
    };
    let first = refused();
    assert!(first.contains(":10:"), "placed at its line: {first}");
    assert_eq!(refused(), first, "the same diagnostics from the recalled document");
    assert_eq!(walk(&root.path().join("definitions")).len(), 2, "the second text remembered too");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
