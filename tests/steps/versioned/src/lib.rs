//! Versioned: a step at state version 2 (`{total, visits}`) that migrates version 1 (`{count}`).

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Error, step};

/// Version 2 of the state: version 1's `count` is now `total`, and visits are counted.
#[derive(Default, Serialize, Deserialize)]
pub struct Versioned {
    total: u64,
    visits: u32,
}

impl Versioned {
    /// Version 1 `{count}` → version 2 `{total: count, visits: 0}`.
    fn upgrade(from: u32, old: Value) -> Result<Value, Error> {
        match from {
            1 => Ok(json!({"total": old["count"].as_u64().unwrap_or(0), "visits": 0})),
            other => Err(Error::new(format!("no migration from state version {other}"))),
        }
    }
}

#[step(state_version = 2, migrate = Self::upgrade)]
impl Versioned {
    /// Add `amount` to the total and return it.
    #[kernel_function]
    fn add(&mut self, amount: u64) -> Result<u64, Error> {
        self.total += amount;
        self.visits += 1;
        Ok(self.total)
    }
}
