//! Create the customer and the account: assigns the customer id and the account number from the step's
//! state (a durable sequence), and sets the credit limit from the credit rating and income.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::json;
use weft_step_sdk::{Context, Error, step};

/// The fields of an approved application this step reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Approved {
    name: String,
    email: String,
    annual_income: f64,
    product: Option<String>,
    credit: Credit,
}

#[derive(Deserialize)]
struct Credit {
    rating: String,
}

/// The next customer number; the definition sets where it starts.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accounts {
    next_customer: u64,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts { next_customer: 1 }
    }
}

#[step]
impl Accounts {
    /// Open the account; emit a public `AccountCreated` with the customer id, and return it.
    #[kernel_function]
    fn create(&mut self, ctx: &Context, application: weft_step_sdk::serde_json::Value) -> Result<String, Error> {
        let app: Approved = weft_step_sdk::serde_json::from_value(application)
            .map_err(|e| Error::new(format!("the application lacks account data: {e}")))?;
        let share = match app.credit.rating.as_str() {
            "A" => 0.30,
            "B" => 0.20,
            _ => 0.10,
        };
        let credit_limit = ((app.annual_income * share / 12.0 / 100.0).round() * 100.0) as u64;
        let customer_id = format!("CUST-{:06}", self.next_customer);
        let account_number = format!("{:010}", 4_000_000_000 + self.next_customer * 7);
        self.next_customer += 1;
        ctx.emit_public(
            "AccountCreated",
            &json!({
                "customerId": customer_id,
                "accountNumber": account_number,
                "name": app.name,
                "email": app.email,
                "product": app.product.unwrap_or_else(|| "checking".into()),
                "creditLimit": credit_limit,
            }),
        )?;
        Ok(customer_id)
    }
}
