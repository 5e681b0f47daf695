//! Write a Weft step component in plain Rust.
//!
//! A step is a state type (serde, `Default`) with kernel functions as methods. `#[step]` on the `impl`
//! block generates the description (names, parameters, which are required, JSON Schemas for plain types),
//! the JSON (de)serialisation of arguments, results and state, and the component's exports. The author never
//! touches the WIT.
//!
//! ```ignore
//! use serde::{Deserialize, Serialize};
//! use weft_step_sdk::{Context, Error, step};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Repeat { times: u32 }
//!
//! #[step]
//! impl Repeat {
//!     /// Repeat `message`, `count` times (default: the state's `times`).
//!     #[kernel_function]
//!     fn repeat(&mut self, ctx: &Context, message: String, count: Option<u32>) -> Result<String, Error> {
//!         let text = vec![message; count.unwrap_or(self.times) as usize].join(" ");
//!         ctx.emit_public("Repeated", &text)?;
//!         Ok(text)
//!     }
//! }
//! ```
//!
//! Rules: a parameter of type `&Context` receives the context; every other parameter is a kernel-function
//! parameter, required unless its type is `Option<_>`. A method may return a value, `()`, or
//! `Result<_, E>` where `E: Display` (an `Err` fails the invocation and leaves the state as it was).
//! A step whose state serialises to `null` (a unit struct) is stateless. Build with
//! `cargo build --target wasm32-wasip2 --release`; the crate must be a `cdylib`.

pub use weft_step_sdk_macros::step;

/// Bindings generated from `wit/step.wit` (this crate's copy of the repository's `wit/step.wit`); used by the generated code, not by step authors. (The
/// generated lifting of `invocation` takes one argument per flattened field.)
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "weft:step/step",
        pub_export_macro: true,
        export_macro_name: "__export_step_world",
        default_bindings_module: "weft_step_sdk::bindings",
    });
}

mod context;
mod error;
#[doc(hidden)]
pub mod glue;
pub mod http;
pub mod testing;

pub use context::{Context, LogLevel};
pub use error::Error;
pub use glue::Step;
pub use http::{Request, Response};

/// Serde, re-exported so that a step crate's derive attributes and this SDK agree on one version.
pub use serde;
/// serde_json, re-exported for `serde_json::Value` parameters.
pub use serde_json;
