//! Every way loading or calling a plugin can fail, as types.
//!
//! Messages are lowercase, name the plugin and function, and say why. Match
//! on the variants, never on the text.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::units::format_size;
use crate::contract::JsonProblem;

/// Why a config file or a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("cannot read config file `{}`: {source}", file.display())]
    ConfigRead {
        file: PathBuf,
        source: std::io::Error,
    },

    #[error("config file `{}`: unknown format (use .toml, .yaml, .yml or .json)", file.display())]
    ConfigFormat { file: PathBuf },

    #[error("config file `{}`: {message}", file.display())]
    ConfigSyntax { file: PathBuf, message: String },

    #[error("config file `{}`: no `[plugins.<name>]` table, so there is nothing to load", file.display())]
    NoPlugins { file: PathBuf },

    #[error(
        "config file `{}`: `{key}` = `{value}`{}: {reason}",
        file.display(),
        origin.as_ref().map(|var| format!(" (from environment variable `{var}`)")).unwrap_or_default()
    )]
    InvalidValue {
        file: PathBuf,
        key: String,
        value: String,
        reason: String,
        /// The environment variable the value came from, if it did.
        origin: Option<String>,
    },

    #[error("plugin `{plugin}`: cannot read module `{path}`: {source}")]
    ModuleRead {
        plugin: String,
        path: String,
        source: std::io::Error,
    },

    #[error("plugin `{plugin}`: module `{path}` is {}, over its `max_module` limit of {}", format_size(*size), format_size(*limit))]
    ModuleTooLarge {
        plugin: String,
        path: String,
        size: u64,
        limit: u64,
    },

    #[error(
        "plugin `{plugin}`: module `{path}` has sha256 {actual}, but the config pins {expected}"
    )]
    HashMismatch {
        plugin: String,
        path: String,
        expected: String,
        actual: String,
    },

    #[error("plugin `{plugin}`: module `{path}` is not a valid wasm module: {reason}")]
    InvalidModule {
        plugin: String,
        path: String,
        reason: String,
    },

    #[error("plugin `{plugin}`: module `{path}` cannot be instantiated: {reason}")]
    Instantiate {
        plugin: String,
        path: String,
        reason: String,
    },
}

/// Why a call did not return output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    #[error("no plugin named `{plugin}` is loaded")]
    UnknownPlugin { plugin: String },

    #[error("plugin `{plugin}` has no function `{function}`")]
    UnknownFunction { plugin: String, function: String },

    #[error("plugin `{plugin}`: all {instances} instances stayed busy for {}, so `{function}` was not run", humantime::format_duration(*waited))]
    Busy {
        plugin: String,
        function: String,
        instances: usize,
        waited: Duration,
    },

    #[error("plugin `{plugin}`: input to `{function}` is {}, over its `max_input` limit of {}", format_size(*size), format_size(*limit))]
    InputTooLarge {
        plugin: String,
        function: String,
        size: u64,
        limit: u64,
    },

    #[error("plugin `{plugin}`: input to `{function}` was rejected: {problem}")]
    InvalidInput {
        plugin: String,
        function: String,
        problem: JsonProblem,
    },

    #[error("plugin `{plugin}`: function `{function}` ran past its {} timeout", humantime::format_duration(*limit))]
    Timeout {
        plugin: String,
        function: String,
        limit: Duration,
    },

    #[error("plugin `{plugin}`: function `{function}` ran out of fuel (its limit is {limit})")]
    OutOfFuel {
        plugin: String,
        function: String,
        limit: u64,
    },

    #[error("plugin `{plugin}`: function `{function}` reached its memory limit of {}", format_size(*limit))]
    MemoryLimit {
        plugin: String,
        function: String,
        limit: u64,
    },

    #[error(
        "plugin `{plugin}`: function `{function}` requested `{url}`, but `{host}` is not in its `allowed_hosts`"
    )]
    HostNotAllowed {
        plugin: String,
        function: String,
        host: String,
        url: String,
    },

    #[error("plugin `{plugin}`: output of `{function}` is {}, over its `max_output` limit of {}", format_size(*size), format_size(*limit))]
    OutputTooLarge {
        plugin: String,
        function: String,
        size: u64,
        limit: u64,
    },

    #[error("plugin `{plugin}`: output of `{function}` is not valid contract JSON: {problem}")]
    InvalidOutput {
        plugin: String,
        function: String,
        problem: JsonProblem,
    },

    #[error(
        "plugin `{plugin}`: output of `{function}` does not have the type the caller asked for: {reason}"
    )]
    OutputType {
        plugin: String,
        function: String,
        reason: String,
    },

    /// The plugin reported a contract error object `{"code", "message"}`.
    #[error("plugin `{plugin}`: function `{function}` failed with `{code}`: {message}")]
    Plugin {
        plugin: String,
        function: String,
        code: String,
        message: String,
    },

    /// The plugin crashed without a contract error: a wasm trap, a failed
    /// host call, or an error that is not a contract error object.
    #[error("plugin `{plugin}`: function `{function}` crashed: {message}")]
    Trap {
        plugin: String,
        function: String,
        message: String,
    },

    /// A fresh instance could not be started (for example its start-up code
    /// trapped or ran out of `init_fuel`).
    #[error("plugin `{plugin}`: could not start an instance for `{function}`: {message}")]
    Start {
        plugin: String,
        function: String,
        message: String,
    },
}

impl CallError {
    /// A short stable name for the variant, for logs, metrics and the HTTP API.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnknownPlugin { .. } => "unknown_plugin",
            Self::UnknownFunction { .. } => "unknown_function",
            Self::Busy { .. } => "busy",
            Self::InputTooLarge { .. } => "input_too_large",
            Self::InvalidInput { .. } => "invalid_input",
            Self::Timeout { .. } => "timeout",
            Self::OutOfFuel { .. } => "out_of_fuel",
            Self::MemoryLimit { .. } => "memory_limit",
            Self::HostNotAllowed { .. } => "host_not_allowed",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::InvalidOutput { .. } => "invalid_output",
            Self::OutputType { .. } => "output_type",
            Self::Plugin { .. } => "plugin_error",
            Self::Trap { .. } => "trap",
            Self::Start { .. } => "start_failed",
        }
    }
}
