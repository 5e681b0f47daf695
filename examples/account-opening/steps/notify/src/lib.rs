//! Tell a rejected applicant why, listing the reasons (credit) or signals (fraud) from the notice.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Context, Error, step};

/// Notices sent so far.
#[derive(Default, Serialize, Deserialize)]
pub struct Notify {
    sent: u32,
}

#[step]
impl Notify {
    /// Emit a public `RejectionSent` addressed to the applicant.
    #[kernel_function]
    fn rejection(&mut self, ctx: &Context, notice: Value) -> Result<(), Error> {
        let to = notice.get("email").and_then(Value::as_str).ok_or_else(|| Error::new("the notice has no email"))?;
        let name = notice.get("name").and_then(Value::as_str).unwrap_or("applicant");
        let reasons: Vec<&str> = ["reasons", "signals"]
            .iter()
            .filter_map(|k| notice.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let body = format!("Dear {name}, we cannot open your account: {}.", reasons.join("; "));
        self.sent += 1;
        ctx.emit_public("RejectionSent", &json!({"to": to, "subject": "Your application", "body": body}))?;
        Ok(())
    }
}
