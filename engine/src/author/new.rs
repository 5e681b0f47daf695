//! `weft new step|process`: a step project that builds as it is (one kernel function with state, a test
//! for the language's own runner, a three-line README), or a process definition that `weft validate`
//! accepts (the `$schema` line, one step, one input).
//!
//! A new step depends on the SDKs of a Weft checkout: the `step-sdk` folder `--sdk` names, else
//! `$WEFT_HOME/step-sdk`, else the source tree this `weft` was built from, when it is still there; else on
//! the SDK packages by name, as they would be published.

use std::path::{Path, PathBuf};

use super::Language;
use super::tools::canonical;
use crate::load::Runtime;

/// The `step-sdk` folder of the source tree this `weft` was built from.
const BUILT_FROM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../step-sdk");

/// Where the SDKs come from: a `step-sdk` folder (with `rust/`, `python/`, `js/`), or the registries.
#[derive(Debug, Clone)]
pub enum Sdk {
    /// The SDKs in this folder, by path.
    Local(PathBuf),
    /// The published packages (crates.io, PyPI, npm), by name and version.
    Published,
}

impl Sdk {
    /// `--sdk DIR` if given, else `$WEFT_HOME/step-sdk`, else the source tree's, else the published
    /// packages.
    ///
    /// Errors: `dir`, or `$WEFT_HOME/step-sdk`, holds no SDKs.
    pub fn find(dir: Option<&Path>) -> Result<Sdk, String> {
        let home = std::env::var_os("WEFT_HOME").map(|home| PathBuf::from(home).join("step-sdk"));
        let named = dir.map(Path::to_path_buf).or(home);
        match named {
            Some(dir) if dir.join("rust/Cargo.toml").is_file() => Ok(Sdk::Local(canonical(&dir))),
            Some(dir) => Err(format!(
                "{}: not Weft's step-sdk folder (no rust/Cargo.toml in it): name one with --sdk, or set WEFT_HOME to a Weft checkout",
                dir.display()
            )),
            None if Path::new(BUILT_FROM).join("rust/Cargo.toml").is_file() => {
                Ok(Sdk::Local(canonical(Path::new(BUILT_FROM))))
            }
            None => Ok(Sdk::Published),
        }
    }

    fn rust(&self) -> String {
        match self {
            Sdk::Local(dir) => format!("{{ path = {} }}", toml_string(&dir.join("rust"))),
            Sdk::Published => format!("\"{}\"", env!("CARGO_PKG_VERSION")),
        }
    }

    fn python(&self) -> String {
        match self {
            Sdk::Local(dir) => {
                format!("weft-step @ file://{}", dir.join("python").display().to_string().replace(' ', "%20"))
            }
            Sdk::Published => format!("weft-step=={}", env!("CARGO_PKG_VERSION")),
        }
    }

    fn javascript(&self) -> String {
        match self {
            Sdk::Local(dir) => serde_json::to_string(&format!("file:{}", dir.join("js").display())).unwrap_or_default(),
            Sdk::Published => format!("\"^{}\"", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Write a step project named `name` in `language` into `parent/name`, returning its folder.
///
/// Errors: `name` is not a lower-case name (`a-z`, digits, `-`), or its folder exists.
pub fn step(parent: &Path, name: &str, language: Language, sdk: &Sdk) -> Result<PathBuf, String> {
    check_name(name)?;
    let dir = if parent == Path::new(".") { PathBuf::from(name) } else { parent.join(name) };
    if dir.exists() {
        return Err(format!("{} already exists: choose another name or remove it", dir.display()));
    }
    let files: &[(&str, &str)] = match language {
        Language::Rust => &[
            ("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
            ("src/lib.rs", include_str!("templates/rust/lib.rs")),
            ("README.md", include_str!("templates/rust/README.md")),
        ],
        Language::Python => &[
            ("app.py", include_str!("templates/python/app.py")),
            ("test_app.py", include_str!("templates/python/test_app.py")),
            ("requirements.txt", include_str!("templates/python/requirements.txt")),
            ("README.md", include_str!("templates/python/README.md")),
        ],
        Language::JavaScript => &[
            ("app.js", include_str!("templates/javascript/app.js")),
            ("app.test.js", include_str!("templates/javascript/app.test.js")),
            ("package.json", include_str!("templates/javascript/package.json")),
            ("README.md", include_str!("templates/javascript/README.md")),
        ],
    };
    let values = [
        ("{{name}}", name.to_string()),
        ("{{Name}}", camel(name)),
        ("{{rust_sdk}}", sdk.rust()),
        ("{{python_sdk}}", sdk.python()),
        ("{{js_sdk}}", sdk.javascript()),
    ];
    for (file, template) in files {
        write(&dir.join(file), &fill(template, &values))?;
    }
    Ok(dir)
}

/// Write process definition `dir/name.yaml` with one step running `component` (its first kernel
/// function, sent the input's data as its first parameter), and `dir/process.schema.json` beside it if
/// absent. Returns the definition's path.
///
/// Errors: a bad `name`, the definition exists, or `component` cannot be loaded.
pub fn process(runtime: &Runtime, dir: &Path, name: &str, component: &Path) -> Result<PathBuf, String> {
    check_name(name)?;
    let file =
        if dir == Path::new(".") { PathBuf::from(format!("{name}.yaml")) } else { dir.join(format!("{name}.yaml")) };
    if file.exists() {
        return Err(format!("{} already exists: choose another name or remove it", file.display()));
    }
    let loaded = runtime.component_at(component)?;
    let function = loaded
        .description
        .functions
        .first()
        .ok_or_else(|| format!("{}: the component has no kernel function", component.display()))?;
    let parameter = match function.params.first() {
        Some(p) if function.params.len() > 1 => format!(", parameter: {}", p.name),
        _ => String::new(),
    };
    let step = step_id(component);
    // A JSON string is a YAML string: any path, quoted.
    let relative = serde_json::to_string(&pathdiff(component, dir)).unwrap_or_default();
    let values = [
        ("{{name}}", name.to_string()),
        ("{{step}}", step),
        ("{{component}}", relative),
        ("{{function}}", function.name.clone()),
        ("{{parameter}}", parameter),
    ];
    write(&file, &fill(include_str!("templates/process.yaml"), &values))?;
    let schema = dir.join("process.schema.json");
    if !schema.exists() {
        write(&schema, &weft_definitions::schema::json_schema_text())?;
    }
    Ok(file)
}

/// A step id (`^[A-Za-z][A-Za-z0-9_-]*$`) from a component's file name: `greeter.v2.wasm` → `greeter-v2`.
fn step_id(component: &Path) -> String {
    let stem = component.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let id: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' }).collect();
    if id.starts_with(|c: char| c.is_ascii_alphabetic()) { id } else { format!("step-{id}") }
}

/// Names a language would take for something else: Python's constants, crates cargo refuses.
const RESERVED: &[&str] =
    &["none", "true", "false", "test", "std", "core", "alloc", "proc-macro", "self", "crate", "super"];

fn check_name(name: &str) -> Result<(), String> {
    if RESERVED.contains(&name) {
        return Err(format!("{name:?} is a name Python or cargo keeps for itself: choose another (e.g. {name}-step)"));
    }
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a name Weft takes: use lower-case letters, digits and '-', starting with a letter (e.g. greeter)"
        ))
    }
}

/// `order-totals` → `OrderTotals`.
fn camel(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.to_string(), |text, (key, value)| text.replace(key, value))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `path` as the definition in `dir` names it: relative when it lies inside `dir`, else absolute.
fn pathdiff(path: &Path, dir: &Path) -> String {
    let (path, dir) = (canonical(path), canonical(dir));
    path.strip_prefix(&dir).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
}

/// `path` as a TOML basic string.
fn toml_string(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).unwrap_or_default()
}
