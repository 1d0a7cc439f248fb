//! Turns the untyped error of a failed Extism call into a [`CallError`].
//!
//! Extism 1.41 reports its limits only as message text (`"timeout"`,
//! `"plugin ran out of fuel"`, `"oom"`); this module is the one place that
//! knows those strings, and `imports.rs` words a refused HTTP request the
//! same way (`imports::refused_url` reads it). The tests in
//! `tests/all/limits.rs` pin each of them, so an Extism upgrade that
//! changes one fails loudly instead of turning a timeout into a `Trap`.
//!
//! A plugin can write any of these strings into its own error channel. It
//! only misreports its own call that way; its contract errors, being JSON
//! objects, can never be mistaken for one of them.

use std::time::Duration;

use crate::contract::parse_plugin_error;
use crate::error::CallError;
use crate::imports;
use crate::plugin::LoadedPlugin;

/// Whether the instance that produced a failure may serve another call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instance {
    /// The guest returned a contract error by itself: its state is intact.
    Intact,
    /// Anything else (trap, limit, broken error): drop the instance, since
    /// Extism does not reset one and some failures leave it broken.
    Discard,
}

pub(crate) fn classify(
    plugin: &LoadedPlugin,
    function: &str,
    error: extism::Error,
    elapsed: Duration,
) -> (CallError, Instance) {
    // Extism puts the message a guest set with `error_set` outermost and,
    // when the call also trapped, the trap beneath it.
    let instance = if error.chain().nth(1).is_none() {
        Instance::Intact
    } else {
        Instance::Discard
    };
    let outer = error.to_string();
    if let Some((code, message)) = parse_plugin_error(&outer) {
        let error = CallError::Plugin {
            plugin: plugin.name.clone(),
            function: function.to_string(),
            code,
            message,
        };
        return (error, instance);
    }
    (
        limit_or_trap(plugin, function, error, elapsed),
        Instance::Discard,
    )
}

fn limit_or_trap(
    plugin: &LoadedPlugin,
    function: &str,
    error: extism::Error,
    elapsed: Duration,
) -> CallError {
    let limits = &plugin.config.limits;
    let (name, function) = (plugin.name.clone(), function.to_string());
    let outer = error.to_string();
    let root = error.root_cause().to_string();
    match outer.as_str() {
        "timeout" => {
            tracing::debug!(plugin = %name, ?elapsed, "call interrupted by its timeout");
            return CallError::Timeout {
                plugin: name,
                function,
                limit: limits.timeout,
            };
        }
        "plugin ran out of fuel" => {
            return CallError::OutOfFuel {
                plugin: name,
                function,
                limit: limits.fuel,
            };
        }
        _ if root == "oom" => {
            return CallError::MemoryLimit {
                plugin: name,
                function,
                limit: limits.memory,
            };
        }
        _ => {}
    }
    if let Some(url) = error
        .chain()
        .find_map(|cause| imports::refused_url(&cause.to_string()).map(str::to_string))
    {
        let host = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        return CallError::HostNotAllowed {
            plugin: name,
            function,
            host,
            url,
        };
    }
    if elapsed >= limits.timeout {
        // The interrupt can land inside a kernel call that a host function
        // makes (reading a var key, say); Extism then reports the host
        // function's failure instead of "timeout". A call that failed at or
        // past its deadline was stopped by it.
        tracing::debug!(plugin = %name, ?elapsed, %root, "failure at the deadline counted as timeout");
        return CallError::Timeout {
            plugin: name,
            function,
            limit: limits.timeout,
        };
    }
    CallError::Trap {
        plugin: name,
        function,
        message: root,
    }
}
