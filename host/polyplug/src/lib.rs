//! polyplug: run untrusted [Extism] plugins with JSON in and JSON out, under
//! hard limits, from async Rust. Plugins use Extism's ABI and PDKs;
//! polyplug runs that ABI on wasmtime itself (`runtime/`).
//!
//! The interesting things in this library:
//!
//! - [`Host`]: load plugins ([`Host::from_config_file`], [`Host::new`]),
//!   swap one for a new version while serving ([`Host::replace`]) and
//!   call them ([`Host::call`] for typed values, [`Host::call_json`] for raw
//!   bytes, [`Host::call_measured`] for raw bytes and the time, fuel and
//!   memory the call used, as [`CallStats`]). `Host` is a cheap handle: clone it into every task. A call
//!   runs inline on the caller's thread while it is quick and moves to
//!   polyplug's slow lane when it is not, so it never stalls other tasks;
//!   dropping its future cancels it.
//! - [`HostConfig`] and [`PluginConfig`]: what each plugin may do (HTTP
//!   hosts, directories, config values) and its [`Limits`] (timeout,
//!   memory, fuel, input/output sizes). Everything is checked at load.
//! - [`CallError`] and [`LoadError`]: every way a call or a load fails, as a
//!   variant to match on.
//! - [`StoreConfig`] and [`KvGrant`]: key-value stores (`[stores.<name>]`,
//!   an embedded `redb` file by default) and which one, in which
//!   namespace, a plugin may use through `polyplug_kv` (docs/contract.md,
//!   section 8); refusals reach the plugin as [`KvCode`]s, and the store's
//!   operations show in [`PluginMetrics::kv`].
//! - [`JsonProblem`]: why input or output broke the JSON contract of
//!   `docs/contract.md`.
//! - [`signature`]: signed plugins. A plugin that trusts public keys
//!   ([`TrustedKey`]) loads only a module whose minisign signature names
//!   it, its version and its sha256 ([`signature::verify`]); a refusal is a
//!   [`SignatureError`] inside [`LoadError::Signature`].
//! - [`Host::metrics`]: a snapshot of every plugin's counters
//!   ([`PluginMetrics`]). The HTTP API of `polyplug serve` lives in the `polyplug-server`
//!   crate and the command in `polyplug-cli`, so an embedder's dependency
//!   tree holds only the runtime.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let host = polyplug::Host::from_config_file("polyplug.toml")?;
//! let input = serde_json::json!({"name": "Ada"});
//! let out: serde_json::Value = host.call("reference_rust", "greet", &input).await?;
//! assert_eq!(out["greeting"], "Hello, Ada!");
//! # Ok(()) }
//! ```
//!
//! [Extism]: https://extism.org

pub mod config;
mod contract;
mod error;
mod failure;
mod generation;
mod host;
mod kv;
mod lane;
mod metrics;
mod module;
mod pipeline;
mod pool;
mod runtime;
pub mod signature;
mod stats;

pub use config::units::format_size;
pub use config::{
    AdminConfig, AllowedPath, DEFAULT_STORE, HostConfig, HostPattern, HttpMock, KvGrant,
    KvNamespace, Limits, LogFormat, MAX_PIPELINE_STEPS, PipelineConfig, PipelineStep, PluginConfig,
    RedisUrl, ServerConfig, SmokeCall, StoreConfig, WasmSource,
};
pub use contract::{JsonProblem, MAX_DEPTH};
pub use error::{CallError, LoadError, PipelineError};
pub use host::{Change, Host, PluginInfo, Reload, ReloadFailure, ReloadStatus};
pub use kv::{KV_OPERATIONS, KvCode};
pub use metrics::{FunctionMetrics, KvMetrics, LATENCY_BUCKETS, PluginMetrics, Totals};
pub use pipeline::{PipelineMetrics, PipelineRun, StepOutput};
pub use runtime::engine::CACHE_CONFIG_ENV;
pub use runtime::log::GUEST_LOG;
pub use signature::{SignatureError, Signed, TrustedKey};
pub use stats::CallStats;

/// The parsers the fuzz targets drive (`fuzz/`), behind the `fuzzing`
/// feature: not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::config::units::{MAX_MEMORY, WASM_PAGE, parse_duration, parse_size};
    pub use crate::contract::{check_json, parse_plugin_error};
}
