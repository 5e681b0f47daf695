//! Combine, a later version: `right` is optional. A run waiting for `right` on the version before it can
//! be upgraded to this one, and `left` alone is then a complete set.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// No state.
#[derive(Default, Serialize, Deserialize)]
pub struct Combine;

#[step]
impl Combine {
    /// Emit `Combined` with `left+right`, or `left` alone without `right`, and return it.
    #[kernel_function]
    fn combine(ctx: &Context, left: String, right: Option<String>) -> Result<String, Error> {
        let text = match right {
            Some(right) => format!("{left}+{right}"),
            None => left,
        };
        ctx.emit_public("Combined", &text)?;
        Ok(text)
    }
}
