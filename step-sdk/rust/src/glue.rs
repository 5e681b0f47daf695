//! What `#[step]` generates code against: the [`Step`] trait, argument decoding and the component exports.
//! Step authors do not use this module directly.

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::weft::step::types::StepError;
use crate::bindings::weft::step::types::{
    ArgumentError, EventInfo, FunctionInfo, Invocation, Outcome, ParamInfo, StepInfo,
};
use crate::{Context, Error};

/// A parameter as `#[step]` declares it: `(name, required, JSON Schema)`.
pub type ParamSpec = (&'static str, bool, Option<&'static str>);
/// A kernel function as `#[step]` declares it: `(name, description, parameters)`.
pub type FunctionSpec = (&'static str, Option<&'static str>, Vec<ParamSpec>);

/// A step: implemented by `#[step]` for the state type.
pub trait Step: Serialize + DeserializeOwned + Default {
    /// Version of the state layout (`#[step(state_version = N)]`, default 1).
    const STATE_VERSION: u32;
    /// The kernel functions, in declaration order.
    fn functions() -> Vec<FunctionSpec>;
    /// The events the step declares it emits (`#[step(events = ["Approved", "Rejected"])]`), in order.
    fn events() -> &'static [&'static str] {
        &[]
    }
    /// Run kernel function `function` with `args`.
    fn call(&mut self, ctx: &Context, function: &str, args: &Args) -> Result<Option<String>, StepError>;
    /// Turn a snapshot written under the older state-version `from` into this version's layout
    /// (`#[step(state_version = 2, migrate = Self::upgrade)]`). Without a migration, an older snapshot is
    /// refused.
    fn migrate(from: u32, state: serde_json::Value) -> Result<serde_json::Value, StepError> {
        let _ = state;
        Err(StepError::BadState(format!(
            "the state snapshot is of state version {from} and this step reads version {} and has no migration; \
             give the step a migration (`#[step(migrate = ...)]`) or the definition's `stateVersion` the right version",
            Self::STATE_VERSION
        )))
    }
}

/// The arguments of one invocation, by parameter name (JSON text).
pub struct Args(Vec<(String, String)>);

impl Args {
    /// Decode parameter `name`. A missing optional parameter decodes from `null` (so `Option<T>` gives
    /// `None`). Errors: a missing required parameter, or JSON that does not fit `T`.
    pub fn get<T: DeserializeOwned>(&self, name: &str, required: bool) -> Result<T, StepError> {
        let bad = |message: String| StepError::BadArgument(ArgumentError { parameter: name.into(), message });
        match self.0.iter().find(|(n, _)| n == name) {
            Some((_, text)) => serde_json::from_str(text).map_err(|e| bad(e.to_string())),
            None if required => Err(bad("missing required argument".into())),
            None => serde_json::from_str("null").map_err(|e| bad(e.to_string())),
        }
    }
}

/// A return value as JSON text; `null` (e.g. from `()`) becomes none.
pub fn result<T: Serialize>(value: &T) -> Result<Option<String>, StepError> {
    let text =
        serde_json::to_string(value).map_err(|e| StepError::Failed(format!("cannot serialise the result: {e}")))?;
    Ok((text != "null").then_some(text))
}

/// An author's error as the function's failure.
pub fn failed<E: std::fmt::Display>(e: E) -> StepError {
    StepError::Failed(e.to_string())
}

/// The `describe` export.
pub fn describe<S: Step>() -> StepInfo {
    StepInfo {
        functions: S::functions()
            .into_iter()
            .map(|(name, description, params)| FunctionInfo {
                name: name.into(),
                description: description.map(Into::into),
                params: params
                    .into_iter()
                    .map(|(name, required, schema)| ParamInfo {
                        name: name.into(),
                        required,
                        schema: schema.map(Into::into),
                    })
                    .collect(),
            })
            .collect(),
        events: S::events().iter().map(|name| EventInfo { name: (*name).into(), description: None }).collect(),
        state_version: S::STATE_VERSION,
    }
}

/// The `invoke` export: decode the state (migrating an older one, or starting from `Default`), call,
/// encode the new state.
pub fn invoke<S: Step>(call: Invocation) -> Result<Outcome, StepError> {
    invoke_with::<S>(&Context::new(), call)
}

/// [`invoke`] with `ctx` as the function's context (a recording one in [`crate::testing`]).
pub(crate) fn invoke_with<S: Step>(ctx: &Context, call: Invocation) -> Result<Outcome, StepError> {
    let mut state: S = match &call.state {
        Some(text) if call.state_version == S::STATE_VERSION => serde_json::from_str(text).map_err(unreadable)?,
        Some(text) => other_version(text, call.state_version)?,
        None => S::default(),
    };
    let result = state.call(ctx, &call.function, &Args(call.args))?;
    let snapshot =
        serde_json::to_string(&state).map_err(|e| StepError::Failed(format!("cannot serialise the state: {e}")))?;
    Ok(Outcome { result, state: (snapshot != "null").then_some(snapshot) })
}

fn unreadable(e: serde_json::Error) -> StepError {
    StepError::BadState(format!("cannot read the state snapshot: {e}"))
}

/// A snapshot written under state-version `version`, not this step's: migrated when older, refused when
/// newer. Kept out of line, so that the usual path stays as small as it was before migrations.
#[cold]
#[inline(never)]
fn other_version<S: Step>(text: &str, version: u32) -> Result<S, StepError> {
    if version > S::STATE_VERSION {
        return Err(StepError::BadState(format!(
            "the state snapshot is of state version {version}, newer than the version {} this step reads",
            S::STATE_VERSION
        )));
    }
    let old = serde_json::from_str(text).map_err(unreadable)?;
    serde_json::from_value(S::migrate(version, old)?).map_err(unreadable)
}

/// `Error` is the usual error type; this keeps `?` on `Context::emit` working in any function.
impl From<Error> for StepError {
    fn from(e: Error) -> Self {
        StepError::Failed(e.to_string())
    }
}

/// Export step type `$ty` as the component's `weft:step/kernel` interface. `#[step]` calls this for you.
#[macro_export]
#[doc(hidden)]
macro_rules! __export_step {
    ($ty:ty) => {
        const _: () = {
            struct __WeftStepExport;
            impl $crate::bindings::exports::weft::step::kernel::Guest for __WeftStepExport {
                fn describe() -> $crate::bindings::weft::step::types::StepInfo {
                    $crate::glue::describe::<$ty>()
                }
                fn invoke(
                    call: $crate::bindings::weft::step::types::Invocation,
                ) -> ::core::result::Result<
                    $crate::bindings::weft::step::types::Outcome,
                    $crate::bindings::weft::step::types::StepError,
                > {
                    $crate::glue::invoke::<$ty>(call)
                }
            }
            $crate::bindings::__export_step_world!(__WeftStepExport);
        };
    };
}
