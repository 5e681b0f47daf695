//! A step's `capabilities`, resolved when its definition is loaded: configuration values from the
//! definition or the engine's [`Environment`], secrets from the environment or files, the HTTP policy
//! (docs/semantics.md, "Capabilities"). Secrets are read anew at every load and never stored with a run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use weft_definitions::capabilities::{Capabilities, ConfigValue, SecretSource};

use crate::host::Grants;
use crate::host::config::Config;
use crate::host::http::{self, HttpPolicy};
use crate::host::secrets::Secrets;

/// Where `{ env: NAME }` values come from: the engine's process environment (the default), or a fixed
/// map (for embedding Weft, and for tests that must not touch the process's environment).
#[derive(Debug, Clone, Default)]
pub enum Environment {
    /// `std::env::var`.
    #[default]
    Process,
    /// These variables only.
    Fixed(Arc<HashMap<String, String>>),
}

impl Environment {
    /// The variable `name`, if set (and valid UTF-8).
    pub fn var(&self, name: &str) -> Option<String> {
        match self {
            Environment::Process => std::env::var(name).ok(),
            Environment::Fixed(vars) => vars.get(name).cloned(),
        }
    }
}

/// A problem resolving a grant: the JSON Pointer below the step's `capabilities`, the message, a hint.
pub type GrantProblem = (String, String, String);

/// The grants of step `step` whose definition (in folder `base`) says `caps`; its configuration values are
/// `pinned` when a run pinned them (a re-run sees the configuration the run started with), else resolved.
///
/// Errors: each `{ env }` that is not set (and has no `default`), each secret file that cannot be read.
pub fn resolve(
    step: &str,
    caps: Option<&Capabilities>,
    base: &Path,
    env: &Environment,
    pinned: Option<BTreeMap<String, String>>,
) -> Result<Grants, Vec<GrantProblem>> {
    let Some(caps) = caps else { return Ok(Grants::default()) };
    let mut problems = Vec::new();
    let unset = |at: String, what: &str, var: &str| {
        (
            at,
            format!("{what} of step \"{step}\" reads the environment variable {var}, which is not set"),
            format!("set {var} in the engine's environment"),
        )
    };
    let mut config = BTreeMap::new();
    let resolving = if pinned.is_some() { &BTreeMap::new() } else { &caps.config };
    for (name, value) in resolving {
        let text = match value {
            ConfigValue::Text(t) => t.clone(),
            ConfigValue::Number(n) => n.to_string(),
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Env(e) => match env.var(&e.env).or_else(|| e.default.clone()) {
                Some(text) => text,
                None => {
                    problems.push(unset(format!("config/{name}"), &format!("the config value \"{name}\""), &e.env));
                    continue;
                }
            },
        };
        config.insert(name.clone(), text);
    }
    let mut secrets = Vec::new();
    for (name, source) in &caps.secrets {
        let at = format!("secrets/{name}");
        match source {
            SecretSource::Env(e) => match env.var(&e.env) {
                Some(value) => secrets.push((name.clone(), value)),
                None => problems.push(unset(at, &format!("the secret \"{name}\""), &e.env)),
            },
            SecretSource::File(f) => {
                let path = base.join(&f.file);
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
                        secrets.push((name.clone(), value.to_string()));
                    }
                    Err(e) => problems.push((
                        at,
                        format!(
                            "the secret \"{name}\" of step \"{step}\" cannot be read from {} ({e})",
                            path.display()
                        ),
                        "give the path of a readable file, relative to the definition file".into(),
                    )),
                }
            }
        }
    }
    let http = caps.http.as_ref().map(|grant| {
        let allow = grant.allow.iter().filter_map(|o| o.parts()).collect();
        let timeout =
            grant.timeout.as_ref().and_then(|t| t.millis()).map_or(http::DEFAULT_TIMEOUT, Duration::from_millis);
        let max = grant.max_response_size.as_ref().and_then(|s| s.bytes()).unwrap_or(http::DEFAULT_MAX_RESPONSE);
        Arc::new(HttpPolicy::new(allow, timeout, max))
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let config = pinned.unwrap_or(config);
    Ok(Grants { config: Arc::new(Config(config)), secrets: Arc::new(Secrets::new(secrets)), http })
}
