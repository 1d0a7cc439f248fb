//! Pipelines: a plugin's function called with the previous step's output,
//! one step after another, on one snapshot of plugin generations.
//!
//! A run takes every step's generation from the registry snapshot it
//! starts with, so a reload in the middle never mixes versions: the run
//! finishes on the generations it started with, as a single call does.
//! Each step's output, already checked against the contract, is the next
//! step's input as it is (no re-encoding). The run's own `timeout` bounds
//! it as a whole; each step keeps its plugin's limits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::config::PipelineConfig;
use crate::error::{CallError, LoadError, PipelineError};
use crate::generation::Generation;

/// A loaded pipeline and its counters.
pub(crate) struct Pipeline {
    pub name: String,
    pub config: PipelineConfig,
    stats: PipelineStats,
}

/// What a traced run returns: the final output and every step's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PipelineRun {
    pub output: Vec<u8>,
    /// Every step's output, in order (the last is `output`); empty unless
    /// the run was traced.
    pub trace: Vec<StepOutput>,
}

/// One step's output in a traced run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepOutput {
    pub plugin: String,
    pub function: String,
    pub output: Vec<u8>,
    pub elapsed: Duration,
}

/// A snapshot of one pipeline's counters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PipelineMetrics {
    pub pipeline: String,
    /// Runs that finished every step.
    pub succeeded: u64,
    /// Runs that ended at the whole run's timeout.
    pub timeouts: u64,
    /// Per step (plugin, function, failed runs).
    pub step_failures: Vec<(String, String, u64)>,
    pub duration_sum_seconds: f64,
}

struct PipelineStats {
    succeeded: AtomicU64,
    timeouts: AtomicU64,
    step_failures: Vec<AtomicU64>,
    micros: AtomicU64,
}

impl Pipeline {
    pub fn new(name: &str, config: PipelineConfig) -> Self {
        Self {
            name: name.to_string(),
            stats: PipelineStats {
                succeeded: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
                step_failures: config.steps.iter().map(|_| AtomicU64::new(0)).collect(),
                micros: AtomicU64::new(0),
            },
            config,
        }
    }

    /// Whether every step names a loaded plugin that exports its function.
    pub fn check(&self, plugins: &BTreeMap<String, Arc<Generation>>) -> Result<(), LoadError> {
        for (index, step) in self.config.steps.iter().enumerate() {
            let reason = match plugins.get(&step.plugin) {
                None => "no plugin of that name is loaded",
                Some(plugin) if !plugin.functions.contains(&step.function) => {
                    "the plugin exports no such function"
                }
                Some(_) => continue,
            };
            return Err(LoadError::PipelineStep {
                pipeline: self.name.clone(),
                index,
                plugin: step.plugin.clone(),
                function: step.function.clone(),
                reason: reason.to_string(),
            });
        }
        Ok(())
    }

    /// Runs every step on `plugins` (the snapshot the run started with).
    pub async fn run(
        &self,
        plugins: &BTreeMap<String, Arc<Generation>>,
        input: Vec<u8>,
        trace: bool,
    ) -> Result<PipelineRun, PipelineError> {
        let started = Instant::now();
        let current = AtomicU64::new(0);
        let steps = self.steps(plugins, input, trace, &current);
        let result = match tokio::time::timeout(self.config.timeout, steps).await {
            Ok(result) => result,
            Err(_elapsed) => {
                self.stats.timeouts.fetch_add(1, Relaxed);
                Err(PipelineError::Timeout {
                    pipeline: self.name.clone(),
                    limit: self.config.timeout,
                    index: current.load(Relaxed) as usize,
                })
            }
        };
        if result.is_ok() {
            self.stats.succeeded.fetch_add(1, Relaxed);
        }
        let micros = started.elapsed().as_micros().try_into().unwrap_or(u64::MAX);
        self.stats.micros.fetch_add(micros, Relaxed);
        result
    }

    async fn steps(
        &self,
        plugins: &BTreeMap<String, Arc<Generation>>,
        mut bytes: Vec<u8>,
        trace: bool,
        current: &AtomicU64,
    ) -> Result<PipelineRun, PipelineError> {
        let mut outputs = Vec::new();
        for (index, step) in self.config.steps.iter().enumerate() {
            current.store(index as u64, Relaxed);
            let started = Instant::now();
            let output = match plugins.get(&step.plugin) {
                Some(plugin) => plugin.call(&step.function, bytes).await.0,
                None => Err(CallError::UnknownPlugin {
                    plugin: step.plugin.clone(),
                }),
            };
            bytes = output.map_err(|source| {
                self.stats.step_failures[index].fetch_add(1, Relaxed);
                PipelineError::Step {
                    pipeline: self.name.clone(),
                    index,
                    plugin: step.plugin.clone(),
                    function: step.function.clone(),
                    source: Box::new(source),
                }
            })?;
            if trace {
                outputs.push(StepOutput {
                    plugin: step.plugin.clone(),
                    function: step.function.clone(),
                    output: bytes.clone(),
                    elapsed: started.elapsed(),
                });
            }
        }
        Ok(PipelineRun {
            output: bytes,
            trace: outputs,
        })
    }

    pub fn metrics(&self) -> PipelineMetrics {
        PipelineMetrics {
            pipeline: self.name.clone(),
            succeeded: self.stats.succeeded.load(Relaxed),
            timeouts: self.stats.timeouts.load(Relaxed),
            step_failures: (self.config.steps.iter())
                .zip(&self.stats.step_failures)
                .map(|(step, failed)| {
                    (
                        step.plugin.clone(),
                        step.function.clone(),
                        failed.load(Relaxed),
                    )
                })
                .collect(),
            duration_sum_seconds: self.stats.micros.load(Relaxed) as f64 / 1e6,
        }
    }
}
