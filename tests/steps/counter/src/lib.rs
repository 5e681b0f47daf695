//! Counter: a kernel function without parameters that loops through `Again` until `limit`, then emits `Done`.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// Rounds so far and the round at which to stop.
#[derive(Serialize, Deserialize)]
pub struct Counter {
    count: u32,
    limit: u32,
}

impl Default for Counter {
    fn default() -> Self {
        Counter { count: 0, limit: 3 }
    }
}

#[step]
impl Counter {
    /// Count one round; emit `Again` below the limit, else a public `Done` with the count.
    #[kernel_function]
    fn tick(&mut self, ctx: &Context) -> Result<u32, Error> {
        self.count += 1;
        if self.count < self.limit {
            ctx.emit("Again", &self.count)?;
        } else {
            ctx.emit_public("Done", &self.count)?;
        }
        Ok(self.count)
    }
}
