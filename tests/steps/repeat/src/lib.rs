//! Repeat (SK's RepeatStep): joins `count` copies of the message with spaces and emits them publicly.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// `times`: the default count; `calls`: how often the step ran.
#[derive(Default, Serialize, Deserialize)]
pub struct Repeat {
    #[serde(default)]
    times: u32,
    #[serde(default)]
    calls: u32,
}

#[step]
impl Repeat {
    /// Repeat `message` `count` times (default: the state's `times`), emit `Repeated`, return the text.
    #[kernel_function]
    fn repeat(&mut self, ctx: &Context, message: String, count: Option<u32>) -> Result<String, Error> {
        let count = count.unwrap_or(self.times);
        if count > 1000 {
            return Err(Error::new(format!("count {count} is above 1000")));
        }
        self.calls += 1;
        let text = vec![message; count as usize].join(" ");
        ctx.emit_public("Repeated", &text)?;
        Ok(text)
    }
}
