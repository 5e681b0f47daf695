//! `weft describe COMPONENT`: what a step component offers, as JSON.

use std::path::Path;
use std::process::ExitCode;

use super::{CacheArgs, EXIT_BAD_INPUT, fail};

pub(super) fn describe(component: &Path, cache: &CacheArgs) -> Result<ExitCode, ExitCode> {
    let runtime = cache.runtime()?;
    let loaded = runtime.component_at(component).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let text = serde_json::to_string_pretty(&*loaded.description).expect("a description serialises");
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
