//! Triage a support ticket: a priority from what the customer reports and their support plan, the queue
//! that handles it, and the first-reply target of that priority.
//!
//! Priorities follow the usual severity scale of support desks: P1 for an outage or data loss (first reply
//! within 1 hour), P2 for a broken feature or a security concern (4 hours), P3 for billing (1 business day),
//! P4 for questions (2 business days). An enterprise plan raises the priority one level.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// What a customer sends.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ticket {
    id: String,
    customer: String,
    plan: String,
    subject: String,
    body: String,
}

/// The triage of one ticket.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Triaged {
    ticket_id: String,
    customer: String,
    subject: String,
    priority: String,
    queue: &'static str,
    first_reply_hours: u32,
}

/// Tickets triaged so far, per priority P1..P4.
#[derive(Default, Serialize, Deserialize)]
pub struct Triage {
    by_priority: [u32; 4],
}

/// Keywords of each severity, most severe first, with the queue that takes it.
const RULES: [(&[&str], &str); 4] = [
    (&["outage", "down", "data loss", "cannot log in", "can't log in"], "incidents"),
    (&["error", "broken", "bug", "crash", "security", "vulnerability"], "engineering"),
    (&["invoice", "refund", "charge", "billing", "payment"], "billing"),
    (&[], "general"),
];
/// First-reply targets of P1..P4, in hours.
const FIRST_REPLY_HOURS: [u32; 4] = [1, 4, 24, 48];

#[step(events = ["TicketTriaged", "NeedsAgent"])]
impl Triage {
    /// Classify `ticket`; publish `TicketTriaged` and ask for an agent with `NeedsAgent`.
    #[kernel_function]
    fn triage(&mut self, ctx: &Context, ticket: weft_step_sdk::serde_json::Value) -> Result<(), Error> {
        let t: Ticket = weft_step_sdk::serde_json::from_value(ticket)
            .map_err(|e| Error::new(format!("not a ticket ({e}); expected id, customer, plan, subject, body")))?;
        let text = format!("{} {}", t.subject, t.body).to_lowercase();
        let severity = RULES
            .iter()
            .position(|(words, _)| words.is_empty() || words.iter().any(|w| text.contains(w)))
            .unwrap_or(RULES.len() - 1);
        let level = if t.plan == "enterprise" { severity.saturating_sub(1) } else { severity };
        self.by_priority[level] += 1;
        let triaged = Triaged {
            ticket_id: t.id,
            customer: t.customer,
            subject: t.subject,
            priority: format!("P{}", level + 1),
            queue: RULES[severity].1,
            first_reply_hours: FIRST_REPLY_HOURS[level],
        };
        ctx.emit_public("TicketTriaged", &triaged)?;
        ctx.emit("NeedsAgent", &triaged)?;
        Ok(())
    }
}
