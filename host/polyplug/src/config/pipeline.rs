//! `[pipelines.<name>]`: plugins called one after another, each step's
//! output the next step's input.

use std::collections::BTreeMap;
use std::time::Duration;

use super::raw::{RawPipeline, RawStep};
use super::{PluginConfig, Validator, valid_plugin_name};
use crate::error::LoadError;

/// The most steps a pipeline may have.
pub const MAX_PIPELINE_STEPS: usize = 16;

/// A pipeline: its steps, in order, and the time the whole run may take.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipelineConfig {
    pub steps: Vec<PipelineStep>,
    /// The whole run's limit (default: the sum of the steps' `timeout`s).
    pub timeout: Duration,
}

/// One step: a function of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipelineStep {
    pub plugin: String,
    pub function: String,
}

impl PipelineStep {
    pub fn new(plugin: impl Into<String>, function: impl Into<String>) -> Self {
        Self {
            plugin: plugin.into(),
            function: function.into(),
        }
    }
}

impl PipelineConfig {
    /// A pipeline of `steps` that may take `timeout` in all.
    pub fn new(steps: Vec<PipelineStep>, timeout: Duration) -> Self {
        Self { steps, timeout }
    }
}

impl Validator<'_> {
    /// Checks a pipeline against the plugins of the same file: 1 to 16
    /// steps, each naming a plugin the file has. Whether the plugin
    /// exports the function is known once it loads (`host.rs`).
    pub(super) fn pipeline(
        &self,
        name: &str,
        raw: &RawPipeline,
        plugins: &BTreeMap<String, PluginConfig>,
    ) -> Result<PipelineConfig, LoadError> {
        let key = |field: &str| format!("pipelines.{name}.{field}");
        if !valid_plugin_name(name) {
            return Err(self.invalid(
                &format!("pipelines.{name}"),
                name,
                "pipeline names are lowercase letters, digits, `_` and `-`, starting with a letter or digit",
            ));
        }
        if raw.steps.is_empty() || raw.steps.len() > MAX_PIPELINE_STEPS {
            return Err(self.invalid(
                &key("steps"),
                &format!("{} steps", raw.steps.len()),
                &format!("a pipeline has 1 to {MAX_PIPELINE_STEPS} steps"),
            ));
        }
        let steps = raw
            .steps
            .iter()
            .enumerate()
            .map(|(index, RawStep { plugin, function })| {
                if !plugins.contains_key(plugin) {
                    return Err(self.invalid(
                        &format!("{}[{index}].plugin", key("steps")),
                        plugin,
                        "no plugin of that name in this file",
                    ));
                }
                if function.is_empty() {
                    return Err(self.invalid(
                        &format!("{}[{index}].function", key("steps")),
                        function,
                        "name a function",
                    ));
                }
                Ok(PipelineStep::new(plugin, function))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = match &raw.timeout {
            Some(value) => self.duration(&key("timeout"), value)?,
            None => steps
                .iter()
                .map(|s| plugins[&s.plugin].limits.timeout)
                .sum(),
        };
        Ok(PipelineConfig { steps, timeout })
    }
}
