//! JavaScript steps: the `weft-step` npm package's build script (esbuild, then componentize-qjs, both
//! pinned by the package), run by Node.
//!
//! The package is found as Node finds it: `node_modules/weft-step` in the step's folder or any folder
//! above it, then in each folder of `$NODE_PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tools::{canonical, finish, first_lines, run, stale, temporary};

/// Build the JavaScript step in `dir` into `out`, unless `out` is newer than the step's files and the SDK
/// (`force` rebuilds anyway). Returns whether it was built.
///
/// Errors: no `weft-step` package or no Node (what to install), the bundler's or componentize-qjs's first
/// error, or `out` cannot be written.
pub(super) fn build(dir: &Path, out: &Path, force: bool) -> Result<bool, String> {
    let sdk = sdk(dir)?;
    if !force && !stale(out, &[dir, &sdk]) {
        return Ok(false);
    }
    let tmp = temporary(out);
    let output = run(
        Command::new("node").arg(sdk.join("build.mjs")).arg(dir.join("app.js")).arg(&tmp),
        "node (Node.js)",
        "install Node.js 18 or newer",
    )?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        let text = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{}: could not build app.js:\n{}", dir.display(), first_lines(&text, 30)));
    }
    finish(&tmp, out)?;
    Ok(true)
}

/// The `weft-step` package's folder (symbolic links resolved).
fn sdk(dir: &Path) -> Result<PathBuf, String> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let node_path = std::env::var_os("NODE_PATH").unwrap_or_default();
    let found = absolute
        .ancestors()
        .map(|a| a.join("node_modules"))
        .chain(std::env::split_paths(&node_path))
        .map(|m| m.join("weft-step"))
        .find(|p| p.join("build.mjs").is_file());
    let found = found.ok_or_else(|| {
        format!(
            "{}: the weft-step package is not installed for this step (no node_modules/weft-step in it or above it, nor in $NODE_PATH)\n  hint: cd {} && npm install $WEFT_HOME/step-sdk/js (the weft-step package)",
            dir.display(),
            dir.display()
        )
    })?;
    Ok(canonical(&found))
}
