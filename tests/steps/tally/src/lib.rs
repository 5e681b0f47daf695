//! Tally: a stateful fan-in of two numbers that publishes its running total with the invocation id and
//! the time the guest sees (both must be the same when a superstep is re-run after a crash).

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// The running total and how many pairs made it.
#[derive(Default, Serialize, Deserialize)]
pub struct Tally {
    total: u64,
    pairs: u32,
}

/// What `Tallied` carries.
#[derive(Serialize)]
struct Tallied {
    total: u64,
    pairs: u32,
    invocation: String,
    /// Milliseconds since the Unix epoch, as the guest's WASI wall clock says.
    time_ms: u128,
}

#[step]
impl Tally {
    /// Add `left + right` to the total; publish `Tallied`; return the total.
    #[kernel_function]
    fn add(&mut self, ctx: &Context, left: u64, right: u64) -> Result<u64, Error> {
        self.total += left + right;
        self.pairs += 1;
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| Error::new(e.to_string()))?
            .as_millis();
        let tallied = Tallied { total: self.total, pairs: self.pairs, invocation: ctx.invocation_id(), time_ms };
        ctx.emit_public("Tallied", &tallied)?;
        Ok(self.total)
    }
}
