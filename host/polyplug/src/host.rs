//! [`Host`]: a cheap handle over the registry of loaded plugins, and the
//! async API to call them.
//!
//! The registry maps each plugin name to its current generation
//! (`generation.rs`) behind an [`ArcSwap`]: a call loads the map without a
//! lock, takes its plugin's generation (an `Arc`) and finishes on it; a
//! new map can be swapped in at any time without waiting for calls, and a
//! generation is freed when its last call ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::PipelineConfig;
use crate::config::{HostConfig, Limits, PluginConfig, StoreConfig, stores_for};
use crate::error::{CallError, LoadError, PipelineError};
use crate::generation::Generation;
use crate::metrics::{PluginMetrics, Totals};
use crate::pipeline::{Pipeline, PipelineMetrics, PipelineRun};
use crate::signature::SignatureError;
use crate::stats::CallStats;

/// The loaded plugins, ready to call: a handle, cheap to clone into every
/// task (like `wasmtime::Engine`). Every clone sees the same plugins.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

struct Inner {
    registry: ArcSwap<Registry>,
    /// Held while a change stages and commits: changes apply one at a time,
    /// each against the registry the previous one left.
    changing: Mutex<()>,
    /// The config file [`Host::reload`] reads.
    file: Mutex<Option<PathBuf>>,
    /// The key-value stores of the config last applied: what
    /// [`Host::replace`] resolves a grant against.
    stores: Mutex<Stores>,
    history: Mutex<History>,
}

/// What calls see: every plugin's current generation, by name, and the
/// pipelines over them. A call or a pipeline run takes one snapshot.
#[derive(Clone, Default)]
struct Registry {
    plugins: Plugins,
    pipelines: BTreeMap<String, Arc<Pipeline>>,
}

type Plugins = BTreeMap<String, Arc<Generation>>;

/// The stores a config declares, and the folder an implicit `default`
/// store lives in (the config file's, or the current directory).
struct Stores {
    base: PathBuf,
    declared: BTreeMap<String, StoreConfig>,
}

impl Stores {
    fn of(config: &HostConfig) -> Self {
        let base = (config.file.as_deref())
            .and_then(Path::parent)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        Self {
            base,
            declared: config.stores.clone(),
        }
    }

    /// The stores `plugins` may be granted: those declared, and `default`.
    fn for_plugins<'a>(
        &self,
        plugins: impl IntoIterator<Item = (&'a String, &'a PluginConfig)>,
    ) -> BTreeMap<String, StoreConfig> {
        stores_for(&self.declared, &self.base, plugins)
    }
}

/// What changes left behind: how each plugin's reloads went, and the
/// generations replaced or removed while calls still ran on them.
#[derive(Default)]
struct History {
    reloads: BTreeMap<String, ReloadStatus>,
    retired: Vec<Weak<Generation>>,
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
    /// The version its signature names; `None` for a module loaded
    /// unsigned.
    pub version: Option<semver::Version>,
    /// The id of the key that signed the module (16 uppercase hex digits,
    /// as minisign prints it); `None` for a module loaded unsigned.
    pub signed_by: Option<String>,
    pub wasi: bool,
    /// The key-value store it is granted, if any.
    pub kv: Option<crate::config::KvGrant>,
    /// How long loading took (reading, checking, compiling, first instance,
    /// smoke calls).
    pub load_time: Duration,
    /// When this generation of the plugin finished loading.
    pub loaded_at: SystemTime,
    /// Calls running now on this generation.
    pub instances_busy: usize,
    /// Instances kept for the next call.
    pub instances_idle: usize,
    /// Calls still running on generations this one replaced.
    pub calls_draining: usize,
    /// How this plugin's reloads went.
    pub reloads: ReloadStatus,
    /// This generation's counters (each generation starts from zero).
    pub totals: Totals,
}

/// How one plugin's changes went since the host started.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReloadStatus {
    /// New generations that staged and now serve (or served).
    pub succeeded: u64,
    /// New generations that failed to stage, leaving the previous one.
    pub failed: u64,
    /// Why the last failed staging failed, unless a later one succeeded.
    pub last_error: Option<ReloadFailure>,
}

/// A staging failure, kept for `/v1/plugins`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReloadFailure {
    /// [`LoadError::kind`].
    pub kind: &'static str,
    pub message: String,
    pub at: SystemTime,
}

/// What [`Host::apply`] or [`Host::reload`] did, plugin by plugin.
#[derive(Debug)]
#[non_exhaustive]
pub struct Reload {
    pub plugins: BTreeMap<String, Change>,
    /// Pipelines of the new config whose steps do not check against the
    /// plugins now loaded: each keeps its previous definition, if it had
    /// one.
    pub pipeline_errors: BTreeMap<String, LoadError>,
}

/// What a reload did to one plugin.
#[derive(Debug)]
#[non_exhaustive]
pub enum Change {
    /// Neither its config nor its module changed: nothing was done.
    Unchanged,
    Added {
        sha256: String,
    },
    Replaced {
        from: String,
        to: String,
    },
    /// No longer in the config: new calls fail as unknown, running ones
    /// finish.
    Removed,
    /// The new version failed to stage; the previous one (if any) serves.
    Failed(LoadError),
}

impl Reload {
    /// The plugins whose new version was refused, with why.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &LoadError)> {
        self.plugins
            .iter()
            .filter_map(|(name, change)| match change {
                Change::Failed(err) => Some((name.as_str(), err)),
                _ => None,
            })
    }

    /// Whether every plugin's change and every pipeline went through.
    pub fn is_success(&self) -> bool {
        self.errors().next().is_none() && self.pipeline_errors.is_empty()
    }
}

impl Host {
    /// Loads every plugin named in a config file. Compiling is CPU-bound and
    /// may take a while for large modules, so async code should call this
    /// from `tokio::task::spawn_blocking`.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::new(HostConfig::from_file(path)?)
    }

    /// Loads every plugin in `config`, compiling each module once and
    /// running its smoke calls. Plugins load in parallel, each on a plain
    /// thread: a WASI module's start-up code reaches wasmtime-wasi, which
    /// must not run on an async worker thread, so this is safe to call
    /// from async code too (it blocks). Fails with the first plugin (by
    /// name) that does not load.
    pub fn new(config: HostConfig) -> Result<Self, LoadError> {
        crate::lane::start();
        let stores = Stores::of(&config);
        let reachable = stores.for_plugins(&config.plugins);
        let plugins = stage_all(config.plugins, &reachable)
            .into_iter()
            .map(|(name, staged)| Ok((name, staged?)))
            .collect::<Result<Plugins, LoadError>>()?;
        let mut pipelines = BTreeMap::new();
        for (name, pipeline) in config.pipelines {
            let pipeline = Pipeline::new(&name, pipeline);
            pipeline.check(&plugins)?;
            pipelines.insert(name, Arc::new(pipeline));
        }
        let registry = Registry { plugins, pipelines };
        Ok(Self {
            inner: Arc::new(Inner {
                registry: ArcSwap::from_pointee(registry),
                changing: Mutex::new(()),
                file: Mutex::new(config.file),
                stores: Mutex::new(stores),
                history: Mutex::default(),
            }),
        })
    }

    /// Re-reads the config file the host was loaded from and applies it
    /// ([`Host::apply`]). A file that does not read or check changes
    /// nothing and is the error; otherwise each plugin's outcome is in the
    /// [`Reload`]. Blocks while it compiles.
    pub fn reload(&self) -> Result<Reload, LoadError> {
        let file = lock(&self.inner.file)
            .clone()
            .ok_or(LoadError::NoConfigFile)?;
        Ok(self.apply(HostConfig::from_file(file)?))
    }

    /// Makes the host serve the plugins of `config`, changing only what
    /// changed: a plugin whose config and module bytes are the same as its
    /// current generation's is left alone; a new or changed one is staged
    /// (read, checked, compiled, started, smoke-called) and, if that
    /// passes, swapped in for new calls, for all its functions at once; a
    /// plugin no longer named is removed. Calls in flight finish on the
    /// generation they started on, which is freed when the last of them
    /// ends.
    ///
    /// Each plugin stands alone: one that fails to stage keeps its current
    /// generation (its error is in the [`Reload`], logged, and kept for
    /// [`Host::reloads`]), and does not hold back the others. `[server]`
    /// settings are not the host's; they take effect on restart. Blocks
    /// while it compiles; from async code, call it in `spawn_blocking`.
    pub fn apply(&self, config: HostConfig) -> Reload {
        let _changing = lock(&self.inner.changing);
        let stores = Stores::of(&config);
        let reachable = stores.for_plugins(&config.plugins);
        *lock(&self.inner.stores) = stores;
        if config.file.is_some() {
            *lock(&self.inner.file) = config.file;
        }
        let live = self.inner.registry.load_full();
        let mut plugins = BTreeMap::new();
        let mut changed = Vec::new();
        for (name, plugin) in config.plugins {
            match live.plugins.get(&name) {
                Some(current) if current.is_loaded_from(&plugin, &reachable) => {
                    plugins.insert(name, Change::Unchanged);
                }
                _ => changed.push((name, plugin)),
            }
        }
        let removed: Vec<String> = (live.plugins.keys())
            .filter(|name| !plugins.contains_key(*name) && !changed.iter().any(|(n, _)| n == *name))
            .cloned()
            .collect();
        let mut staged = BTreeMap::new();
        for (name, outcome) in stage_all(changed, &reachable) {
            let outcome = outcome.and_then(|new| refuse_downgrade(live.plugins.get(&name), new));
            match outcome {
                Ok(generation) => {
                    staged.insert(name, generation);
                }
                Err(err) => {
                    plugins.insert(name, Change::Failed(err));
                }
            }
        }
        let mut pipeline_errors = BTreeMap::new();
        let previous = self.commit(|registry| {
            for name in &removed {
                registry.plugins.remove(name);
            }
            for (name, generation) in &staged {
                registry.plugins.insert(name.clone(), generation.clone());
            }
            let (pipelines, errors) =
                pipelines_over(&registry.plugins, &registry.pipelines, config.pipelines);
            registry.pipelines = pipelines;
            pipeline_errors = errors;
        });
        for name in removed {
            tracing::info!(plugin = %name, "removed; calls running on it finish");
            plugins.insert(name, Change::Removed);
        }
        for (name, generation) in staged {
            let change = match previous.plugins.get(&name) {
                Some(old) => Change::Replaced {
                    from: old.sha256.clone(),
                    to: generation.sha256.clone(),
                },
                None => Change::Added {
                    sha256: generation.sha256.clone(),
                },
            };
            plugins.insert(name, change);
        }
        for (name, err) in &pipeline_errors {
            tracing::error!(pipeline = %name, reason = %err, "pipeline not changed: its steps do not check");
        }
        let reload = Reload {
            plugins,
            pipeline_errors,
        };
        self.record(&reload);
        reload
    }

    /// Loads `config` as a new generation of `plugin` and makes it the one
    /// new calls get, for all its functions at once; calls already running
    /// finish on the generation they started on, which is freed when the
    /// last of them ends. A plugin not loaded yet is added.
    ///
    /// Staged as [`Host::apply`] stages: a module that does not read,
    /// check, compile, start or pass its smoke calls returns its
    /// `LoadError` and the current generation keeps serving. So does a
    /// signed version lower than the signed one serving
    /// ([`SignatureError::Downgrade`](crate::SignatureError::Downgrade)),
    /// unless it comes through [`Host::replace_allowing_downgrade`].
    /// Blocks while it compiles; from async code, call it in
    /// `spawn_blocking`.
    pub fn replace(&self, plugin: &str, config: PluginConfig) -> Result<(), LoadError> {
        self.swap(plugin, config, false)
    }

    /// [`Host::replace`], for an operator who means to go back to a lower
    /// signed version: a rollback.
    pub fn replace_allowing_downgrade(
        &self,
        plugin: &str,
        config: PluginConfig,
    ) -> Result<(), LoadError> {
        self.swap(plugin, config, true)
    }

    fn swap(&self, plugin: &str, config: PluginConfig, downgrade: bool) -> Result<(), LoadError> {
        let _changing = lock(&self.inner.changing);
        let live = self.inner.registry.load_full();
        let name = plugin.to_string();
        let reachable = lock(&self.inner.stores).for_plugins([(&name, &config)]);
        let staged = stage_all(vec![(name, config)], &reachable)
            .pop()
            .expect("one plugin staged")
            .1
            .and_then(|new| match downgrade {
                true => Ok(new),
                false => refuse_downgrade(live.plugins.get(plugin), new),
            });
        let change = match staged {
            Ok(generation) => {
                let previous = self.commit(|registry| {
                    registry
                        .plugins
                        .insert(plugin.to_string(), generation.clone());
                });
                match previous.plugins.get(plugin) {
                    Some(old) => Change::Replaced {
                        from: old.sha256.clone(),
                        to: generation.sha256.clone(),
                    },
                    None => Change::Added {
                        sha256: generation.sha256.clone(),
                    },
                }
            }
            Err(err) => Change::Failed(err),
        };
        let mut reload = Reload {
            plugins: BTreeMap::from([(plugin.to_string(), change)]),
            pipeline_errors: BTreeMap::new(),
        };
        self.record(&reload);
        match reload.plugins.remove(plugin) {
            Some(Change::Failed(err)) => Err(err),
            _ => Ok(()),
        }
    }

    /// Stops new calls to `plugin`; calls running on it finish. Returns
    /// whether it was loaded.
    pub fn remove(&self, plugin: &str) -> bool {
        let _changing = lock(&self.inner.changing);
        let previous = self.commit(|registry| {
            registry.plugins.remove(plugin);
        });
        previous.plugins.contains_key(plugin)
    }

    /// The config file [`Host::reload`] reads, if the host came from one.
    pub fn config_file(&self) -> Option<PathBuf> {
        lock(&self.inner.file).clone()
    }

    /// How every plugin's reloads went, by name: also plugins whose first
    /// version failed to load, which [`Host::plugins`] cannot list.
    pub fn reloads(&self) -> BTreeMap<String, ReloadStatus> {
        lock(&self.inner.history).reloads.clone()
    }

    /// Swaps in the registry `change` makes of the current one; the
    /// generations it replaced or removed are kept track of while calls
    /// run on them. Returns the registry before.
    fn commit(&self, change: impl FnOnce(&mut Registry)) -> Arc<Registry> {
        let mut next = Registry::clone(&self.inner.registry.load());
        change(&mut next);
        // `changing` is held, so nothing else swaps meanwhile.
        let previous = self.inner.registry.swap(Arc::new(next));
        let current = self.inner.registry.load();
        let mut history = lock(&self.inner.history);
        history.retired.retain(|old| old.strong_count() > 0);
        for (name, old) in previous.plugins.iter() {
            if (current.plugins.get(name)).is_none_or(|now| !Arc::ptr_eq(now, old)) {
                history.retired.push(Arc::downgrade(old));
            }
        }
        previous
    }

    /// Counts and logs each plugin's staging outcome.
    fn record(&self, reload: &Reload) {
        let mut history = lock(&self.inner.history);
        for (name, change) in &reload.plugins {
            let status = history.reloads.entry(name.clone()).or_default();
            match change {
                Change::Unchanged | Change::Removed => {}
                Change::Added { sha256 } | Change::Replaced { to: sha256, .. } => {
                    status.succeeded += 1;
                    status.last_error = None;
                    tracing::info!(plugin = %name, sha256 = %sha256, "new version serving");
                }
                Change::Failed(err) => {
                    status.failed += 1;
                    status.last_error = Some(ReloadFailure {
                        kind: err.kind(),
                        message: err.to_string(),
                        at: SystemTime::now(),
                    });
                    tracing::error!(plugin = %name, reason = %err, "new version refused; the previous one keeps serving");
                }
            }
        }
    }

    /// Calls still running on replaced or removed generations of `plugin`.
    fn calls_draining(&self, plugin: &str) -> usize {
        lock(&self.inner.history)
            .retired
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|old| old.name == plugin)
            .map(|old| old.pool.busy())
            .sum()
    }

    /// Calls `function` of `plugin` with `input` serialized as JSON and
    /// deserializes its JSON output. Runs, times out and cancels as
    /// [`Host::call_json`] does.
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
    /// JSON output, both checked against the contract.
    ///
    /// The call waits up to the plugin's `queue_timeout` for a free
    /// instance, then runs on the thread that polls this future: no
    /// hand-off for a quick call. A call that runs past a short time slice
    /// (or waits on I/O) yields, and finishes on polyplug's slow lane, so
    /// it never holds the caller's thread for more than about a
    /// millisecond. Its `timeout` bounds it.
    ///
    /// Cancelling is safe: drop this future (or wrap it in
    /// `tokio::time::timeout`) and the call stops at its next tick, its
    /// instance is dropped and its place in the pool is free. The caller's
    /// own timeout fires at its deadline (give or take a millisecond), not
    /// when the plugin returns. Needs a tokio runtime with time enabled,
    /// multi-threaded or current-thread.
    pub async fn call_json(
        &self,
        plugin: &str,
        function: &str,
        input: impl Into<Vec<u8>>,
    ) -> Result<Vec<u8>, CallError> {
        let generation = self.generation(plugin)?;
        generation.call(function, input.into()).await.0
    }

    /// [`Host::call_json`], also returning what the call used: its wall
    /// time, fuel and peak memory ([`CallStats`]), as a test runner or a
    /// profiler wants them. The stats come with failures too (a call that
    /// ran out of fuel used all of it); they are zero where the call never
    /// ran. Measuring costs the call nothing: the numbers are read from
    /// the instance when the call ends.
    pub async fn call_measured(
        &self,
        plugin: &str,
        function: &str,
        input: impl Into<Vec<u8>>,
    ) -> (Result<Vec<u8>, CallError>, CallStats) {
        match self.generation(plugin) {
            Ok(generation) => generation.call(function, input.into()).await,
            Err(err) => (Err(err), CallStats::default()),
        }
    }

    /// Runs one key-value request (docs/contract.md section 8: `{"op":
    /// "get", "key": ...}` and the rest) in plugin `plugin`'s namespace, as
    /// if the plugin had made it, and returns the JSON answer it would
    /// read (`{"ok": ...}` or `{"error": {"code", "message"}}`): for
    /// tools that inspect, seed or migrate a plugin's state (`polyplug
    /// test` seeds cases with it). The plugin's limits apply, its timeout
    /// included; no call's operation count does.
    pub async fn kv(&self, plugin: &str, request: &[u8]) -> Result<Vec<u8>, CallError> {
        Ok(self.generation(plugin)?.kv(request).await)
    }

    /// Runs pipeline `name` on `input` (raw JSON bytes): each step's
    /// output is the next step's input, every step runs on the plugin
    /// generations current when the run started (a reload meanwhile never
    /// mixes versions), and the pipeline's `timeout` bounds the whole run.
    /// A failed step is named in the error, with its call's own error.
    pub async fn call_pipeline(
        &self,
        name: &str,
        input: impl Into<Vec<u8>>,
    ) -> Result<Vec<u8>, PipelineError> {
        self.run_pipeline(name, input.into(), false)
            .await
            .map(|run| run.output)
    }

    /// [`Host::call_pipeline`], returning every step's output too.
    pub async fn call_pipeline_traced(
        &self,
        name: &str,
        input: impl Into<Vec<u8>>,
    ) -> Result<PipelineRun, PipelineError> {
        self.run_pipeline(name, input.into(), true).await
    }

    async fn run_pipeline(
        &self,
        name: &str,
        input: Vec<u8>,
        trace: bool,
    ) -> Result<PipelineRun, PipelineError> {
        let snapshot = self.inner.registry.load_full();
        let pipeline =
            snapshot
                .pipelines
                .get(name)
                .ok_or_else(|| PipelineError::UnknownPipeline {
                    pipeline: name.to_string(),
                })?;
        pipeline.run(&snapshot.plugins, input, trace).await
    }

    /// The loaded pipelines, by name.
    pub fn pipelines(&self) -> BTreeMap<String, PipelineConfig> {
        let registry = self.inner.registry.load();
        (registry.pipelines.iter())
            .map(|(name, pipeline)| (name.clone(), pipeline.config.clone()))
            .collect()
    }

    /// A snapshot of every pipeline's counters (its steps' calls count in
    /// their plugins' [`Host::metrics`] too).
    pub fn pipeline_metrics(&self) -> Vec<PipelineMetrics> {
        let registry = self.inner.registry.load();
        registry.pipelines.values().map(|p| p.metrics()).collect()
    }

    /// The loaded plugins, by name, with their live counters.
    pub fn plugins(&self) -> impl Iterator<Item = PluginInfo> + use<> {
        let registry = self.inner.registry.load_full();
        let plugins: Vec<Arc<Generation>> = registry.plugins.values().cloned().collect();
        let host = self.clone();
        plugins.into_iter().map(move |plugin| PluginInfo {
            name: plugin.name.clone(),
            functions: plugin.functions.iter().cloned().collect(),
            language: plugin.language.clone(),
            limits: plugin.config.limits.clone(),
            sha256: plugin.sha256.clone(),
            version: plugin.version.clone(),
            signed_by: plugin.signed_by.clone(),
            wasi: plugin.config.wasi,
            kv: plugin.config.kv.clone(),
            load_time: plugin.load_time,
            loaded_at: plugin.loaded_at,
            instances_busy: plugin.pool.busy(),
            instances_idle: plugin.pool.idle(),
            calls_draining: host.calls_draining(&plugin.name),
            reloads: lock(&host.inner.history)
                .reloads
                .get(&plugin.name)
                .cloned()
                .unwrap_or_default(),
            totals: plugin.stats.totals(),
        })
    }

    /// A snapshot of every plugin's counters, for a metrics exposition
    /// (`polyplug-server` encodes it as OpenMetrics).
    pub fn metrics(&self) -> Vec<PluginMetrics> {
        self.inner
            .registry
            .load()
            .plugins
            .values()
            .map(|plugin| {
                let mut metrics =
                    (plugin.stats).snapshot(&plugin.name, plugin.pool.busy(), plugin.pool.size());
                metrics.calls_draining = self.calls_draining(&plugin.name);
                metrics.kv = plugin.kv_stats.snapshot();
                metrics
            })
            .collect()
    }

    fn generation(&self, name: &str) -> Result<Arc<Generation>, CallError> {
        self.inner
            .registry
            .load()
            .plugins
            .get(name)
            .cloned()
            .ok_or_else(|| CallError::UnknownPlugin {
                plugin: name.to_string(),
            })
    }
}

/// The pipelines of a new config, checked against the plugins they will
/// run on: an unchanged one keeps its counters; one that does not check
/// keeps its previous definition if it had one, and its error is returned.
fn pipelines_over(
    plugins: &Plugins,
    live: &BTreeMap<String, Arc<Pipeline>>,
    configs: BTreeMap<String, PipelineConfig>,
) -> (BTreeMap<String, Arc<Pipeline>>, BTreeMap<String, LoadError>) {
    let (mut pipelines, mut errors) = (BTreeMap::new(), BTreeMap::new());
    for (name, config) in configs {
        let pipeline = match live.get(&name) {
            Some(current) if current.config == config => current.clone(),
            _ => Arc::new(Pipeline::new(&name, config)),
        };
        match pipeline.check(plugins) {
            Ok(()) => {
                pipelines.insert(name, pipeline);
            }
            Err(err) => {
                if let Some(previous) = live.get(&name) {
                    pipelines.insert(name.clone(), previous.clone());
                }
                errors.insert(name, err);
            }
        }
    }
    (pipelines, errors)
}

/// `new`, unless it is signed with a lower version than `live`.
fn refuse_downgrade(
    live: Option<&Arc<Generation>>,
    new: Arc<Generation>,
) -> Result<Arc<Generation>, LoadError> {
    let live_version = live.and_then(|live| live.version.as_ref());
    match (live_version, &new.version) {
        (Some(live), Some(offered)) if offered < live => Err(LoadError::Signature {
            plugin: new.name.clone(),
            path: new.config.wasm.to_string(),
            source: Box::new(SignatureError::Downgrade {
                live: live.clone(),
                offered: offered.clone(),
            }),
        }),
        _ => Ok(new),
    }
}

/// Stages each plugin on a plain thread of its own, all at once, as
/// [`Generation::stage`] needs.
fn stage_all(
    plugins: impl IntoIterator<Item = (String, PluginConfig)>,
    stores: &BTreeMap<String, StoreConfig>,
) -> Vec<(String, Result<Arc<Generation>, LoadError>)> {
    std::thread::scope(|scope| {
        let staging: Vec<_> = plugins
            .into_iter()
            .map(|(name, plugin)| {
                scope.spawn(move || {
                    let staged = Generation::stage(&name, plugin, stores);
                    (name, staged)
                })
            })
            .collect();
        staging
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
