//! Flaky: an outside service that is down until a moment given in the state; calls before it fail.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::Value;
use weft_step_sdk::{Context, Error, step};

/// When the service comes back, in ms since the Unix epoch, and the calls answered.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flaky {
    up_from_ms: u64,
    #[serde(default)]
    answered: u32,
}

#[step]
impl Flaky {
    /// Fail while the guest's clock is before `upFromMs`; then publish `Answered` with `request`.
    #[kernel_function]
    fn call(&mut self, ctx: &Context, request: Value) -> Result<Value, Error> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| Error::new(e.to_string()))?
            .as_millis();
        if now < u128::from(self.up_from_ms) {
            return Err(Error::new(format!(
                "the service is unavailable ({} ms to go)",
                u128::from(self.up_from_ms) - now
            )));
        }
        self.answered += 1;
        ctx.emit_public("Answered", &request)?;
        Ok(request)
    }
}
