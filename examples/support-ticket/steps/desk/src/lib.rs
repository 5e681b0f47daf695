//! The support desk: close a ticket with an agent's reply, or escalate it to the queue's duty manager when
//! no agent replied in time.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Context, Error, step};

/// An agent's reply, as `weft send` delivers it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    ticket_id: String,
    agent: String,
    message: String,
}

/// Tickets closed and escalated so far.
#[derive(Default, Serialize, Deserialize)]
pub struct Desk {
    resolved: u32,
    escalated: u32,
}

/// Who is on duty for each queue's escalations.
fn duty_manager(queue: &str) -> &'static str {
    match queue {
        "incidents" => "incident-commander@example.com",
        "engineering" => "eng-duty@example.com",
        "billing" => "billing-lead@example.com",
        _ => "support-lead@example.com",
    }
}

#[step(events = ["TicketResolved", "TicketEscalated"])]
impl Desk {
    /// Close the ticket with the agent's `reply`; publish `TicketResolved` with the reference a customer
    /// quotes (built from the invocation id, stable if the run is resumed after a crash).
    #[kernel_function]
    fn resolve(&mut self, ctx: &Context, reply: Value) -> Result<(), Error> {
        let r: Reply = weft_step_sdk::serde_json::from_value(reply)
            .map_err(|e| Error::new(format!("not a reply ({e}); expected ticketId, agent, message")))?;
        self.resolved += 1;
        let resolved = json!({
            "ticketId": r.ticket_id, "agent": r.agent, "reply": r.message, "reference": ctx.invocation_id(),
        });
        ctx.emit_public("TicketResolved", &resolved)
    }

    /// No agent replied in time: hand the `ticket` (its triage) to the queue's duty manager.
    #[kernel_function]
    fn escalate(&mut self, ctx: &Context, ticket: Value) -> Result<(), Error> {
        let queue = ticket["queue"].as_str().unwrap_or("general");
        self.escalated += 1;
        let escalated = json!({
            "ticketId": ticket["ticketId"], "priority": ticket["priority"], "queue": queue,
            "to": duty_manager(queue), "reason": "no agent replied within 72 hours",
        });
        ctx.emit_public("TicketEscalated", &escalated)
    }
}
