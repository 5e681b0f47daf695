//! Weft: a business-process engine whose steps are WebAssembly components.
//!
//! The flow, one module each: a definition file is validated ([`weft_definitions`]) → its components are
//! loaded and its edges resolved ([`load`]) → the [`runner`] runs it superstep by superstep, calling steps
//! through the host capabilities in [`host`] → a [`durable`] driver commits each superstep to a [`store`]
//! → public events go to [`sinks`]; [`serve`] runs it as a service. Event data, arguments and states travel as checked JSON text
//! ([`data::Json`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use weft_engine::{load::{Runtime, RuntimeConfig}, runner::Run, data::Json};
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let process = Arc::new(runtime.load_process("examples/account-opening/process.yaml".as_ref())?);
//! let mut run = Run::new(process, "instance-1");
//! run.send("NewApplication", Json::parse(r#"{"name":"Ada"}"#.into())?)?;
//! let mut events = Vec::new();
//! let status = run.run_to_end(&mut events);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod author;
pub mod blob;
pub mod cli;
pub mod data;
pub mod dirs;
pub mod durable;
pub mod host;
pub mod load;
pub mod runner;
pub mod serve;
pub mod sinks;
pub mod store;
