//! {{name}}: a Weft step. `weft build` makes it a component ({{name}}.wasm beside this folder).

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::json;
use weft_step_sdk::{Context, Error, step};

/// Whom to greet.
#[derive(Deserialize)]
pub struct Customer {
    name: String,
    email: String,
}

/// The step's state: the engine keeps it between invocations and checkpoints it.
#[derive(Default, Serialize, Deserialize)]
pub struct {{Name}} {
    greeted: u32,
}

#[step(events = ["Greeted"])]
impl {{Name}} {
    /// Greet `customer` (`{"name", "email"}`), count the greetings, and emit a public `Greeted` event
    /// holding a notice for them (the shape the shared notify step sends).
    #[kernel_function]
    fn greet(&mut self, ctx: &Context, customer: Customer) -> Result<String, Error> {
        self.greeted += 1;
        let summary = format!("welcome, you are greeting number {}", self.greeted);
        let notice = json!({ "name": customer.name, "email": customer.email, "subject": "Welcome", "summary": summary });
        ctx.emit_public("Greeted", &notice)?;
        Ok(format!("Hello, {}!", customer.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_step_sdk::testing::TestContext;

    #[test]
    fn greets_and_counts() {
        let ada = json!({ "customer": { "name": "Ada", "email": "ada@example.com" } });
        let out = TestContext::new().invoke::<{{Name}}>("greet", ada, Some(json!({ "greeted": 1 }))).unwrap();
        assert_eq!(out.result, json!("Hello, Ada!"));
        assert_eq!(out.state, Some(json!({ "greeted": 2 })));
        assert_eq!(out.events[0].event_type, "Greeted");
        assert_eq!(out.events[0].data["summary"], json!("welcome, you are greeting number 2"));
    }
}
