//! What Weft remembers beside its compiled-code cache so that a later command need not do it again
//! (README, "Commands"): here, a component's description, asked once per component digest.

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
