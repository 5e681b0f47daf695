//! Failer: fails on purpose, as a business error or as a trap, to test error routing and containment.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// Attempts so far (a failed invocation must leave this unchanged).
#[derive(Default, Serialize, Deserialize)]
pub struct Failer {
    attempts: u32,
}

#[step]
impl Failer {
    /// Always fail with `reason` (after bumping `attempts`, which the engine must discard).
    #[kernel_function]
    fn explode(&mut self, ctx: &Context, reason: String) -> Result<(), Error> {
        self.attempts += 1;
        ctx.emit_public("Exploding", &reason)?;
        Err(Error::new(reason))
    }

    /// Trap (a Rust panic inside the component).
    #[kernel_function]
    fn crash(&mut self, reason: String) {
        self.attempts += 1;
        panic!("{reason}");
    }
}
