//! Outbound HTTP for a step granted it (`capabilities.http` in the definition): build a [`Request`],
//! send it with [`Context::http`](crate::Context::http), read the [`Response`].
//!
//! ```ignore
//! let key = ctx.secret("apiKey")?;
//! let response = ctx.http(Request::post("http://127.0.0.1:47125/v1/reports").bearer(&key).json(&query)?)?;
//! let report: Report = response.ok()?.json()?;
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::weft::step::http as host;

/// An HTTP request: method, absolute URL, headers, body.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Request {
    /// A request with `method` (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`) to `url`.
    pub fn new(method: &str, url: &str) -> Self {
        Request { method: method.into(), url: url.into(), headers: Vec::new(), body: None }
    }

    /// A `GET` of `url`.
    pub fn get(url: &str) -> Self {
        Request::new("GET", url)
    }

    /// A `POST` to `url`.
    pub fn post(url: &str) -> Self {
        Request::new("POST", url)
    }

    /// With header `name: value` added.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// With `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// With `body` as it is.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// With `value` as a JSON body (and `Content-Type: application/json`). Errors: it does not serialise.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// The method, e.g. `"POST"`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body, if any.
    pub fn body_bytes(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    pub(crate) fn send(self) -> Result<Response, Error> {
        let request = host::Request { method: self.method, url: self.url, headers: self.headers, body: self.body };
        match host::send(&request) {
            Ok(r) => Ok(Response { status: r.status, headers: r.headers, body: r.body }),
            Err(host::HttpError::NotAllowed(m)) => Err(Error::new(format!("HTTP request not allowed: {m}"))),
            Err(host::HttpError::Timeout(m)) => Err(Error::new(format!("HTTP request timed out: {m}"))),
            Err(host::HttpError::TooLarge(m)) => Err(Error::new(format!("HTTP response too large: {m}"))),
            Err(host::HttpError::Failed(m)) => Err(Error::new(format!("HTTP request failed: {m}"))),
        }
    }
}

/// An HTTP response, whatever its status.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order (names lower-case).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON. Errors: it is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::new(format!("the response is not the JSON expected: {e}")))
    }

    /// This response if its status is 2xx. Errors: the status and the start of the body.
    pub fn ok(self) -> Result<Self, Error> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let text = self.text();
        let start: String = text.chars().take(200).collect();
        Err(Error::new(format!("HTTP {}: {start}", self.status)))
    }
}
