//! Echo (SK's EchoStep): returns its message unchanged. Stateless.

use serde::{Deserialize, Serialize};
use weft_step_sdk::step;

/// No state.
#[derive(Default, Serialize, Deserialize)]
pub struct Echo;

#[step]
impl Echo {
    /// Return `message` unchanged.
    #[kernel_function]
    fn echo(message: String) -> String {
        message
    }
}
