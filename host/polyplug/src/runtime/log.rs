//! `log_*` and `get_log_level`: plugin log lines, escaped and capped, at
//! the `tracing` target [`GUEST_LOG`], inside the call's span.

use wasmtime::{Caller, Linker};

use super::ENV;
use super::state::{CALL_FUEL, State, charge};

/// What a plugin's log line keeps, in bytes; the rest is counted, not
/// written.
pub(crate) const MAX_LOG_LINE: usize = 4096;

/// The `tracing` target of plugin log lines (`RUST_LOG=polyplug::guest=debug`).
pub const GUEST_LOG: &str = "polyplug::guest";

pub(crate) fn link(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    for (name, level) in [
        ("log_error", tracing::Level::ERROR),
        ("log_warn", tracing::Level::WARN),
        ("log_info", tracing::Level::INFO),
        ("log_debug", tracing::Level::DEBUG),
        ("log_trace", tracing::Level::TRACE),
    ] {
        linker.func_wrap(ENV, name, move |mut c: Caller<'_, State>, offset: u64| {
            let length = c.data().kernel.length(offset).min(MAX_LOG_LINE as u64);
            charge(&mut c, CALL_FUEL, length)?;
            log(c.data_mut(), level, offset)
        })?;
    }
    linker.func_wrap(ENV, "get_log_level", |_: Caller<'_, State>| -> i32 {
        match tracing::level_filters::LevelFilter::current().into_level() {
            None => i32::MAX,
            Some(tracing::Level::TRACE) => 0,
            Some(tracing::Level::DEBUG) => 1,
            Some(tracing::Level::INFO) => 2,
            Some(tracing::Level::WARN) => 3,
            Some(tracing::Level::ERROR) => 4,
        }
    })?;
    Ok(())
}

/// Writes a plugin's log line at `level`, escaped and capped. The handle is
/// checked whether or not the level is on, so a call behaves the same
/// whatever the host logs.
fn log(state: &mut State, level: tracing::Level, offset: u64) -> wasmtime::Result<()> {
    let Some(line) = state.kernel.block(offset) else {
        return Err(wasmtime::Error::msg(format!(
            "invalid handle offset for log message: {offset}"
        )));
    };
    let text =
        (tracing::level_filters::LevelFilter::current() >= level).then(|| escape_log_line(line));
    state.kernel.free(offset);
    let Some(text) = text else {
        return Ok(());
    };
    let plugin = state.grants.plugin.as_str();
    match level {
        tracing::Level::ERROR => tracing::error!(target: GUEST_LOG, plugin = %plugin, "{text}"),
        tracing::Level::WARN => tracing::warn!(target: GUEST_LOG, plugin = %plugin, "{text}"),
        tracing::Level::INFO => tracing::info!(target: GUEST_LOG, plugin = %plugin, "{text}"),
        tracing::Level::DEBUG => tracing::debug!(target: GUEST_LOG, plugin = %plugin, "{text}"),
        tracing::Level::TRACE => tracing::trace!(target: GUEST_LOG, plugin = %plugin, "{text}"),
    }
    Ok(())
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
