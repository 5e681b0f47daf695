//! `weft:step/secrets`: secrets the definition grants a step (`capabilities.secrets`), read by the engine
//! from its environment or a file when the definition is loaded, and never stored.
//!
//! A secret's value must not leave the step in anything Weft keeps or prints. [`Secrets::redact`]
//! replaces it with `[secret:NAME]` in the step's events, result, state, error messages and log lines
//! (and captured stdout/stderr), both as written and as escaped inside a JSON string. The replacement
//! holds no JSON-special character, so redacted JSON text stays JSON.

use std::borrow::Cow;
use std::sync::Arc;

use crate::host::bindings::weft::step::secrets::Host;

/// One granted secret.
#[derive(Clone, PartialEq, Eq)]
struct Secret {
    name: String,
    value: String,
    /// The value as it appears inside a JSON string (`"` → `\"`, …), when that differs.
    escaped: Option<String>,
}

/// A step's secrets, by name. `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(Vec<Secret>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|s| &s.name)).finish()
    }
}

impl Secrets {
    /// Secrets from `(name, value)` pairs. Empty values are kept (they read as empty) but never redacted.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut secrets: Vec<Secret> = pairs
            .into_iter()
            .map(|(name, value)| {
                let json = serde_json::to_string(&value).unwrap_or_default();
                let inner = json.get(1..json.len().saturating_sub(1)).unwrap_or_default();
                let escaped = (inner != value).then(|| inner.to_string());
                Secret { name, value, escaped }
            })
            .collect();
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.value.len()));
        Secrets(secrets)
    }

    /// Whether no secret is granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of secret `name`, if granted.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|s| s.name == name).map(|s| s.value.as_str())
    }

    /// `text` (borrowed or owned) with every secret's value replaced by `[secret:NAME]`; `text` itself,
    /// not copied, when it holds none.
    pub fn redact<'a>(&self, text: impl Into<Cow<'a, str>>) -> Cow<'a, str> {
        let mut text = text.into();
        for secret in &self.0 {
            for value in std::iter::once(&secret.value).chain(&secret.escaped) {
                if !value.is_empty() && text.contains(value.as_str()) {
                    text = Cow::Owned(text.replace(value.as_str(), &format!("[secret:{}]", secret.name)));
                }
            }
        }
        text
    }
}

/// The `secrets` interface of one instance.
#[derive(Debug, Clone)]
pub struct SecretsHost {
    step: String,
    secrets: Arc<Secrets>,
}

impl SecretsHost {
    /// The secrets `secrets` granted to step `step`.
    pub fn new(step: &str, secrets: Arc<Secrets>) -> Self {
        SecretsHost { step: step.into(), secrets }
    }

    /// The same secrets, granted to step `step` (named in messages) from now on.
    pub fn hand_to(&mut self, step: &str) {
        self.step.clear();
        self.step.push_str(step);
    }
}

impl Host for SecretsHost {
    fn get(&mut self, name: String) -> Result<String, String> {
        self.secrets.get(&name).map(str::to_string).ok_or_else(|| {
            format!(
                "the secret \"{name}\" is not granted to step \"{}\"; grant it in the definition: \
                 `capabilities: {{ secrets: {{ {name}: {{ env: VARIABLE }} }} }}`",
                self.step
            )
        })
    }
}
