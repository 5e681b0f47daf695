//! Weft's end-to-end tests against real step components, in one test binary (one link of wasmtime):
//! docs/semantics.md scenarios, the examples, the same scenarios in Python and JavaScript, bad input, and the
//! store and durable runs.

mod account_opening;
mod all_of;
mod bad_input;
mod cache;
mod conditions;
mod corpus;
mod durable;
mod food_delivery;
mod hostile;
mod instances;
mod languages;
mod maps;
mod scenarios;
mod store;
mod sub_processes;
