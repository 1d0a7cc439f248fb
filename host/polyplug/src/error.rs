//! Every way loading or calling a plugin can fail, as types.
//!
//! Messages are lowercase, name the plugin and function, and say why. Match
//! on the variants, never on the text.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::units::format_size;
use crate::contract::JsonProblem;
use crate::signature::SignatureError;

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

    /// The module's signature is missing, or does not admit it
    /// (`signature.rs`). Boxed: a `SignatureError` can carry two versions,
    /// and every load result would otherwise grow by them.
    #[error("plugin `{plugin}`: module `{path}`: {source}")]
    Signature {
        plugin: String,
        path: String,
        source: Box<SignatureError>,
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

    /// A smoke call of the new version failed.
    #[error(
        "plugin `{plugin}`: smoke call {index} (`{function}`) failed, so this version does not serve: {source}"
    )]
    SmokeFailed {
        plugin: String,
        /// Where the call is in the plugin's `smoke` list, from 0.
        index: usize,
        function: String,
        source: Box<CallError>,
    },

    /// A smoke call of the new version answered something else than expected.
    #[error(
        "plugin `{plugin}`: smoke call {index} (`{function}`) answered `{actual}`, expected `{expected}`, so this version does not serve"
    )]
    SmokeMismatch {
        plugin: String,
        index: usize,
        function: String,
        expected: String,
        actual: String,
    },

    /// A pipeline step names a plugin or function that is not loaded.
    #[error("pipeline `{pipeline}`: step {index} (`{plugin}` `{function}`): {reason}")]
    PipelineStep {
        pipeline: String,
        index: usize,
        plugin: String,
        function: String,
        reason: String,
    },

    /// A plugin's `kv` grant names a store the config does not declare.
    #[error(
        "plugin `{plugin}`: its `kv` grant names store `{store}`, which is not declared: add `[stores.{store}]` (only `default` needs no table)"
    )]
    UnknownStore { plugin: String, store: String },

    /// The store a plugin is granted cannot be opened.
    #[error("plugin `{plugin}`: cannot open key-value store `{store}`: {reason}")]
    StoreOpen {
        plugin: String,
        store: String,
        reason: String,
    },

    #[error(
        "this host was built from a config in code, not read from a file, so there is no file to reload: call `Host::apply` with the new config"
    )]
    NoConfigFile,
}

impl LoadError {
    /// A short stable name for the variant, for logs, metrics and APIs (a
    /// signature failure is named by its [`SignatureError::kind`]).
    ///
    /// [`SignatureError::kind`]: crate::SignatureError::kind
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ConfigRead { .. } => "config_read",
            Self::ConfigFormat { .. } => "config_format",
            Self::ConfigSyntax { .. } => "config_syntax",
            Self::NoPlugins { .. } => "no_plugins",
            Self::InvalidValue { .. } => "invalid_value",
            Self::ModuleRead { .. } => "module_read",
            Self::ModuleTooLarge { .. } => "module_too_large",
            Self::HashMismatch { .. } => "hash_mismatch",
            Self::InvalidModule { .. } => "invalid_module",
            Self::Instantiate { .. } => "instantiate",
            Self::Signature { source, .. } => source.kind(),
            Self::SmokeFailed { .. } => "smoke_failed",
            Self::SmokeMismatch { .. } => "smoke_mismatch",
            Self::PipelineStep { .. } => "pipeline_step",
            Self::UnknownStore { .. } => "unknown_store",
            Self::StoreOpen { .. } => "store_open",
            Self::NoConfigFile => "no_config_file",
        }
    }
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
        "plugin `{plugin}`: function `{function}` requested `{url}`, but its `allowed_hosts` do not admit that scheme, host and port"
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
    /// Every [`kind`](Self::kind) name, in a fixed order.
    pub const KINDS: [&'static str; 15] = [
        "unknown_plugin",
        "unknown_function",
        "busy",
        "input_too_large",
        "invalid_input",
        "timeout",
        "out_of_fuel",
        "memory_limit",
        "host_not_allowed",
        "output_too_large",
        "invalid_output",
        "output_type",
        "plugin_error",
        "trap",
        "start_failed",
    ];

    /// A short stable name for the variant, for logs, metrics and the HTTP API.
    pub fn kind(&self) -> &'static str {
        Self::KINDS[self.kind_index()]
    }

    pub(crate) fn kind_index(&self) -> usize {
        match self {
            Self::UnknownPlugin { .. } => 0,
            Self::UnknownFunction { .. } => 1,
            Self::Busy { .. } => 2,
            Self::InputTooLarge { .. } => 3,
            Self::InvalidInput { .. } => 4,
            Self::Timeout { .. } => 5,
            Self::OutOfFuel { .. } => 6,
            Self::MemoryLimit { .. } => 7,
            Self::HostNotAllowed { .. } => 8,
            Self::OutputTooLarge { .. } => 9,
            Self::InvalidOutput { .. } => 10,
            Self::OutputType { .. } => 11,
            Self::Plugin { .. } => 12,
            Self::Trap { .. } => 13,
            Self::Start { .. } => 14,
        }
    }

    /// The plugin and function the call named (empty function for an
    /// unknown plugin).
    pub fn target(&self) -> (&str, &str) {
        match self {
            Self::UnknownPlugin { plugin } => (plugin, ""),
            Self::UnknownFunction { plugin, function }
            | Self::Busy {
                plugin, function, ..
            }
            | Self::InputTooLarge {
                plugin, function, ..
            }
            | Self::InvalidInput {
                plugin, function, ..
            }
            | Self::Timeout {
                plugin, function, ..
            }
            | Self::OutOfFuel {
                plugin, function, ..
            }
            | Self::MemoryLimit {
                plugin, function, ..
            }
            | Self::HostNotAllowed {
                plugin, function, ..
            }
            | Self::OutputTooLarge {
                plugin, function, ..
            }
            | Self::InvalidOutput {
                plugin, function, ..
            }
            | Self::OutputType {
                plugin, function, ..
            }
            | Self::Plugin {
                plugin, function, ..
            }
            | Self::Trap {
                plugin, function, ..
            }
            | Self::Start {
                plugin, function, ..
            } => (plugin, function),
        }
    }
}

/// Why a pipeline run did not return output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error("no pipeline named `{pipeline}` is loaded")]
    UnknownPipeline { pipeline: String },

    /// A step failed; `source` is that call's own error.
    #[error("pipeline `{pipeline}`: step {index} (`{plugin}` `{function}`) failed: {source}")]
    Step {
        pipeline: String,
        /// Where the step is in the pipeline, from 0.
        index: usize,
        plugin: String,
        function: String,
        source: Box<CallError>,
    },

    #[error("pipeline `{pipeline}` ran past its {} timeout (in step {index})", humantime::format_duration(*limit))]
    Timeout {
        pipeline: String,
        limit: Duration,
        /// The step running when the time ran out.
        index: usize,
    },
}

impl PipelineError {
    /// A short stable name: a failed step's is its call's
    /// [`CallError::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnknownPipeline { .. } => "unknown_pipeline",
            Self::Step { source, .. } => source.kind(),
            Self::Timeout { .. } => "timeout",
        }
    }
}
