//! A step's `limits`: each value parses and lies within what the engine can grant (docs/semantics.md,
//! "Limits"), and a sub-process step has none (its steps have their own).

use crate::LoadedDefinition;
use crate::error::Diagnostic;
use crate::model::{Size, StepDefinition};

/// The longest `timeout` a step may ask for: 24 hours, in milliseconds.
pub const MAX_TIMEOUT_MS: u64 = 24 * 3_600_000;
/// The most `memory` a step may ask for: 4 GiB, all a 32-bit linear memory can address.
pub const MAX_MEMORY: u64 = 4 << 30;
/// The largest `maxEventSize` and `maxStateSize` a step may ask for: 1 GiB.
pub const MAX_DATA_SIZE: u64 = 1 << 30;

/// Every problem with the `limits` of step `i`, pushed onto `out`.
pub fn check(loaded: &LoadedDefinition, i: usize, step: &StepDefinition, out: &mut Vec<Diagnostic>) {
    let Some(limits) = &step.limits else { return };
    let at = |key: &str| format!("/steps/{i}/limits/{key}");
    not_on_sub_process(loaded, i, step, "limits", out);
    if let Some(timeout) = &limits.timeout
        && let Some(ms) = crate::check::duration(loaded, &at("timeout"), timeout, out)
        && (ms == 0 || ms > MAX_TIMEOUT_MS)
    {
        out.push(loaded.diagnostic(
            &at("timeout"),
            format!("`timeout: {}` is out of range", timeout.0),
            Some("give one from 1ms to 24h".into()),
        ));
    }
    let sizes = [("memory", &limits.memory, MAX_MEMORY), ("maxEventSize", &limits.max_event_size, MAX_DATA_SIZE)];
    for (key, size, max) in sizes.into_iter().chain([("maxStateSize", &limits.max_state_size, MAX_DATA_SIZE)]) {
        if let Some(size) = size {
            size_in_range(loaded, &at(key), key, size, max, out);
        }
    }
}

/// A problem if step `i` runs a process and has `key` (`limits`, `capabilities`), which belongs on the
/// sub-process's own steps.
pub(crate) fn not_on_sub_process(
    loaded: &LoadedDefinition,
    i: usize,
    step: &StepDefinition,
    key: &str,
    out: &mut Vec<Diagnostic>,
) {
    if step.process.is_some() {
        out.push(loaded.diagnostic(
            &format!("/steps/{i}/{key}"),
            format!("step \"{}\" runs a process, whose steps have their own {key}", step.id),
            Some(format!("move `{key}` to the steps of the sub-process that need them")),
        ));
    }
}

/// A problem with `size` (at `pointer`, key `key`) if it does not parse or lies outside 1 byte..=`max`.
pub(crate) fn size_in_range(
    loaded: &LoadedDefinition,
    pointer: &str,
    key: &str,
    size: &Size,
    max: u64,
    out: &mut Vec<Diagnostic>,
) {
    match size.bytes() {
        Some(bytes) if (1..=max).contains(&bytes) => {}
        Some(_) => out.push(loaded.diagnostic(
            pointer,
            format!("`{key}: {}` is out of range", size.0),
            Some(format!("give one from 1B to {}", human(max))),
        )),
        None => out.push(loaded.diagnostic(
            pointer,
            format!("\"{}\" is not a size", size.0),
            Some(crate::model::SIZE_HINT.into()),
        )),
    }
}

/// `bytes` in the largest binary unit it reaches: exact when that unit divides it (`4GiB`, `32MiB`),
/// else to one decimal (`95.4MiB`); below 1 KiB in bytes (`512B`).
pub fn human(bytes: u64) -> String {
    for (unit, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor {
            return if bytes.is_multiple_of(factor) {
                format!("{}{unit}", bytes / factor)
            } else {
                format!("{:.1}{unit}", bytes as f64 / factor as f64)
            };
        }
    }
    format!("{bytes}B")
}
