//! HTTP through the host. The plugin's `allowed_hosts` decides which hosts
//! it may reach; a refused request fails the call in the host, so a guest
//! only ever sees responses.

use extism_pdk::HttpRequest;
use serde_json::value::RawValue;

use crate::Error;

/// A response with any status: 4xx and 5xx are responses too.
#[derive(Debug)]
pub struct Response {
    status: u16,
    body: Vec<u8>,
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    let request = HttpRequest::new(url).with_method("GET");
    let response = extism_pdk::http::request::<Vec<u8>>(&request, None)
        .map_err(|e| Error::upstream_error(format!("GET `{url}`: {e}")))?;
    Ok(Response {
        status: response.status_code(),
        body: response.body(),
    })
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as one JSON document, kept exactly as the server wrote it
    /// minus the JSON whitespace around it, so numbers and strings reach the
    /// caller unchanged. Anything else (not UTF-8, empty, trailing data) is
    /// `upstream_error`.
    pub fn json_verbatim(&self) -> Result<Box<RawValue>, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::upstream_error(format!("response body is not one JSON document: {e}"))
        })
    }
}
