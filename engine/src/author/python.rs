//! Python steps: componentize-py, from the Python environment that holds the `weft-step` package
//! (which pins componentize-py and carries the WIT it targets).
//!
//! The environment is the first of: a `.venv` in the step's folder, the active one (`$VIRTUAL_ENV`), a
//! `.venv` in a folder above the step's.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tools::{finish, first_lines, run, stale, temporary};

/// Build the Python step in `dir` into `out`, unless `out` is newer than the step's files and the SDK
/// (`force` rebuilds anyway). Returns whether it was built.
///
/// Errors: no Python environment with `weft-step` (what to run), componentize-py's first error (the
/// Python traceback of the step's import, or the WIT mismatch), or `out` cannot be written.
pub(super) fn build(dir: &Path, out: &Path, force: bool) -> Result<bool, String> {
    let env = environment(dir)?;
    let site = sdk_site(&env, dir)?;
    let sdk = site.join("weft_step");
    if !force && !stale(out, &[dir, &sdk]) {
        return Ok(false);
    }
    let componentize = env.join("bin/componentize-py");
    let tmp = temporary(out);
    let output = run(
        Command::new(&componentize)
            .arg("-d")
            .arg(sdk.join("wit"))
            .args(["-w", "weft:step/step", "componentize", "-p"])
            .arg(dir)
            .arg("-p")
            .arg(&site)
            .arg("app")
            .arg("-o")
            .arg(&tmp),
        &format!("componentize-py ({})", componentize.display()),
        &format!("run `{} install weft-step` (it pins componentize-py)", env.join("bin/pip").display()),
    )?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "{}: componentize-py could not build app.py:\n{}",
            dir.display(),
            python_error(&output.stderr)
        ));
    }
    finish(&tmp, out)?;
    Ok(true)
}

/// The Python environment for the step in `dir`.
fn environment(dir: &Path) -> Result<PathBuf, String> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let own = std::iter::once(absolute.join(".venv"));
    let active = std::env::var_os("VIRTUAL_ENV").map(PathBuf::from);
    let above = absolute.ancestors().skip(1).map(|a| a.join(".venv"));
    let found = own.chain(active).chain(above).find(|v| v.join("bin/python").exists());
    found.ok_or_else(|| {
        format!(
            "{}: no Python environment for this step (no .venv in it or above it, and none active)\n  hint: python3 -m venv {d}/.venv && {d}/.venv/bin/pip install $WEFT_HOME/step-sdk/python (the weft-step package)",
            dir.display(),
            d = dir.display()
        )
    })
}

/// The folder of the environment's `site-packages` that holds `weft_step`.
fn sdk_site(env: &Path, dir: &Path) -> Result<PathBuf, String> {
    let python = env.join("bin/python");
    let output = run(
        Command::new(&python).args([
            "-c",
            "import os, weft_step; print(os.path.dirname(os.path.dirname(os.path.abspath(weft_step.__file__))))",
        ]),
        &format!("Python ({})", python.display()),
        "install Python 3.10 or newer",
    )?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "{}: the Python environment {} cannot import the weft-step package ({})\n  hint: {}/bin/pip install $WEFT_HOME/step-sdk/python",
            dir.display(),
            env.display(),
            said.trim().lines().last().unwrap_or("no message"),
            env.display()
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

/// componentize-py's error without its own stack: the step's Python traceback (or its first lines).
fn python_error(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    // componentize-py reports a failed import as `AssertionError: <the guest's traceback>` followed by
    // `Caused by:` and a Rust backtrace.
    let guest = text.split_once("AssertionError: ").map(|(_, rest)| rest).unwrap_or(&text);
    let guest = guest.split("\nCaused by:").next().unwrap_or(guest);
    let guest = guest.split("\nStack backtrace:").next().unwrap_or(guest);
    first_lines(guest, 30)
}
