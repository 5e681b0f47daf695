//! `weft:step/config`: the configuration values the definition gives a step (`capabilities.config`),
//! resolved when the definition is loaded (literals as written, `{ env: NAME }` from the engine's
//! environment). A name the definition does not give reads as none.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::host::bindings::weft::step::config::Host;

/// A step's configuration values, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config(pub BTreeMap<String, String>);

/// The `config` interface of one instance.
#[derive(Debug, Clone, Default)]
pub struct ConfigHost(pub Arc<Config>);

impl Host for ConfigHost {
    fn get(&mut self, name: String) -> Option<String> {
        self.0.0.get(&name).cloned()
    }
}
