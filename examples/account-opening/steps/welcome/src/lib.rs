//! Compose the welcome message for a new customer, quoting the customer id.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::json;
use weft_step_sdk::{Context, Error, step};

/// The fields of a created account this step reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    customer_id: String,
    account_number: String,
    name: String,
    email: String,
    product: String,
    credit_limit: u64,
}

/// Messages sent so far.
#[derive(Default, Serialize, Deserialize)]
pub struct Welcome {
    sent: u32,
}

#[step(events = ["WelcomeSent"])]
impl Welcome {
    /// Emit a public `WelcomeSent` with the message addressed to the new customer.
    #[kernel_function]
    fn send(&mut self, ctx: &Context, account: weft_step_sdk::serde_json::Value) -> Result<(), Error> {
        let a: Account = weft_step_sdk::serde_json::from_value(account)
            .map_err(|e| Error::new(format!("the account lacks welcome data: {e}")))?;
        let first_name = a.name.split_whitespace().next().unwrap_or(&a.name);
        let last4 = &a.account_number[a.account_number.len().saturating_sub(4)..];
        let body = format!(
            "Dear {first_name}, welcome! Your customer id is {}. Your {} account ending in {last4} is open \
             with a credit limit of ${}.",
            a.customer_id, a.product, a.credit_limit
        );
        self.sent += 1;
        ctx.emit_public(
            "WelcomeSent",
            &json!({"to": a.email, "customerId": a.customer_id, "subject": "Welcome to Weft Bank", "body": body}),
        )?;
        Ok(())
    }
}
