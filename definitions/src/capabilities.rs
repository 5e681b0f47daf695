//! A step's `capabilities`: what it may do beyond computing, each denied unless granted here
//! (docs/semantics.md, "Capabilities"): outbound HTTP to listed origins, configuration values, secrets.
//!
//! ```yaml
//! capabilities:
//!   http:
//!     allow: ["https://bureau.example.com", "http://127.0.0.1:47125"]
//!     timeout: 5s
//!     maxResponseSize: 1MiB
//!   config:
//!     bureauUrl: http://127.0.0.1:47125
//!     region: { env: WEFT_REGION }
//!   secrets:
//!     apiKey: { env: CREDIT_BUREAU_KEY }
//!     signingKey: { file: /run/secrets/signing.key }
//! ```

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::LoadedDefinition;
use crate::error::Diagnostic;
use crate::model::{Duration, Size, StepDefinition};

/// The pattern of an allowed origin: `http` or `https`, a host name, IPv4 or bracketed IPv6 address,
/// an optional port, nothing after (a trailing `/` aside).
pub const ORIGIN_PATTERN: &str = r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?/?$";

/// The pattern of an environment variable's name.
pub const ENV_NAME_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";

/// The longest HTTP `timeout` a step may ask for: 10 minutes, in milliseconds.
pub const MAX_HTTP_TIMEOUT_MS: u64 = 600_000;
/// The largest `maxResponseSize` a step may ask for: 256 MiB.
pub const MAX_RESPONSE_SIZE: u64 = 256 << 20;

/// What a step may do besides computing. Everything left out is denied.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Outbound HTTP (the `weft:step/http` interface).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpGrant>,
    /// Configuration values by name (the `weft:step/config` interface): text, a number or a boolean, or
    /// `{ env: NAME }` to read the engine's environment when the definition is loaded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, ConfigValue>,
    /// Secrets by name (the `weft:step/secrets` interface), read when the definition is loaded and never
    /// stored: `{ env: NAME }` or `{ file: PATH }` (relative to the definition file).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretSource>,
}

/// `http: { allow: [...], timeout: 10s, maxResponseSize: 4MiB }`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpGrant {
    /// Origins the step may call, `scheme://host[:port]` (port defaults to 80 for `http`, 443 for
    /// `https`). A request to any other origin is refused inside the guest.
    #[schemars(length(min = 1))]
    pub allow: Vec<Origin>,
    /// Longest one request may take, connection to last byte (default `10s`, at most `10m`; never past
    /// the invocation's own time limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Largest response body accepted (default `4MiB`, at most `256MiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_size: Option<Size>,
}

/// An origin a step may call: `https://api.example.com`, `http://127.0.0.1:8080`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Origin(#[schemars(regex(pattern = ORIGIN_PATTERN))] pub String);

/// The port a URL of `scheme` (lower-case) means when it names none: 443 for `https`, else 80.
pub fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

impl Origin {
    /// `(scheme, host, port)`: scheme and host lower-cased, the port given or the scheme's default.
    /// `None` when the text does not fit [`ORIGIN_PATTERN`] or the port is over 65535.
    pub fn parts(&self) -> Option<(String, String, u16)> {
        let (scheme, rest) = self.0.split_once("://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let scheme = scheme.to_ascii_lowercase();
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
            _ => (rest, default_port(&scheme)),
        };
        if host.is_empty() || !matches!(scheme.as_str(), "http" | "https") {
            return None;
        }
        Some((scheme, host.to_ascii_lowercase(), port))
    }
}

/// A configuration value: literal, or read from the engine's environment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfigValue {
    /// Text, as given.
    Text(String),
    /// A number, handed over as its JSON text (`8080`, `0.25`).
    Number(serde_json::Number),
    /// `true` or `false`.
    Bool(bool),
    /// `{ env: NAME, default: TEXT }`: the engine's environment variable `NAME`, else `default`; with
    /// neither, loading fails.
    Env(EnvValue),
}

/// `{ env: NAME, default: TEXT }`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvValue {
    /// The environment variable's name.
    #[schemars(regex(pattern = ENV_NAME_PATTERN))]
    pub env: String,
    /// The value when the variable is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Where a secret comes from. Never a literal: a secret written in the definition would be stored with it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SecretSource {
    /// `{ env: NAME }`: the engine's environment variable `NAME`.
    Env(EnvSecret),
    /// `{ file: PATH }`: the file's text, one trailing newline dropped; relative to the definition file.
    File(FileSecret),
}

/// `{ env: NAME }`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvSecret {
    /// The environment variable's name.
    #[schemars(regex(pattern = ENV_NAME_PATTERN))]
    pub env: String,
}

/// `{ file: PATH }`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSecret {
    /// The file's path, relative to the definition file.
    #[schemars(length(min = 1))]
    pub file: String,
}

/// Every problem with the `capabilities` of step `i`, pushed onto `out`: a sub-process step has none (its
/// steps have their own), origins parse, the timeout and size lie in range, names are not empty.
pub fn check(loaded: &LoadedDefinition, i: usize, step: &StepDefinition, out: &mut Vec<Diagnostic>) {
    let Some(caps) = &step.capabilities else { return };
    let at = |key: &str| format!("/steps/{i}/capabilities/{key}");
    crate::limits::not_on_sub_process(loaded, i, step, "capabilities", out);
    if let Some(http) = &caps.http {
        for (n, origin) in http.allow.iter().enumerate() {
            if origin.parts().is_none() {
                out.push(loaded.diagnostic(
                    &at(&format!("http/allow/{n}")),
                    format!("\"{}\" is not an origin", origin.0),
                    Some("write `http://host:port` or `https://host` (no path)".into()),
                ));
            }
        }
        if let Some(timeout) = &http.timeout
            && let Some(ms) = crate::check::duration(loaded, &at("http/timeout"), timeout, out)
            && (ms == 0 || ms > MAX_HTTP_TIMEOUT_MS)
        {
            out.push(loaded.diagnostic(
                &at("http/timeout"),
                format!("`timeout: {}` is out of range", timeout.0),
                Some("give one from 1ms to 10m".into()),
            ));
        }
        if let Some(size) = &http.max_response_size {
            let key = "maxResponseSize";
            crate::limits::size_in_range(loaded, &at("http/maxResponseSize"), key, size, MAX_RESPONSE_SIZE, out);
        }
    }
    let names = caps.config.keys().map(|k| ("config", k)).chain(caps.secrets.keys().map(|k| ("secrets", k)));
    for (what, name) in names {
        if name.trim().is_empty() {
            out.push(loaded.diagnostic(
                &at(what),
                format!("step \"{}\" names one of its {what} with an empty name", step.id),
                Some("give each a name the step asks for".into()),
            ));
        }
    }
}
