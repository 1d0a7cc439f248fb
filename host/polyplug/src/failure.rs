//! Turns how a call ended ([`Failed`]) into a [`CallError`], and says
//! whether the instance may serve another call.
//!
//! Limits reach here as types: the host's own [`Stop`] reasons (timeout,
//! memory, a refused URL) and wasmtime's `Trap::OutOfFuel`, found by
//! downcasting the error chain; no message is parsed, except the plugin's
//! own error text, which the contract defines as a JSON object.

use std::time::Duration;

use crate::config::Limits;
use crate::contract::parse_plugin_error;
use crate::error::CallError;
use crate::runtime::Failed;
use crate::runtime::stop::Stop;

/// Whether the instance that produced a failure may serve another call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instance {
    /// The guest returned a contract error by itself: its state is intact.
    Intact,
    /// Anything else (trap, limit, broken error): drop the instance, since
    /// some failures leave one broken.
    Discard,
}

/// Which call failed, and under what limits.
pub(crate) struct Call<'a> {
    pub plugin: &'a str,
    pub function: &'a str,
    pub limits: &'a Limits,
    pub elapsed: Duration,
}

pub(crate) fn classify(call: &Call<'_>, failed: Failed) -> (CallError, Instance) {
    let (plugin, function) = (call.plugin.to_string(), call.function.to_string());
    if let Some((offset, length)) = failed.lost_output {
        let message = format!(
            "the plugin set its output outside its memory ({length} bytes at offset {offset})"
        );
        let error = CallError::Trap {
            plugin,
            function,
            message,
        };
        return (error, Instance::Discard);
    }
    if let Some(text) = &failed.guest_error
        && let Some((code, message)) = parse_plugin_error(text)
    {
        let instance = match failed.trap {
            None => Instance::Intact,
            Some(_) => Instance::Discard,
        };
        let error = CallError::Plugin {
            plugin,
            function,
            code,
            message,
        };
        return (error, instance);
    }
    let error = match failed.trap {
        Some(trap) => limit_or_trap(call, trap),
        None => CallError::Trap {
            plugin,
            function,
            message: failed
                .guest_error
                .unwrap_or_else(|| format!("returned non-zero exit code: {}", failed.returned)),
        },
    };
    (error, Instance::Discard)
}

fn limit_or_trap(call: &Call<'_>, trap: wasmtime::Error) -> CallError {
    let limits = call.limits;
    let (plugin, function) = (call.plugin.to_string(), call.function.to_string());
    match Stop::find(&trap) {
        Some(Stop::Timeout) => {
            return CallError::Timeout {
                plugin,
                function,
                limit: limits.timeout,
            };
        }
        Some(Stop::MemoryLimit) => {
            return CallError::MemoryLimit {
                plugin,
                function,
                limit: limits.memory,
            };
        }
        Some(Stop::HostNotAllowed { url, host }) => {
            return CallError::HostNotAllowed {
                plugin,
                function,
                host: host.clone(),
                url: url.clone(),
            };
        }
        None => {}
    }
    if trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::OutOfFuel) {
        return CallError::OutOfFuel {
            plugin,
            function,
            limit: limits.fuel,
        };
    }
    if let Some(wasmtime_wasi::I32Exit(code)) = trap.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return CallError::Trap {
            plugin,
            function,
            message: format!("the plugin exited with code {code}"),
        };
    }
    if call.elapsed >= limits.timeout {
        // A host function that was still working at the deadline (an HTTP
        // request, say) fails with its own error; a call that failed at or
        // past its deadline was stopped by it.
        tracing::debug!(plugin, elapsed = ?call.elapsed, "failure at the deadline counted as timeout");
        return CallError::Timeout {
            plugin,
            function,
            limit: limits.timeout,
        };
    }
    CallError::Trap {
        plugin,
        function,
        message: trap.root_cause().to_string(),
    }
}
