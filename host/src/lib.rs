//! polyplug: run untrusted [Extism] plugins with JSON in and JSON out, under
//! hard limits, from async Rust.
//!
//! The interesting things in this library:
//!
//! - [`Host`]: load plugins ([`Host::from_config_file`], [`Host::new`]) and
//!   call them ([`Host::call`] for typed values, [`Host::call_json`] for raw
//!   bytes). A running call never stalls other tasks (`block_in_place` on
//!   a multi-threaded runtime, the blocking pool otherwise).
//! - [`HostConfig`] and [`PluginConfig`]: what each plugin may do (HTTP
//!   hosts, directories, config values) and its [`Limits`] (timeout,
//!   memory, fuel, input/output sizes). Everything is checked at load.
//! - [`CallError`] and [`LoadError`]: every way a call or a load fails, as a
//!   variant to match on.
//! - [`contract`]: the host's side of the JSON contract in
//!   `docs/contract.md`.
//! - [`server`]: the HTTP API of `polyplug serve` ([`server::router`],
//!   [`server::serve`]), with Prometheus metrics from [`Host::metrics`].
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
pub mod contract;
mod error;
mod failure;
mod host;
mod imports;
mod kernel;
mod metrics;
mod plugin;
mod pool;
pub mod server;

pub use config::{
    AllowedPath, HostConfig, HostPattern, Limits, LogFormat, PluginConfig, ServerConfig, WasmSource,
};
pub use error::{CallError, LoadError};
pub use host::{Host, PluginInfo};
pub use metrics::Totals;
