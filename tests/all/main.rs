//! polyplug's integration tests, one binary with a module per area.

mod admin;
mod async_contract;
mod call_stats;
mod concurrency;
mod config_cases;
mod generations;
mod hostile;
mod js;
mod kv;
mod kv_languages;
mod limits;
mod pipelines;
mod reload;
mod server;
mod signatures;
mod support;
mod vectors;
mod watch;
