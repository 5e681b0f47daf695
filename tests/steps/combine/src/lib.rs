//! Combine: a fan-in of two required parameters, `left` and `right`.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// No state.
#[derive(Default, Serialize, Deserialize)]
pub struct Combine;

#[step]
impl Combine {
    /// Emit `Combined` with `left+right` and return it.
    #[kernel_function]
    fn combine(ctx: &Context, left: String, right: String) -> Result<String, Error> {
        let text = format!("{left}+{right}");
        ctx.emit_public("Combined", &text)?;
        Ok(text)
    }
}
