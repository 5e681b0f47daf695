//! Notify: tell a customer that something could not be done, and why. Shared, unchanged, by the
//! account-opening and food-delivery processes.
//!
//! A notice is `{email, name, subject, summary, reasons}`: the message reads
//! "Dear <name>, <summary>: <reason>; <reason>."

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::json;
use weft_step_sdk::{Context, Error, step};

/// What to tell whom.
#[derive(Deserialize)]
struct Notice {
    email: String,
    name: String,
    subject: String,
    summary: String,
    #[serde(default)]
    reasons: Vec<String>,
}

/// Notifications sent so far.
#[derive(Default, Serialize, Deserialize)]
pub struct Notify {
    sent: u32,
}

#[step(events = ["NotificationSent"])]
impl Notify {
    /// Emit a public `NotificationSent` with the message addressed to the customer.
    #[kernel_function]
    fn send(&mut self, ctx: &Context, notice: weft_step_sdk::serde_json::Value) -> Result<(), Error> {
        let n: Notice = weft_step_sdk::serde_json::from_value(notice)
            .map_err(|e| Error::new(format!("a notice needs email, name, subject and summary: {e}")))?;
        if !n.email.contains('@') {
            return Err(Error::new(format!("\"{}\" is not an e-mail address", n.email)));
        }
        let first_name = n.name.split_whitespace().next().unwrap_or(&n.name);
        let body = if n.reasons.is_empty() {
            format!("Dear {first_name}, {}.", n.summary)
        } else {
            format!("Dear {first_name}, {}: {}.", n.summary, n.reasons.join("; "))
        };
        self.sent += 1;
        ctx.emit_public("NotificationSent", &json!({"to": n.email, "subject": n.subject, "body": body}))?;
        Ok(())
    }
}
