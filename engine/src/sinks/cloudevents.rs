//! Public events as CloudEvents 1.0 (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md>)
//! in the structured JSON format (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md>).
//!
//! Attributes: `id` is `<instance>-<n>`, unique within the instance (spec section 3.1.1, "id": source + id
//! is unique); `source` is the URI-reference `/processes/<process>/instances/<instance>/steps/<step>`;
//! `type` is the event name edges route on; `subject` is the step id; `time` is the run's logical time in
//! the superstep that emitted it (so a re-published event is the same, byte for byte);
//! `datacontenttype` is `application/json`; the extension `weftsuperstep` is the superstep that emitted it.
//! An event sent to an external topic has the topic as its `type`, the extension `wefttopic` naming it,
//! and, when an input event or an all-of group sent it, no step in its `source` and no `subject`.

use cloudevents::{Event, EventBuilder, EventBuilderV10};

use crate::runner::EventRecord;

/// `event` of instance `instance` of process `process` as a CloudEvent.
pub fn to_cloudevent(process: &str, instance: &str, event: &EventRecord) -> Event {
    let mut source = format!("/processes/{process}/instances/{instance}");
    if !event.step.is_empty() {
        source += &format!("/steps/{}", event.step);
    }
    let mut builder = EventBuilderV10::new()
        .id(event.id.clone())
        .source(source)
        .ty(event.event_type.clone())
        .time(i64::try_from(event.time_ms).ok().and_then(chrono::DateTime::from_timestamp_millis).unwrap_or_default())
        .data("application/json", event.data.to_value())
        .extension("weftsuperstep", i64::try_from(event.superstep).unwrap_or(i64::MAX));
    if !event.step.is_empty() {
        builder = builder.subject(event.step.clone());
    }
    if let Some(topic) = &event.topic {
        builder = builder.extension(TOPIC_ATTRIBUTE, topic.clone());
    }
    builder.build().expect("id, source and type are always set")
}

/// The CloudEvents extension attribute naming the external topic an event was sent to.
pub const TOPIC_ATTRIBUTE: &str = "wefttopic";

/// `event` as structured-mode CloudEvents JSON text: the same bytes every time it is made, in any process
/// (the SDK keeps extension attributes in a hash map, whose order differs between processes; they are
/// written here in name order after the context attributes and the data), so that an event re-made by a
/// superstep run again after a crash is byte for byte the one a consumer may already have.
pub fn to_json(process: &str, instance: &str, event: &EventRecord) -> String {
    /// The JSON format's members other than extension attributes (CloudEvents 1.0.2, sections 3.1-3.2, and
    /// the JSON format's `data`/`data_base64`).
    const NOT_EXTENSIONS: &[&str] = &[
        "specversion",
        "id",
        "source",
        "type",
        "datacontenttype",
        "dataschema",
        "subject",
        "time",
        "data",
        "data_base64",
    ];
    let value = serde_json::to_value(to_cloudevent(process, instance, event)).expect("a CloudEvent serialises");
    let serde_json::Value::Object(members) = value else { return value.to_string() };
    let (mut ordered, mut extensions): (serde_json::Map<_, _>, Vec<_>) = (serde_json::Map::new(), Vec::new());
    for (name, value) in members {
        if NOT_EXTENSIONS.contains(&name.as_str()) {
            ordered.insert(name, value);
        } else {
            extensions.push((name, value));
        }
    }
    extensions.sort_by(|a, b| a.0.cmp(&b.0));
    ordered.extend(extensions);
    serde_json::Value::Object(ordered).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Json;

    #[test]
    fn extension_attributes_come_in_name_order_after_the_rest() {
        let event = EventRecord {
            id: "i-1".into(),
            event_type: "Audit".into(),
            step: String::new(),
            superstep: 3,
            data: Json::null(),
            time_ms: 0,
            topic: Some("Audit".into()),
        };
        let json = to_json("p", "i", &event);
        assert!(json.ends_with(r#""data":null,"weftsuperstep":3,"wefttopic":"Audit"}"#), "{json}");
        assert!(
            json.starts_with(r#"{"specversion":"1.0","id":"i-1","type":"Audit","source":"/processes/p/instances/i""#),
            "{json}"
        );
    }
}
