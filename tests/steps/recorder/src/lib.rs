//! Recorder: keeps every value it receives, in order, and re-emits each publicly as `Recorded`.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::Value;
use weft_step_sdk::{Context, Error, step};

/// Values received so far.
#[derive(Default, Serialize, Deserialize)]
pub struct Recorder {
    seen: Vec<Value>,
}

#[step]
impl Recorder {
    /// Record `value` and emit it as `Recorded`.
    #[kernel_function]
    fn record(&mut self, ctx: &Context, value: Value) -> Result<(), Error> {
        ctx.emit_public("Recorded", &value)?;
        self.seen.push(value);
        Ok(())
    }
}
