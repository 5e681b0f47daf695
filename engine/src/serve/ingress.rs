//! CloudEvents from HTTP requests, per the CloudEvents HTTP protocol binding 1.0.2
//! (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md>) and the
//! JSON event format 1.0.2: **binary** mode (section 3.1: context attributes in `ce-` headers,
//! percent-decoded as section 3.1.3.2 says, the body is the data), **structured** mode (section 3.2:
//! `application/cloudevents+json`, the whole event in the body) and **batched** mode (section 3.3:
//! `application/cloudevents-batch+json`, a JSON array of structured events), which the `cloudevents-sdk`
//! crate does not parse.
//!
//! Weft's events carry JSON data: in binary mode the body must be JSON (`application/json` or a `+json`
//! type, or no body for `null`); in the JSON format, `data` is any JSON value (`data_base64` is refused).

use axum::http::HeaderMap;
use serde_json::Value;

use crate::data::Json;
use crate::store::Inbound;

/// The content type of a structured-mode CloudEvent in JSON (binding section 3.2.1).
pub const STRUCTURED: &str = "application/cloudevents+json";
/// The content type of a batch of CloudEvents in JSON (binding section 3.3).
pub const BATCHED: &str = "application/cloudevents-batch+json";

/// One CloudEvent received over HTTP: what Weft uses of it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// `id`.
    pub id: String,
    /// `source`.
    pub source: String,
    /// `type`.
    pub event_type: String,
    /// `subject`, if any.
    pub subject: Option<String>,
    /// The data (JSON `null` when it has none).
    pub data: Json,
}

impl Incoming {
    /// The event as an instance's inbox receives it, arriving at `received_ms` (ms since the Unix epoch).
    pub fn inbound(&self, received_ms: u64) -> Inbound<'_> {
        Inbound::event(&self.source, &self.id, &self.event_type, self.data.as_str(), received_ms)
    }
}

/// Why a request holds no usable CloudEvent: the HTTP status to answer with, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the event is malformed; says what and where.
    Malformed(String),
    /// 415: a content type Weft does not take.
    Unsupported(String),
}

/// The events in a request with `headers` and `body`: one in binary or structured mode, several in
/// batched mode.
///
/// Errors: [`Refusal::Unsupported`] for a content type other than the three modes' (binary mode needs
/// JSON data); [`Refusal::Malformed`] for a missing or empty required attribute, another `specversion`,
/// data that is not JSON, a batch that is not an array.
pub fn events(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Incoming>, Refusal> {
    let content_type =
        headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(essence).unwrap_or_default();
    match content_type.as_str() {
        STRUCTURED => Ok(vec![structured(parse(body)?, "the event")?]),
        BATCHED => match parse(body)? {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| structured(item, &format!("event {} of the batch", i + 1)))
                .collect(),
            _ => Err(Refusal::Malformed("a batch of CloudEvents must be a JSON array of events".into())),
        },
        _ if headers.contains_key("ce-specversion") => Ok(vec![binary(headers, &content_type, body)?]),
        "" => Err(Refusal::Unsupported(format!(
            "no Content-Type: send {STRUCTURED}, {BATCHED}, or application/json with ce- headers (binary mode)"
        ))),
        other => Err(Refusal::Unsupported(format!(
            "Content-Type {other} without ce- headers: send {STRUCTURED}, {BATCHED}, or JSON data with ce- headers"
        ))),
    }
}

/// Whether a request with `headers` is in batched mode (`application/cloudevents-batch+json`): answered
/// with a list, however many events it holds.
pub fn batched(headers: &HeaderMap) -> bool {
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    content_type.map(essence).is_some_and(|t| t == BATCHED)
}

fn parse(body: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::Malformed(format!("the body is not JSON: {e}")))
}

/// An event in the JSON event format (structured mode, or one of a batch), called `what` in messages.
fn structured(value: Value, what: &str) -> Result<Incoming, Refusal> {
    let Value::Object(mut members) = value else {
        return Err(Refusal::Malformed(format!("{what} is not a JSON object")));
    };
    let mut text = |name: &str| -> Result<Option<String>, Refusal> {
        match members.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(Refusal::Malformed(format!("{what}: `{name}` must be a string, not {other}"))),
        }
    };
    let specversion = text("specversion")?;
    let (id, source, event_type, subject) = (text("id")?, text("source")?, text("type")?, text("subject")?);
    let content_type = text("datacontenttype")?;
    check_version(specversion.as_deref(), what)?;
    if members.contains_key("data_base64") {
        return Err(Refusal::Malformed(format!("{what}: `data_base64` is not taken; send JSON `data`")));
    }
    if let Some(t) = content_type.filter(|t| !is_json(t)) {
        return Err(Refusal::Malformed(format!(
            "{what}: datacontenttype {t} is not JSON; Weft's events carry JSON data"
        )));
    }
    let data = data(members.remove("data").unwrap_or(Value::Null), what)?;
    incoming(id, source, event_type, subject, data, what, false)
}

/// An event in binary mode: its attributes in `ce-` headers, its data the body.
fn binary(headers: &HeaderMap, content_type: &str, body: &[u8]) -> Result<Incoming, Refusal> {
    let header = |name: &str| -> Result<Option<String>, Refusal> {
        headers
            .get(name)
            .map(|v| {
                let raw = v.to_str().map_err(|_| Refusal::Malformed(format!("header {name} is not ASCII text")))?;
                percent_decode(raw).ok_or_else(|| Refusal::Malformed(format!("header {name}: a bad percent-encoding")))
            })
            .transpose()
    };
    check_version(header("ce-specversion")?.as_deref(), "the event")?;
    let data = if body.is_empty() {
        Value::Null
    } else if is_json(content_type) {
        parse(body)?
    } else {
        return Err(Refusal::Unsupported(format!(
            "binary-mode data of Content-Type {content_type:?}: Weft's events carry JSON data (application/json)"
        )));
    };
    let data = self::data(data, "the event")?;
    let (id, source, event_type) = (header("ce-id")?, header("ce-source")?, header("ce-type")?);
    incoming(id, source, event_type, header("ce-subject")?, data, "the event", true)
}

fn check_version(version: Option<&str>, what: &str) -> Result<(), Refusal> {
    match version {
        Some("1.0") => Ok(()),
        Some(other) => Err(Refusal::Malformed(format!("{what}: specversion {other}; Weft takes CloudEvents 1.0"))),
        None => Err(Refusal::Malformed(format!("{what}: `specversion` is missing"))),
    }
}

fn data(value: Value, what: &str) -> Result<Json, Refusal> {
    Json::from_value(&value).map_err(|e| Refusal::Malformed(format!("{what}: its data: {e}")))
}

/// The event from its attributes, named in messages as they were sent: `` `id` `` in the JSON event
/// format, `the ce-id header` in binary mode (`binary`).
///
/// Errors: every required attribute that is missing or empty, at once.
fn incoming(
    id: Option<String>,
    source: Option<String>,
    event_type: Option<String>,
    subject: Option<String>,
    data: Json,
    what: &str,
    binary: bool,
) -> Result<Incoming, Refusal> {
    let given = |value: Option<String>| value.filter(|v| !v.is_empty());
    let (id, source, event_type) = (given(id), given(source), given(event_type));
    let missing: Vec<String> = [("id", id.is_none()), ("source", source.is_none()), ("type", event_type.is_none())]
        .into_iter()
        .filter(|(_, missing)| *missing)
        .map(|(name, _)| if binary { format!("ce-{name}") } else { format!("`{name}`") })
        .collect();
    let (Some(id), Some(source), Some(event_type)) = (id, source, event_type) else {
        let list = match missing.split_last() {
            Some((last, init)) if !init.is_empty() => format!("{} and {last}", init.join(", ")),
            _ => missing.concat(),
        };
        let noun = match (binary, missing.len() == 1) {
            (true, true) => "header is",
            (true, false) => "headers are",
            (false, true) => "is",
            (false, false) => "are",
        };
        let the = if binary { "the " } else { "" };
        return Err(Refusal::Malformed(format!("{what}: {the}{list} {noun} missing or empty")));
    };
    Ok(Incoming { id, source, event_type, subject, data })
}

/// A media type without its parameters, in lower case (`Application/JSON; charset=utf-8` is
/// `application/json`: RFC 9110, section 8.3.1).
fn essence(media_type: &str) -> String {
    media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether a media type is JSON: `application/json`, or any `+json` type.
fn is_json(media_type: &str) -> bool {
    let t = essence(media_type);
    t == "application/json" || t.ends_with("+json")
}

/// A header value with its `%XX` sequences decoded as UTF-8 (binding section 3.1.3.2); `None` for a
/// malformed sequence or bytes that are not UTF-8.
pub fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn binary_mode_takes_percent_encoded_headers_and_json_data() {
        let h = headers(&[
            ("content-type", "application/json"),
            ("ce-specversion", "1.0"),
            ("ce-id", "a-1"),
            ("ce-source", "/crm"),
            ("ce-type", "AgentReplied"),
            ("ce-subject", "T-1001 %E2%82%AC"),
        ]);
        let e = &events(&h, br#"{"agent":"Grace"}"#).unwrap()[0];
        assert_eq!((e.id.as_str(), e.source.as_str(), e.event_type.as_str()), ("a-1", "/crm", "AgentReplied"));
        assert_eq!(e.subject.as_deref(), Some("T-1001 €"));
        assert_eq!(e.data.as_str(), r#"{"agent":"Grace"}"#);
        let text = headers(&[("content-type", "text/plain"), ("ce-specversion", "1.0")]);
        assert!(matches!(events(&text, b"hi"), Err(Refusal::Unsupported(_))));
        let missing = headers(&[("content-type", "application/json"), ("ce-specversion", "1.0"), ("ce-id", "x")]);
        assert_eq!(
            events(&missing, b"{}").unwrap_err(),
            Refusal::Malformed("the event: the ce-source and ce-type headers are missing or empty".into())
        );
    }

    #[test]
    fn structured_and_batched_modes_take_the_json_format() {
        let s = headers(&[("content-type", "application/cloudevents+json; charset=utf-8")]);
        let body = br#"{"specversion":"1.0","id":"1","source":"s","type":"T","data":[1,2]}"#;
        assert_eq!(events(&s, body).unwrap()[0].data.as_str(), "[1,2]");
        let b = headers(&[("content-type", "application/cloudevents-batch+json")]);
        let batch =
            br#"[{"specversion":"1.0","id":"1","source":"s","type":"T"},{"specversion":"1.0","id":"2","source":"s"}]"#;
        assert_eq!(
            events(&b, batch).unwrap_err(),
            Refusal::Malformed("event 2 of the batch: `type` is missing or empty".into())
        );
        let two = br#"{"specversion":"1.0","type":"T"}"#;
        assert_eq!(
            events(&s, two).unwrap_err(),
            Refusal::Malformed("the event: `id` and `source` are missing or empty".into())
        );
        let old = br#"{"specversion":"0.3","id":"1","source":"s","type":"T"}"#;
        assert!(matches!(events(&s, old), Err(Refusal::Malformed(m)) if m.contains("specversion 0.3")));
        assert!(matches!(events(&headers(&[]), b"{}"), Err(Refusal::Unsupported(_))));
        assert_eq!(percent_decode("%zz"), None);
    }
}
