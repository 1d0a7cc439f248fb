//! `http_request`, `http_status_code` and `http_headers`: outbound HTTP,
//! only to the plugin's `allowed_hosts`.
//!
//! A URL outside the grant is refused before any DNS lookup or connection
//! ([`Stop::HostNotAllowed`]). No redirect is followed: the plugin gets the
//! 3xx and its `Location`, and a request there is checked like any other.
//! The request runs on tokio's blocking pool while the call's future waits,
//! bounded by what is left of the call's timeout; the response body by
//! `max_http_response`. A plugin given canned responses
//! (`PluginConfig::http_mocks`) is answered from them instead, after the
//! same `allowed_hosts` check, and never reaches the network.

use std::io::Read;
use std::time::{Duration, Instant};

use wasmtime::{Caller, Linker};

use super::ENV;
use super::state::{CALL_FUEL, State, charge};
use super::stop::Stop;
use crate::config::HttpMock;

type Result<T> = wasmtime::Result<T>;

/// Extism's `HttpRequest`, as the PDKs write it.
#[derive(serde::Deserialize)]
struct Request {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
}

pub(crate) fn link(linker: &mut Linker<State>) -> Result<()> {
    linker.func_wrap_async(
        ENV,
        "http_request",
        |mut c: Caller<'_, State>, (request, body): (u64, u64)| {
            Box::new(async move { http_request(&mut c, request, body).await })
        },
    )?;
    linker.func_wrap(ENV, "http_status_code", |c: Caller<'_, State>| {
        i32::from(c.data().http_status)
    })?;
    // Extism answers the null handle unless the host opted in to response
    // headers; polyplug does not.
    linker.func_wrap(ENV, "http_headers", |_: Caller<'_, State>| 0u64)?;
    Ok(())
}

async fn http_request(c: &mut Caller<'_, State>, request: u64, body: u64) -> Result<u64> {
    let length = c.data().kernel.length(request) + c.data().kernel.length(body);
    charge(c, CALL_FUEL, length)?;
    let state = c.data_mut();
    state.http_status = 0;
    let request: Request = serde_json::from_slice(&state.handle(request, "http request")?)?;
    let body = state.handle(body, "http request body")?;
    let url = url::Url::parse(&request.url)
        .map_err(|e| wasmtime::Error::msg(format!("Invalid URL: {e:?}")))?;
    let host = url.host_str().unwrap_or_default().to_string();
    if !state.grants.allowed_hosts.iter().any(|p| p.matches(&url)) {
        return Err(Stop::HostNotAllowed {
            url: request.url,
            host,
        }
        .into());
    }
    let deadline = state.deadline;
    let limit = state.grants.max_http_response;
    if let Some(mocks) = &state.grants.http_mocks {
        let response = answer_from(mocks, &request.url, limit)?;
        state.http_status = response.0;
        return Ok(state.give(&response.1)?);
    }
    let method = request.method.as_deref().unwrap_or("GET").to_uppercase();
    let mut builder = ureq::http::Request::builder()
        .method(method.as_str())
        .uri(url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let sent = builder.body(body)?;
    let response = tokio::task::spawn_blocking(move || fetch(sent, deadline, limit))
        .await
        .map_err(|e| wasmtime::Error::msg(format!("the HTTP request's thread failed: {e}")))??;
    let state = c.data_mut();
    state.http_status = response.0;
    Ok(state.give(&response.1)?)
}

/// The canned response to `url`, held to `limit` like a real one; a URL
/// with none fails the call, naming it.
fn answer_from(
    mocks: &std::collections::BTreeMap<String, HttpMock>,
    url: &str,
    limit: u64,
) -> Result<(u16, Vec<u8>)> {
    let Some(mock) = mocks.get(url) else {
        return Err(wasmtime::Error::msg(format!(
            "HTTP request to {url} has no canned response (the plugin runs with canned \
             HTTP responses only; add one for this URL)"
        )));
    };
    if mock.body.len() as u64 > limit {
        return Err(wasmtime::Error::msg(format!(
            "HTTP response exceeds the configured maximum number of bytes: {limit}"
        )));
    }
    Ok((mock.status, mock.body.clone()))
}

/// Sends `request` and reads at most `limit` bytes of the response.
fn fetch(
    request: ureq::http::Request<Vec<u8>>,
    deadline: Instant,
    limit: u64,
) -> Result<(u16, Vec<u8>)> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(remaining.max(Duration::from_millis(1))))
        .build()
        .into();
    let response = match agent.run(request) {
        Ok(response) => response,
        Err(ureq::Error::Timeout(_)) if Instant::now() >= deadline => {
            return Err(Stop::Timeout.into());
        }
        Err(e) => return Err(wasmtime::Error::msg(e.to_string())),
    };
    let status = response.status().as_u16();
    let mut body = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut body)?;
    if body.len() as u64 > limit {
        return Err(wasmtime::Error::msg(format!(
            "HTTP response exceeds the configured maximum number of bytes: {limit}"
        )));
    }
    Ok((status, body))
}
