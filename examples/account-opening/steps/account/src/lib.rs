//! Underwrite and open the account. `underwrite` takes the joined result of the credit and fraud checks
//! (the all-of group's object, keyed `credit.CreditApproved` and `fraud.FraudPassed`) and sets the credit
//! limit from the credit rating and income; `create` assigns the customer id and the account number from
//! the step's state (a durable sequence).

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Context, Error, step};

/// What the all-of group of the two checks delivers.
#[derive(Deserialize)]
struct Checks {
    #[serde(rename = "credit.CreditApproved")]
    credit: Approved,
    #[serde(rename = "fraud.FraudPassed")]
    fraud: Value,
}

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

/// An underwritten application, as `create` takes it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Underwritten {
    name: String,
    email: String,
    product: String,
    rating: String,
    credit_limit: u64,
}

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

#[step(events = ["Underwritten", "AccountCreated"])]
impl Accounts {
    /// Both checks passed: the credit limit (30%, 20% or 10% of a month's income for ratings A, B and
    /// others, in hundreds), emitted with the application as `Underwritten`.
    #[kernel_function]
    fn underwrite(ctx: &Context, checks: Value) -> Result<u64, Error> {
        let checks: Checks = weft_step_sdk::serde_json::from_value(checks)
            .map_err(|e| Error::new(format!("underwriting needs both checks' results: {e}")))?;
        if checks.fraud.get("email").and_then(Value::as_str) != Some(checks.credit.email.as_str()) {
            return Err(Error::new("the credit and fraud checks are of different applications"));
        }
        let app = checks.credit;
        let share = match app.credit.rating.as_str() {
            "A" => 0.30,
            "B" => 0.20,
            _ => 0.10,
        };
        let credit_limit = ((app.annual_income * share / 12.0 / 100.0).round() * 100.0) as u64;
        let underwritten = Underwritten {
            name: app.name,
            email: app.email,
            product: app.product.unwrap_or_else(|| "checking".into()),
            rating: app.credit.rating,
            credit_limit,
        };
        ctx.emit("Underwritten", &underwritten)?;
        Ok(credit_limit)
    }

    /// Open the account of an underwritten application.
    #[kernel_function]
    fn create(&mut self, ctx: &Context, application: Value) -> Result<String, Error> {
        let app: Underwritten = weft_step_sdk::serde_json::from_value(application)
            .map_err(|e| Error::new(format!("the application is not underwritten: {e}")))?;
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
                "product": app.product,
                "creditLimit": app.credit_limit,
            }),
        )?;
        Ok(customer_id)
    }
}
