//! Credit pull and rating. The applicant's credit file comes from a credit bureau over HTTP (the
//! definition grants the bureau's origin, its URL as the config value `bureauUrl` and its API key as the
//! secret `apiKey`); the score follows the published FICO weighting (payment history 35%, amounts owed
//! 30%, length of history 15%, new credit 10%, credit mix 10%) on the 300–850 range. The decision also
//! applies the 43% debt-to-income ceiling of the US qualified-mortgage rule.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Context, Error, Request, step};

/// Lowest score approved.
const MIN_SCORE: u32 = 620;
/// Highest monthly debt / monthly income approved.
const MAX_DEBT_TO_INCOME: f64 = 0.43;

/// The fields of an application this step reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Application {
    name: String,
    ssn: String,
    annual_income: f64,
    monthly_debt: f64,
}

/// The bureau's answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    credit_file: CreditFile,
}

/// A credit file as a bureau reports it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreditFile {
    late_payments_24m: u32,
    bankruptcies: u32,
    revolving_balance: f64,
    revolving_limit: f64,
    years_of_history: f64,
    hard_inquiries_12m: u32,
    account_types: u32,
}

/// Decisions taken so far.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credit {
    checked: u32,
    approved: u32,
}

#[step(events = ["CreditApproved", "CreditRejected"])]
impl Credit {
    /// Score the applicant; emit `CreditApproved` (the application with a `credit` report) or a public
    /// `CreditRejected` with the reasons.
    #[kernel_function]
    fn check(&mut self, ctx: &Context, application: Value) -> Result<u32, Error> {
        let app: Application = weft_step_sdk::serde_json::from_value(application.clone())
            .map_err(|e| Error::new(format!("the application lacks credit data: {e}")))?;
        if app.annual_income <= 0.0 {
            return Err(Error::new("annualIncome must be positive"));
        }
        let score = score(&pull(ctx, &app)?);
        let dti = app.monthly_debt / (app.annual_income / 12.0);
        let rating = match score {
            740.. => "A",
            670.. => "B",
            580.. => "C",
            _ => "D",
        };
        let mut reasons = Vec::new();
        if score < MIN_SCORE {
            reasons.push(format!("credit score {score} is below {MIN_SCORE}"));
        }
        if dti > MAX_DEBT_TO_INCOME {
            reasons.push(format!(
                "debt-to-income ratio {:.0}% is above {:.0}%",
                dti * 100.0,
                MAX_DEBT_TO_INCOME * 100.0
            ));
        }
        self.checked += 1;
        let report = json!({"score": score, "rating": rating, "debtToIncome": (dti * 1000.0).round() / 1000.0});
        if reasons.is_empty() {
            self.approved += 1;
            let mut approved = application;
            approved["credit"] = report;
            ctx.emit("CreditApproved", &approved)?;
        } else {
            let notice = json!({
                "name": app.name,
                "email": email(&application),
                "subject": "Your account application",
                "summary": "we cannot open your account",
                "credit": report,
                "reasons": reasons,
            });
            ctx.emit_public("CreditRejected", &notice)?;
        }
        Ok(score)
    }
}

/// The applicant's credit file from the bureau. Errors: no bureau configured or reachable, or it answers
/// other than 200.
fn pull(ctx: &Context, app: &Application) -> Result<CreditFile, Error> {
    let url = ctx.config("bureauUrl").ok_or("the definition gives no `bureauUrl` config value")?;
    let key = ctx.secret("apiKey")?;
    let request = Request::post(&format!("{url}/v1/credit-reports"))
        .bearer(&key)
        .header("idempotency-key", &ctx.invocation_id())
        .json(&json!({"ssn": app.ssn, "name": app.name}))?;
    let report: Report = ctx.http(request)?.ok()?.json()?;
    Ok(report.credit_file)
}

fn email(application: &Value) -> Value {
    application.get("email").cloned().unwrap_or(Value::Null)
}

/// FICO-weighted score in 300..=850.
fn score(f: &CreditFile) -> u32 {
    let payment = if f.bankruptcies > 0 { 0.0 } else { (1.0 - 0.25 * f.late_payments_24m as f64).max(0.0) };
    let utilization = if f.revolving_limit <= 0.0 { 1.0 } else { f.revolving_balance / f.revolving_limit };
    let owed = match utilization {
        u if u <= 0.10 => 1.0,
        u if u <= 0.30 => 0.8,
        u if u <= 0.50 => 0.5,
        u if u <= 0.75 => 0.25,
        _ => 0.0,
    };
    let length = (f.years_of_history / 15.0).clamp(0.0, 1.0);
    let new_credit = (1.0 - 0.2 * f.hard_inquiries_12m as f64).max(0.0);
    let mix = (f.account_types as f64 / 4.0).min(1.0);
    let weighted = 0.35 * payment + 0.30 * owed + 0.15 * length + 0.10 * new_credit + 0.10 * mix;
    (300.0 + 550.0 * weighted).round() as u32
}
