//! Order intake (Rust): check an order, then fan it out — one `PrepareItem` per line for the kitchen, and
//! `OrderAccepted` so that quality control knows how many items to wait for.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Context, Error, step};

/// Kitchen stations an item can be made at.
const STATIONS: [&str; 4] = ["grill", "fryer", "oven", "cold"];
/// Most lines and most units per line one order may have.
const MAX_LINES: usize = 20;
const MAX_QUANTITY: u32 = 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_id: String,
    customer: Customer,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Customer {
    name: String,
    email: String,
}

#[derive(Deserialize)]
struct Item {
    name: String,
    station: String,
    quantity: u32,
}

/// Orders accepted and rejected so far.
#[derive(Default, Serialize, Deserialize)]
pub struct Intake {
    accepted: u32,
    rejected: u32,
}

#[step(events = ["OrderAccepted", "OrderRejected", "PrepareItem"])]
impl Intake {
    /// Check the order; emit `OrderAccepted` and one `PrepareItem` per line, or a public `OrderRejected`
    /// notice with the reasons.
    #[kernel_function]
    fn accept(&mut self, ctx: &Context, order: Value) -> Result<(), Error> {
        let o: Order = weft_step_sdk::serde_json::from_value(order.clone())
            .map_err(|e| Error::new(format!("not an order: {e}")))?;
        let mut reasons = Vec::new();
        if o.items.is_empty() || o.items.len() > MAX_LINES {
            reasons.push(format!("an order has 1 to {MAX_LINES} lines, this one has {}", o.items.len()));
        }
        for item in &o.items {
            if !STATIONS.contains(&item.station.as_str()) {
                reasons.push(format!("{}: we have no {} station", item.name, item.station));
            }
            if item.quantity == 0 || item.quantity > MAX_QUANTITY {
                reasons.push(format!("{}: quantity {} is not between 1 and {MAX_QUANTITY}", item.name, item.quantity));
            }
        }
        if !reasons.is_empty() {
            self.rejected += 1;
            let notice = json!({
                "orderId": o.order_id,
                "name": o.customer.name,
                "email": o.customer.email,
                "subject": format!("Your order {}", o.order_id),
                "summary": "we cannot take your order",
                "reasons": reasons,
            });
            ctx.emit_public("OrderRejected", &notice)?;
            return Ok(());
        }
        self.accepted += 1;
        let mut accepted = order;
        accepted["itemCount"] = json!(o.items.len());
        ctx.emit("OrderAccepted", &accepted)?;
        for (index, item) in o.items.iter().enumerate() {
            let line = json!({"orderId": o.order_id, "index": index, "name": item.name, "station": item.station, "quantity": item.quantity});
            ctx.emit("PrepareItem", &line)?;
        }
        Ok(())
    }
}
