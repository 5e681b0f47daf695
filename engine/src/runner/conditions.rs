//! Which edges of an [`EdgeGroup`] fire for one event (docs/semantics.md, "Conditional edges" and "All-of edge groups"):
//! every unconditional edge; each `when` edge whose condition's first output is `true`; the `default`
//! edges when no `when` edge matched. Chosen in definition order, so delivery stays deterministic.

use serde_json::json;
use smallvec::SmallVec;

use crate::data::Json;
use crate::load::{EdgeGroup, Guard, GuardedEdge, Route};
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

/// The edges that fire for one event.
#[derive(Debug)]
pub enum Chosen<'g> {
    /// Every edge of a group none of whose edges has a condition: their routes as one list (decided
    /// without running anything or allocating), and the edges.
    All(&'g [Route], &'g [GuardedEdge]),
    /// The edges a group with conditions picked, in definition order.
    Picked(SmallVec<[&'g GuardedEdge; 2]>),
}

impl<'g> Chosen<'g> {
    /// The route lists to deliver to, in definition order.
    pub fn routes(&self) -> impl Iterator<Item = &'g [Route]> + '_ {
        let (all, picked) = match self {
            Chosen::All(routes, _) => (Some(*routes), &[][..]),
            Chosen::Picked(edges) => (None, edges.as_slice()),
        };
        all.into_iter().chain(picked.iter().map(|e| e.routes.as_slice()))
    }

    /// The edges that fire, in definition order.
    pub fn edges(&self) -> impl Iterator<Item = &'g GuardedEdge> + '_ {
        let (all, picked) = match self {
            Chosen::All(_, edges) => (*edges, &[][..]),
            Chosen::Picked(edges) => (&[][..], edges.as_slice()),
        };
        all.iter().chain(picked.iter().copied())
    }
}

/// The edges of `group` that fire for an event with `data` and the attributes `attributes` gives (asked
/// only when some edge has a condition), in definition order.
///
/// Errors: the first condition that fails on the event.
pub fn select<'g>(
    group: &'g EdgeGroup,
    attributes: impl FnOnce() -> Attributes,
    data: &Json,
) -> Result<Chosen<'g>, ConditionFailed> {
    if let Some(all) = group.unconditional() {
        return Ok(Chosen::All(all, group.guarded()));
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
    Ok(Chosen::Picked(
        group
            .guarded()
            .iter()
            .zip(matched)
            .filter(|(edge, matched)| match edge.guard {
                Guard::Always => true,
                Guard::When(_) => *matched,
                Guard::Default => !any,
            })
            .map(|(edge, _)| edge)
            .collect(),
    ))
}
