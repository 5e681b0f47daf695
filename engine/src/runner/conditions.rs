//! Which edges of an [`EdgeGroup`] fire for one event (docs/semantics.md, "Conditional edges" and "All-of edge groups"):
//! every unconditional edge; each `when` edge whose condition's first output is `true`; the `default`
//! edges when no `when` edge matched. Chosen in definition order, so delivery stays deterministic.

use serde_json::json;
use smallvec::{SmallVec, smallvec};

use crate::data::Json;
use crate::load::{EdgeGroup, Guard, Route};
use crate::runner::clock::format_time;

/// The CloudEvent attributes a condition sees as `.event` (CloudEvents 1.0, "Context Attributes").
#[derive(Debug)]
pub struct Attributes {
    /// `type`: the event type, e.g. `Scored` or `check.OnResult`.
    pub event_type: String,
    /// `source`: `/processes/<process>/instances/<instance>/steps/<step>`.
    pub source: String,
    /// `id`: the event's id (for `F.OnResult` and `F.OnError`, the invocation's id).
    pub id: String,
    /// `time`: the run's logical time, ms since the Unix epoch (shown as RFC 3339).
    pub time_ms: u64,
}

/// A condition that failed on an event.
#[derive(Debug)]
pub struct ConditionFailed {
    /// Index of the edge in the definition's `edges`.
    pub edge: usize,
    /// The expression.
    pub expression: String,
    /// The event's type.
    pub event_type: String,
    /// jq's message.
    pub message: String,
}

/// The route lists of the edges that fire (one list, without allocating, when no edge has a condition).
pub type Chosen<'g> = SmallVec<[&'g [Route]; 2]>;

/// The routes of the edges of `group` that fire for an event with `data` and the attributes `attributes`
/// gives (asked only when some edge has a condition), in definition order.
///
/// Errors: the first condition that fails on the event.
pub fn select<'g>(
    group: &'g EdgeGroup,
    attributes: impl FnOnce() -> Attributes,
    data: &Json,
) -> Result<Chosen<'g>, ConditionFailed> {
    if let Some(all) = group.unconditional() {
        return Ok(smallvec![all]);
    }
    let attributes = attributes();
    let event = json!({
        "type": attributes.event_type,
        "source": attributes.source,
        "id": attributes.id,
        "time": format_time(attributes.time_ms),
    });
    let input = format!(r#"{{"data":{},"event":{event}}}"#, data.as_str());
    let mut matched = Vec::with_capacity(group.guarded().len());
    for edge in group.guarded() {
        matched.push(match &edge.guard {
            Guard::When(condition) => condition.matches(&input).map_err(|message| ConditionFailed {
                edge: edge.edge,
                expression: condition.text().to_string(),
                event_type: attributes.event_type.clone(),
                message,
            })?,
            Guard::Always | Guard::Default => false,
        });
    }
    let any = matched.iter().any(|&m| m);
    Ok(group
        .guarded()
        .iter()
        .zip(matched)
        .filter(|(edge, matched)| match edge.guard {
            Guard::Always => true,
            Guard::When(_) => *matched,
            Guard::Default => !any,
        })
        .map(|(edge, _)| edge.routes.as_slice())
        .collect())
}
