//! Fraud screening on the applicant's identity: age at application (18+), Social Security number validity
//! (the SSA's never-issued areas 000, 666 and 900–999, group 00, serial 0000), disposable e-mail domains,
//! and a mismatch between the phone's country code and the address country.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Context, Error, step};

const DISPOSABLE_DOMAINS: [&str; 6] =
    ["mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com", "yopmail.com", "trashmail.com"];

/// The fields of an application this step reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    name: String,
    date_of_birth: String,
    submitted_on: String,
    ssn: String,
    email: String,
    phone: String,
    country: String,
}

/// Screenings so far and how many were flagged.
#[derive(Default, Serialize, Deserialize)]
pub struct Fraud {
    screened: u32,
    flagged: u32,
}

#[step(events = ["FraudPassed", "FraudFlagged"])]
impl Fraud {
    /// Screen an application that passed the credit check; emit `FraudPassed` (the application) or a
    /// public `FraudFlagged` notice with the signals found as its reasons.
    #[kernel_function]
    fn screen(&mut self, ctx: &Context, application: Value) -> Result<(), Error> {
        let id: Identity = weft_step_sdk::serde_json::from_value(application.clone())
            .map_err(|e| Error::new(format!("the application lacks identity data: {e}")))?;
        let mut signals = Vec::new();
        match age(&id.date_of_birth, &id.submitted_on) {
            Some(age) if age < 18 => signals.push(format!("applicant is {age}, under 18")),
            Some(_) => {}
            None => signals.push("dateOfBirth or submittedOn is not a YYYY-MM-DD date".into()),
        }
        if let Err(why) = check_ssn(&id.ssn) {
            signals.push(why);
        }
        let domain = id.email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
        if DISPOSABLE_DOMAINS.contains(&domain.as_str()) {
            signals.push(format!("e-mail domain {domain} is a disposable-address service"));
        }
        let expected = match id.country.as_str() {
            "US" | "CA" => "+1",
            "GB" => "+44",
            "DE" => "+49",
            "FR" => "+33",
            _ => "",
        };
        if !expected.is_empty() && !id.phone.starts_with(expected) {
            signals.push(format!("phone {} does not match country {}", id.phone, id.country));
        }
        self.screened += 1;
        if signals.is_empty() {
            ctx.emit("FraudPassed", &application)?;
        } else {
            self.flagged += 1;
            let notice = json!({
                "name": id.name,
                "email": id.email,
                "subject": "Your account application",
                "summary": "we cannot open your account",
                "reasons": signals,
            });
            ctx.emit_public("FraudFlagged", &notice)?;
        }
        Ok(())
    }
}

/// Whole years between two `YYYY-MM-DD` dates.
fn age(born: &str, on: &str) -> Option<i32> {
    let parse = |d: &str| -> Option<(i32, u32, u32)> {
        let mut parts = d.splitn(3, '-');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    let ((by, bm, bd), (y, m, d)) = (parse(born)?, parse(on)?);
    Some(y - by - i32::from((m, d) < (bm, bd)))
}

/// The SSA's rules for numbers that are never issued.
fn check_ssn(ssn: &str) -> Result<(), String> {
    let digits: String = ssn.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 9 {
        return Err(format!("SSN {ssn} does not have 9 digits"));
    }
    let (area, group, serial) = (&digits[0..3], &digits[3..5], &digits[5..9]);
    let area_n: u32 = area.parse().unwrap_or(0);
    if area == "000" || area == "666" || area_n >= 900 || group == "00" || serial == "0000" {
        return Err(format!("SSN {ssn} is in a range the SSA never issues"));
    }
    Ok(())
}
