//! Payer: charges an order through an outside payment service over HTTP, passing its invocation id as the
//! idempotency key, as a step that must not charge twice would (docs/durability.md, "Invocation ids").

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Context, Error, Request, step};

/// How many orders it charged.
#[derive(Default, Serialize, Deserialize)]
pub struct Payer {
    #[serde(default)]
    charged: u32,
}

#[step]
impl Payer {
    /// POST `order` to the service at the config value `url` with `Idempotency-Key: <invocation id>`;
    /// publish `Paid` with the order, the key, the service's answer and a random number the guest drew;
    /// return the answer.
    #[kernel_function]
    fn pay(&mut self, ctx: &Context, order: Value) -> Result<Value, Error> {
        let url = ctx.config("url").ok_or_else(|| Error::new("no `url` in the step's config"))?;
        let key = ctx.invocation_id();
        let response = ctx.http(Request::post(&url).header("idempotency-key", &key).json(&order)?)?.ok()?;
        let answer: Value = response.json()?;
        let draw = getrandom::u64().map_err(|e| Error::new(e.to_string()))?;
        self.charged += 1;
        ctx.emit_public("Paid", &json!({"order": order, "key": key, "answer": answer, "draw": draw.to_string()}))?;
        Ok(answer)
    }
}
