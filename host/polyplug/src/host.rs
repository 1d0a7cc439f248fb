//! [`Host`]: the loaded plugins and the async API to call them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{HostConfig, Limits};
use crate::error::{CallError, LoadError};
use crate::metrics::{Exposed, Totals};
use crate::plugin::{LoadedPlugin, SharedPlugin};

/// A set of loaded plugins, ready to call. Cheap to share: wrap it in an
/// `Arc` and call it from any number of tasks at once.
pub struct Host {
    plugins: BTreeMap<String, SharedPlugin>,
}

/// What a caller may want to know about a loaded plugin.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginInfo {
    pub name: String,
    /// Exported functions with the Extism calling convention.
    pub functions: Vec<String>,
    /// The source language, when the module's `producers` section names it
    /// (Rust, Go and polyplug-js guests do; AssemblyScript's do not).
    pub language: Option<String>,
    pub limits: Limits,
    /// sha256 of the module, lowercase hex.
    pub sha256: String,
    pub wasi: bool,
    /// How long loading took (reading, checking, compiling, first instance).
    pub load_time: Duration,
    /// Calls running now.
    pub instances_busy: usize,
    pub totals: Totals,
}

impl Host {
    /// Loads every plugin named in a config file. Compiling is CPU-bound and
    /// may take a while for large modules, so async code should call this
    /// from `tokio::task::spawn_blocking`.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::new(HostConfig::from_file(path)?)
    }

    /// Loads every plugin in `config`, compiling each module once. Plugins
    /// load in parallel, each on a plain thread: a WASI module's start-up
    /// code reaches wasmtime-wasi, which must not run on an async worker
    /// thread, so this is safe to call from async code too (it blocks).
    pub fn new(config: HostConfig) -> Result<Self, LoadError> {
        let plugins = std::thread::scope(|scope| {
            let loading: Vec<_> = config
                .plugins
                .into_iter()
                .map(|(name, plugin)| {
                    scope.spawn(move || {
                        let loaded = LoadedPlugin::load(&name, plugin)?;
                        Ok((name, Arc::new(loaded)))
                    })
                })
                .collect();
            loading
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Result<_, LoadError>>()
        })?;
        Ok(Self { plugins })
    }

    /// Calls `function` of `plugin` with `input` serialized as JSON and
    /// deserializes its JSON output.
    pub async fn call<I, O>(&self, plugin: &str, function: &str, input: &I) -> Result<O, CallError>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let bytes = serde_json::to_vec(input).map_err(|err| CallError::InvalidInput {
            plugin: plugin.to_string(),
            function: function.to_string(),
            problem: crate::contract::JsonProblem::Syntax {
                message: err.to_string(),
            },
        })?;
        let output = self.call_json(plugin, function, bytes).await?;
        let mut deserializer = serde_json::Deserializer::from_slice(&output);
        // The output passed the contract's depth check already.
        deserializer.disable_recursion_limit();
        O::deserialize(&mut deserializer).map_err(|err| CallError::OutputType {
            plugin: plugin.to_string(),
            function: function.to_string(),
            reason: err.to_string(),
        })
    }

    /// Calls `function` of `plugin` with raw JSON bytes and returns the raw
    /// JSON output, both checked against the contract. The call waits up to
    /// the plugin's `queue_timeout` for a free instance, then runs without
    /// stalling other tasks: on a multi-threaded runtime the calling worker
    /// hands its other tasks to another thread (`block_in_place`) and runs
    /// the plugin itself; on a current-thread runtime the plugin runs on the
    /// blocking pool. Once the plugin runs, its `timeout` bounds the call;
    /// futures joined with this one in the same task (`select!`, `join!`)
    /// wait for it. A module that imports WASI's `poll_oneoff` (Go's
    /// runtime does) can sleep where the timeout cannot reach, so its calls
    /// run in a task of their own and the caller stops waiting shortly after
    /// the timeout; that costs such calls about 12 us.
    pub async fn call_json(
        &self,
        plugin: &str,
        function: &str,
        input: impl Into<Vec<u8>>,
    ) -> Result<Vec<u8>, CallError> {
        let loaded = self.plugin(plugin)?;
        let started = Instant::now();
        let result = Self::run(loaded.clone(), function, input.into()).await;
        let error = result.as_ref().err();
        loaded.stats.record(function, started.elapsed(), error);
        result
    }

    async fn run(
        loaded: SharedPlugin,
        function: &str,
        input: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        let plugin = loaded.name.as_str();
        if !loaded.functions.contains(function) {
            return Err(CallError::UnknownFunction {
                plugin: plugin.to_string(),
                function: function.to_string(),
            });
        }
        let limit = loaded.config.limits.max_input;
        if input.len() as u64 > limit {
            return Err(CallError::InputTooLarge {
                plugin: plugin.to_string(),
                function: function.to_string(),
                size: input.len() as u64,
                limit,
            });
        }
        let wait = loaded.config.limits.queue_timeout;
        let lease = loaded
            .pool
            .lease(wait)
            .await
            .ok_or_else(|| CallError::Busy {
                plugin: plugin.to_string(),
                function: function.to_string(),
                instances: loaded.pool.size(),
                waited: wait,
            })?;
        if on_multi_thread_runtime() && !loaded.can_sleep {
            // The call runs on this thread; tokio first hands this worker's
            // other tasks to another thread. Cheaper than a round trip to
            // the blocking pool, which would cost more than a small call.
            return tokio::task::block_in_place(|| loaded.call_blocking(lease, function, &input));
        }
        let limit = loaded.config.limits.timeout;
        let function = function.to_string();
        let call = {
            let (loaded, function) = (loaded.clone(), function.clone());
            move || loaded.call_blocking(lease, &function, &input)
        };
        let running = if on_multi_thread_runtime() {
            tokio::spawn(async move { tokio::task::block_in_place(call) })
        } else {
            tokio::task::spawn_blocking(call)
        };
        if !loaded.can_sleep {
            return running.await.unwrap_or_else(resume_panic);
        }
        // WASI's `poll_oneoff` sleeps in host code, where Extism's timeout
        // cannot reach it: the caller stops waiting at the timeout, while
        // the call keeps its slot (so its thread) until it comes back.
        match tokio::time::timeout(limit + SLEEP_GRACE, running).await {
            Ok(joined) => joined.unwrap_or_else(resume_panic),
            Err(_) => {
                tracing::warn!(plugin = %loaded.name, function, ?limit, "call still asleep past its timeout; its slot stays busy until it wakes");
                Err(CallError::Timeout {
                    plugin: loaded.name.clone(),
                    function,
                    limit,
                })
            }
        }
    }

    /// The loaded plugins, by name, with their live counters.
    pub fn plugins(&self) -> impl Iterator<Item = PluginInfo> + '_ {
        self.plugins.values().map(|plugin| PluginInfo {
            name: plugin.name.clone(),
            functions: plugin.functions.iter().cloned().collect(),
            language: plugin.language.clone(),
            limits: plugin.config.limits.clone(),
            sha256: plugin.sha256.clone(),
            wasi: plugin.config.wasi,
            load_time: plugin.load_time,
            instances_busy: plugin.pool.busy(),
            totals: plugin.stats.totals(),
        })
    }

    /// Every plugin's counters in the Prometheus text format.
    pub fn metrics(&self) -> String {
        crate::metrics::render(self.plugins.values().map(|plugin| Exposed {
            plugin: &plugin.name,
            stats: &plugin.stats,
            instances_busy: plugin.pool.busy(),
            instances_max: plugin.pool.size(),
        }))
    }

    fn plugin(&self, name: &str) -> Result<SharedPlugin, CallError> {
        self.plugins
            .get(name)
            .cloned()
            .ok_or_else(|| CallError::UnknownPlugin {
                plugin: name.to_string(),
            })
    }
}

/// How long past its timeout a call that can sleep (`poll_oneoff`) is
/// waited for before the caller gets `Timeout` anyway: enough for Extism's
/// own timeout to land first whenever the call is running wasm.
const SLEEP_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

fn resume_panic<T>(join_error: tokio::task::JoinError) -> T {
    std::panic::resume_unwind(join_error.into_panic())
}

/// Whether `block_in_place` may run here: only a multi-threaded runtime can
/// move a worker's other tasks away while a call blocks its thread.
fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}
