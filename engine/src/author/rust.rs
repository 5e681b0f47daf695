//! Rust steps: `cargo build --release --target wasm32-wasip2`, one invocation per cargo workspace, the
//! artifacts found in cargo's JSON messages (so any target directory works).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::StepProject;
use super::tools::{canonical, finish, first_lines, run, temporary};

const TARGET: &str = "wasm32-wasip2";
const INSTALL_RUST: &str = "install Rust from https://rustup.rs, then `rustup target add wasm32-wasip2`";

/// Build `steps` (Rust step projects) and copy each one's component to the matching `outputs` entry.
///
/// Errors: cargo or the `wasm32-wasip2` target is missing (what to install), a manifest cargo cannot
/// read, the compiler's first error, or a crate that builds no `cdylib`.
pub(super) fn build(steps: &[&StepProject], outputs: &[PathBuf]) -> Result<(), String> {
    check_target()?;
    // Steps by workspace: (package name, manifest path, output).
    let mut workspaces: BTreeMap<PathBuf, Vec<(String, PathBuf, &PathBuf)>> = BTreeMap::new();
    for (step, out) in steps.iter().zip(outputs) {
        let manifest = step.dir.join("Cargo.toml");
        let (root, name) = package(&manifest)?;
        workspaces.entry(root).or_default().push((name, manifest, out));
    }
    // Every workspace is built, and every crate that compiles gets its component, whatever else failed.
    let errors: Vec<String> = workspaces.values().filter_map(|members| build_workspace(members).err()).collect();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("\n\n")) }
}

/// Whether the installed Rust has the `wasm32-wasip2` standard library.
fn check_target() -> Result<(), String> {
    let output = run(Command::new("rustc").args(["--print", "sysroot"]), "rustc (Rust)", INSTALL_RUST)?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Err(format!(
            "the Rust target {TARGET} is not installed (in {}): run `rustup target add {TARGET}`",
            sysroot.display()
        ));
    }
    Ok(())
}

/// The workspace root and package name of the crate at `manifest`.
fn package(manifest: &Path) -> Result<(PathBuf, String), String> {
    let output = run(
        Command::new("cargo").args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"]).arg(manifest),
        "cargo (Rust)",
        INSTALL_RUST,
    )?;
    if !output.status.success() {
        return Err(format!("{}: {}", manifest.display(), first_lines(&String::from_utf8_lossy(&output.stderr), 20)));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("{}: cargo metadata gave no JSON: {e}", manifest.display()))?;
    let wanted = canonical(manifest);
    let name = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().is_some_and(|m| canonical(Path::new(m)) == wanted))
        .and_then(|p| p["name"].as_str())
        .ok_or_else(|| format!("{}: not a package (a workspace manifest is not a step)", manifest.display()))?;
    let root = metadata["workspace_root"].as_str().unwrap_or_default();
    Ok((PathBuf::from(root), name.to_string()))
}

/// One cargo invocation for the steps of one workspace.
fn build_workspace(members: &[(String, PathBuf, &PathBuf)]) -> Result<(), String> {
    let mut command = Command::new("cargo");
    command.args([
        "build",
        "--release",
        "--keep-going",
        "--target",
        TARGET,
        "--message-format=json",
        "--manifest-path",
    ]);
    command.arg(&members[0].1);
    for (name, _, _) in members {
        command.args(["-p", name]);
    }
    let output = run(&mut command, "cargo (Rust)", INSTALL_RUST)?;
    let mut errors = Vec::new();
    let mut artifacts: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
        match message["reason"].as_str() {
            Some("compiler-message") if message["message"]["level"] == "error" => {
                errors.push(message["message"]["rendered"].as_str().unwrap_or_default().trim_end().to_string());
            }
            Some("compiler-artifact") => {
                let is_cdylib = message["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib"));
                let wasm = message["filenames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .find(|f| f.ends_with(".wasm"));
                let manifest = message["manifest_path"].as_str();
                if let (true, Some(wasm), Some(manifest)) = (is_cdylib, wasm, manifest) {
                    artifacts.insert(canonical(Path::new(manifest)), PathBuf::from(wasm));
                }
            }
            _ => {}
        }
    }
    // What compiled is copied even when another crate failed.
    let mut missing = Vec::new();
    for (name, manifest, out) in members {
        match artifacts.get(&canonical(manifest)) {
            Some(wasm) => copy(wasm, out)?,
            None => missing.push((name, manifest)),
        }
    }
    if !output.status.success() {
        let first = match errors.first() {
            Some(first) if errors.len() > 1 => format!("{first}\n  … and {} more errors", errors.len() - 1),
            Some(first) => first.clone(),
            None => first_lines(&String::from_utf8_lossy(&output.stderr), 30),
        };
        let names: Vec<&str> = members.iter().map(|(n, _, _)| n.as_str()).collect();
        return Err(format!("cargo could not build {}:\n{first}", names.join(", ")));
    }
    match missing.first() {
        Some((name, manifest)) => Err(format!(
            "{}: {name} builds no component\n  hint: add `[lib] crate-type = [\"cdylib\"]` to its Cargo.toml",
            manifest.display()
        )),
        None => Ok(()),
    }
}

/// Copy `from` to `to` through a temporary file, so that a reader never sees half a component.
fn copy(from: &Path, to: &Path) -> Result<(), String> {
    let tmp = temporary(to);
    std::fs::copy(from, &tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    finish(&tmp, to)
}
