//! The host functions every plugin links against: polyplug's own, in place
//! of the ones Extism 1.41 provides under the same names.
//!
//! Extism links the functions a host passes after its own, in the same
//! namespace, so these shadow Extism's. They keep Extism's ABI and, where a
//! plugin can tell, its behaviour and messages; they differ where Extism's
//! are unsafe to give untrusted code:
//!
//! - Every handle is measured by [`kernel::checked_length`], which never
//!   lets a plugin-written length reach past the kernel's memory (see
//!   `kernel.rs`); `length` and `output_length` themselves are shadowed for
//!   the same reason.
//! - Extism runs a module's start function and `_initialize` while linking,
//!   before a host function can reach the plugin's memory: its own functions
//!   then dereference a null pointer, which kills the host. These fail the
//!   load instead ([`link`]).
//! - `http_request` never follows a redirect: the plugin gets the 3xx and
//!   its `Location`, and a request to that place is checked like any other.
//!   Hosts are matched with [`HostPattern`], not as globs.
//! - Log lines are escaped (no control characters reach the log, so a
//!   plugin cannot forge a line or colour the terminal) and capped.

use std::cell::Cell;
use std::io::Read;
use std::time::Duration;

use extism::{CompiledPlugin, CurrentPlugin, Function, PTR, UserData, Val, ValType};
use extism_convert::MemoryHandle;

use crate::config::HostPattern;
use crate::kernel;

/// The namespace of Extism's functions, where these shadow them.
const ENV: &str = "extism:host/env";

/// What a plugin's log line keeps, in bytes; the rest is counted, not
/// written.
pub(crate) const MAX_LOG_LINE: usize = 4096;

/// The `tracing` target of plugin log lines (`RUST_LOG=polyplug::guest=debug`).
pub const GUEST_LOG: &str = "polyplug::guest";

type Result<T> = std::result::Result<T, extism::Error>;

/// What the HTTP functions need across calls of one pool slot.
struct Http {
    allowed_hosts: Vec<HostPattern>,
    /// The status of the slot's last request, for `http_status_code`.
    status: u16,
}

/// The functions to link into every instance of a plugin allowed to reach
/// `allowed_hosts`. Each pool slot gets its own set (they hold the slot's
/// last HTTP status).
pub(crate) fn functions(allowed_hosts: &[HostPattern]) -> Vec<Function> {
    let http = UserData::new(Http {
        allowed_hosts: allowed_hosts.to_vec(),
        status: 0,
    });
    let mut functions = vec![
        function("length", [PTR], [PTR], |plugin, params, results| {
            let length = kernel::checked_length(plugin, offset(params, 0))?;
            results[0] = Val::I64(length as i64);
            Ok(())
        }),
        function("output_length", [], [PTR], |plugin, _, results| {
            results[0] = Val::I64(kernel::checked_output_length(plugin)? as i64);
            Ok(())
        }),
        function("config_get", [PTR], [PTR], config_get),
        function("var_get", [PTR], [PTR], var_get),
        function("var_set", [PTR, PTR], [], var_set),
    ];
    let request = http.clone();
    functions.push(
        Function::new(
            "http_request",
            [PTR, PTR],
            [PTR],
            request,
            |plugin, params, results, http| {
                refuse_while_linking("http_request")?;
                http_request(plugin, params, results, &http)
            },
        )
        .with_namespace(ENV),
    );
    functions.push(
        Function::new(
            "http_status_code",
            [],
            [ValType::I32],
            http,
            |_, _, results, http| {
                refuse_while_linking("http_status_code")?;
                let status = http.get()?.lock().map_err(poisoned)?.status;
                results[0] = Val::I32(i32::from(status));
                Ok(())
            },
        )
        .with_namespace(ENV),
    );
    for (name, level) in [
        ("log_error", tracing::Level::ERROR),
        ("log_warn", tracing::Level::WARN),
        ("log_info", tracing::Level::INFO),
        ("log_debug", tracing::Level::DEBUG),
        ("log_trace", tracing::Level::TRACE),
    ] {
        functions.push(function(name, [PTR], [], move |plugin, params, _| {
            log(plugin, level, offset(params, 0))
        }));
    }
    functions
}

/// A function in Extism's namespace that refuses to run while linking.
fn function<const P: usize, const R: usize>(
    name: &'static str,
    params: [ValType; P],
    results: [ValType; R],
    f: impl Fn(&mut CurrentPlugin, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
) -> Function {
    Function::new(
        name,
        params,
        results,
        UserData::new(()),
        move |plugin, params, results, _| {
            refuse_while_linking(name)?;
            f(plugin, params, results)
        },
    )
    .with_namespace(ENV)
}

thread_local! {
    /// Set while [`link`] runs on this thread.
    static LINKING: Cell<bool> = const { Cell::new(false) };
}

/// Makes an instance of `compiled`. Extism instantiates the module while
/// linking it, running its start function and `_initialize`, before it has
/// set up what host functions use to reach memory; a call to one of them
/// from there fails the instantiation instead of crashing the host.
pub(crate) fn link(compiled: &CompiledPlugin) -> Result<extism::Plugin> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            LINKING.set(false);
        }
    }
    LINKING.set(true);
    let _reset = Reset;
    extism::Plugin::new_from_compiled(compiled)
}

fn refuse_while_linking(name: &str) -> Result<()> {
    if LINKING.get() {
        return Err(extism::Error::msg(format!(
            "the plugin called the host function `{name}` from its start-up code (a start function or `_initialize`), where host functions are unavailable; call it from an export"
        )));
    }
    Ok(())
}

fn offset(params: &[Val], index: usize) -> u64 {
    params[index].i64().unwrap_or(0) as u64
}

/// The handle at `offset`: the null handle for 0, as Extism has it, and an
/// error naming `what` when no block of the kernel's starts there.
fn handle(plugin: &mut CurrentPlugin, offset: u64, what: &str) -> Result<MemoryHandle> {
    if offset == 0 {
        return Ok(MemoryHandle::null());
    }
    match kernel::checked_length(plugin, offset)? {
        0 => Err(extism::Error::msg(format!(
            "invalid handle offset for {what}: {offset}"
        ))),
        length => Ok(MemoryHandle { offset, length }),
    }
}

/// Copies `bytes` into a new block and returns its offset (0 for none).
fn give(plugin: &mut CurrentPlugin, bytes: Option<Vec<u8>>, results: &mut [Val]) -> Result<()> {
    let offset = match bytes {
        Some(bytes) => plugin.memory_new(bytes)?.offset(),
        None => 0,
    };
    results[0] = Val::I64(offset as i64);
    Ok(())
}

fn config_get(plugin: &mut CurrentPlugin, params: &[Val], results: &mut [Val]) -> Result<()> {
    let key = handle(plugin, offset(params, 0), "config key")?;
    let value = {
        let key = plugin.memory_str(key)?.to_string();
        plugin
            .manifest()
            .config
            .get(&key)
            .map(|v| v.as_bytes().to_vec())
    };
    plugin.memory_free(key)?;
    give(plugin, value, results)
}

fn var_get(plugin: &mut CurrentPlugin, params: &[Val], results: &mut [Val]) -> Result<()> {
    let key = handle(plugin, offset(params, 0), "var key")?;
    let value = {
        let key = plugin.memory_str(key)?.to_string();
        plugin.vars().get(&key).cloned()
    };
    plugin.memory_free(key)?;
    give(plugin, value, results)
}

/// Sets a var, or removes it when the value is the null handle. The store
/// is capped as Extism caps it: the manifest's `max_var_bytes` (1 MiB by
/// default), counting keys, values and their bookkeeping.
fn var_set(plugin: &mut CurrentPlugin, params: &[Val], _: &mut [Val]) -> Result<()> {
    let limit = plugin.manifest().memory.max_var_bytes;
    if limit == Some(0) {
        return Err(extism::Error::msg("Vars are disabled by this host"));
    }
    let key_handle = handle(plugin, offset(params, 0), "var key")?;
    let key = plugin.memory_str(key_handle)?.to_string();
    let value_offset = offset(params, 1);
    if value_offset == 0 {
        plugin.vars_mut().remove(&key);
        return plugin.memory_free(key_handle);
    }
    let value_handle = handle(plugin, value_offset, "var value")?;
    let entry = |key: usize, value: usize| key + value + size_of::<String>() + size_of::<Vec<u8>>();
    let stored: usize = plugin
        .vars()
        .iter()
        .map(|(k, v)| entry(k.len(), v.len()))
        .sum();
    let size = stored + entry(key.len(), value_handle.length as usize);
    if size > limit.unwrap_or(1 << 20) as usize {
        return Err(extism::Error::msg("Variable store is full"));
    }
    let value = plugin.memory_bytes(value_handle)?.to_vec();
    plugin.memory_free(value_handle)?;
    plugin.memory_free(key_handle)?;
    plugin.vars_mut().insert(key, value);
    Ok(())
}

/// Extism's `HttpRequest`, as the PDKs write it.
#[derive(serde::Deserialize)]
struct Request {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
}

fn http_request(
    plugin: &mut CurrentPlugin,
    params: &[Val],
    results: &mut [Val],
    http: &UserData<Http>,
) -> Result<()> {
    let http = http.get()?;
    let mut http = http.lock().map_err(poisoned)?;
    http.status = 0;
    let request_handle = handle(plugin, offset(params, 0), "http request")?;
    let request: Request = serde_json::from_slice(plugin.memory_bytes(request_handle)?)?;
    plugin.memory_free(request_handle)?;
    let body_handle = handle(plugin, offset(params, 1), "http request body")?;

    let url = url::Url::parse(&request.url)
        .map_err(|e| extism::Error::msg(format!("Invalid URL: {e:?}")))?;
    if !http
        .allowed_hosts
        .iter()
        .any(|pattern| pattern.matches(&url))
    {
        return Err(extism::Error::msg(host_not_allowed(&request.url)));
    }
    let mut builder = ureq::http::Request::builder()
        .method(
            request
                .method
                .as_deref()
                .unwrap_or("GET")
                .to_uppercase()
                .as_str(),
        )
        .uri(url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(plugin.time_remaining().or(Some(Duration::from_secs(30))))
        .build()
        .into();
    let body = plugin.memory_bytes(body_handle)?.to_vec();
    let response = agent.run(builder.body(body)?);
    if !body_handle.is_empty() {
        plugin.memory_free(body_handle)?;
    }
    let response = match response {
        Ok(response) => response,
        Err(ureq::Error::Timeout(_)) if plugin.time_remaining() == Some(Duration::ZERO) => {
            return Err(extism::Error::msg("timeout"));
        }
        Err(e) => return Err(extism::Error::msg(e.to_string())),
    };
    http.status = response.status().as_u16();
    let max = plugin
        .manifest()
        .memory
        .max_http_response_bytes
        .unwrap_or(50 << 20);
    let mut body = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(max + 1)
        .read_to_end(&mut body)?;
    if body.len() as u64 > max {
        return Err(extism::Error::msg(format!(
            "HTTP response exceeds the configured maximum number of bytes: {max}"
        )));
    }
    give(plugin, Some(body), results)
}

/// How `http_request` refuses a URL (Extism's wording); [`refused_url`]
/// reads it back for `failure.rs`, which makes it `CallError::HostNotAllowed`.
fn host_not_allowed(url: &str) -> String {
    format!("HTTP request to {url} is not allowed")
}

/// The URL in a [`host_not_allowed`] message.
pub(crate) fn refused_url(message: &str) -> Option<&str> {
    message
        .strip_prefix("HTTP request to ")?
        .strip_suffix(" is not allowed")
}

/// Writes a plugin's log line at `level`, inside the call's span (which
/// names the plugin and function), escaped and capped.
/// As Extism does, a line below the log level is dropped unread, even
/// from a bogus handle.
fn log(plugin: &mut CurrentPlugin, level: tracing::Level, offset: u64) -> Result<()> {
    if tracing::level_filters::LevelFilter::current() < level {
        if let Ok(line) = handle(plugin, offset, "log message") {
            plugin.memory_free(line)?;
        }
        return Ok(());
    }
    let line = handle(plugin, offset, "log message")?;
    let text = escape_log_line(plugin.memory_bytes(line)?);
    match level {
        tracing::Level::ERROR => tracing::error!(target: GUEST_LOG, "{text}"),
        tracing::Level::WARN => tracing::warn!(target: GUEST_LOG, "{text}"),
        tracing::Level::INFO => tracing::info!(target: GUEST_LOG, "{text}"),
        tracing::Level::DEBUG => tracing::debug!(target: GUEST_LOG, "{text}"),
        tracing::Level::TRACE => tracing::trace!(target: GUEST_LOG, "{text}"),
    }
    plugin.memory_free(line)
}

/// A log line as the host writes it: invalid UTF-8 replaced, every control
/// character (CR, LF, ESC…) escaped as `\u{..}`, and at most
/// [`MAX_LOG_LINE`] bytes of the original kept.
pub(crate) fn escape_log_line(bytes: &[u8]) -> String {
    let kept = &bytes[..bytes.len().min(MAX_LOG_LINE)];
    let mut line = String::with_capacity(kept.len());
    for c in String::from_utf8_lossy(kept).chars() {
        if c.is_control() {
            line.extend(c.escape_unicode());
        } else {
            line.push(c);
        }
    }
    if bytes.len() > kept.len() {
        line.push_str(&format!(" … ({} more bytes)", bytes.len() - kept.len()));
    }
    line
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> extism::Error {
    extism::Error::msg("a host function's state is poisoned by an earlier panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_cannot_forge_lines_or_escape_sequences() {
        assert_eq!(
            escape_log_line(b"ok\r\nFAKE line\x1b[31m red"),
            "ok\\u{d}\\u{a}FAKE line\\u{1b}[31m red"
        );
    }

    #[test]
    fn log_lines_replace_invalid_utf8_and_are_capped() {
        assert_eq!(escape_log_line(b"a\xffb"), "a\u{fffd}b");
        let long = vec![b'x'; MAX_LOG_LINE + 10];
        let line = escape_log_line(&long);
        assert!(line.starts_with(&"x".repeat(MAX_LOG_LINE)));
        assert!(line.ends_with(" … (10 more bytes)"), "{line}");
    }
}
