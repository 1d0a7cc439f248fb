//! `GET /metrics`: the host's counters as OpenMetrics text, encoded by
//! `prometheus-client`.
//!
//! The counters themselves stay in the library, as atomics the per-call
//! path adds to without a lock ([`Host::metrics`] snapshots them); this
//! collector turns each scrape's snapshot into metric families, so a
//! scrape costs the host's calls nothing.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use polyplug::{FunctionMetrics, Host, PluginMetrics};

/// The registry `/metrics` encodes: polyplug's collector over `host`.
pub(crate) fn registry(host: Host) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(HostCollector(host)));
    registry
}

/// The OpenMetrics text of every plugin's counters.
pub(crate) fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}

struct HostCollector(Host);

impl std::fmt::Debug for HostCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostCollector")
    }
}

impl Collector for HostCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let plugins = self.0.metrics();
        let functions = || {
            plugins.iter().flat_map(|p| {
                p.functions.iter().map(move |f| {
                    (
                        f,
                        [
                            ("plugin", p.plugin.as_str()),
                            ("function", f.function.as_str()),
                        ],
                    )
                })
            })
        };
        let counter = |encoder: &mut DescriptorEncoder,
                       name: &str,
                       help: &str,
                       value: fn(&FunctionMetrics) -> u64|
         -> Result<(), std::fmt::Error> {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (f, labels) in functions() {
                ConstCounter::new(value(f)).encode(family.encode_family(&labels)?)?;
            }
            Ok(())
        };
        counter(&mut encoder, "polyplug_calls", "Finished calls.", |f| {
            f.calls
        })?;
        counter(
            &mut encoder,
            "polyplug_fuel_consumed",
            "Fuel used by calls.",
            |f| f.fuel,
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "polyplug_call_errors",
                "Failed calls, by error kind.",
                None,
                MetricType::Counter,
            )?;
            for (f, [plugin, function]) in functions() {
                for (kind, count) in &f.errors {
                    let labels = [plugin, function, ("kind", *kind)];
                    ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "polyplug_call_duration_seconds",
                "Call latency, queueing included.",
                None,
                MetricType::Histogram,
            )?;
            for (f, labels) in functions() {
                let latency = Latency {
                    buckets: &f.latency_buckets,
                    sum: f.latency_sum_seconds,
                    count: f.calls,
                };
                latency.encode(family.encode_family(&labels)?)?;
            }
        }
        let gauge = |encoder: &mut DescriptorEncoder,
                     name: &str,
                     help: &str,
                     kind: MetricType,
                     value: fn(&PluginMetrics) -> i64|
         -> Result<(), std::fmt::Error> {
            let mut family = encoder.encode_descriptor(name, help, None, kind)?;
            for p in &plugins {
                let labels = [("plugin", p.plugin.as_str())];
                let metric = family.encode_family(&labels)?;
                match kind {
                    MetricType::Counter => ConstCounter::new(value(p) as u64).encode(metric)?,
                    _ => ConstGauge::new(value(p)).encode(metric)?,
                }
            }
            Ok(())
        };
        gauge(
            &mut encoder,
            "polyplug_calls_abandoned",
            "Calls dropped with their instance at their deadline (asleep in WASI or blocked in a host function).",
            MetricType::Counter,
            |p| p.calls_abandoned as i64,
        )?;
        gauge(
            &mut encoder,
            "polyplug_instances_busy",
            "Instances running a call now.",
            MetricType::Gauge,
            |p| p.instances_busy as i64,
        )?;
        gauge(
            &mut encoder,
            "polyplug_instances_max",
            "The plugin's `instances` limit.",
            MetricType::Gauge,
            |p| p.instances_max as i64,
        )?;
        gauge(
            &mut encoder,
            "polyplug_calls_draining",
            "Calls still running on generations a reload replaced.",
            MetricType::Gauge,
            |p| p.calls_draining as i64,
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "polyplug_kv_operations",
                "Key-value store operations, by result (`ok`, or the `kv_*` code the plugin got).",
                None,
                MetricType::Counter,
            )?;
            for p in &plugins {
                for m in &p.kv {
                    for (result, count) in &m.results {
                        let labels = [
                            ("plugin", p.plugin.as_str()),
                            ("store", m.store.as_str()),
                            ("operation", m.operation),
                            ("result", *result),
                        ];
                        ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
                    }
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "polyplug_kv_operation_duration_seconds",
                "Time the store took per operation (requests refused before reaching it are not timed).",
                None,
                MetricType::Histogram,
            )?;
            for p in &plugins {
                for m in &p.kv {
                    let labels = [
                        ("plugin", p.plugin.as_str()),
                        ("store", m.store.as_str()),
                        ("operation", m.operation),
                    ];
                    let latency = Latency {
                        buckets: &m.latency_buckets,
                        sum: m.latency_sum_seconds,
                        count: m.latency_count,
                    };
                    latency.encode(family.encode_family(&labels)?)?;
                }
            }
        }
        let pipelines = self.0.pipeline_metrics();
        let mut family = encoder.encode_descriptor(
            "polyplug_pipeline_runs",
            "Pipeline runs, by result (`ok`, `timeout`, or `failed` at some step).",
            None,
            MetricType::Counter,
        )?;
        for p in &pipelines {
            let failed: u64 = p.step_failures.iter().map(|(_, _, n)| n).sum();
            for (result, count) in [
                ("ok", p.succeeded),
                ("timeout", p.timeouts),
                ("failed", failed),
            ] {
                let labels = [("pipeline", p.pipeline.as_str()), ("result", result)];
                ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "polyplug_pipeline_step_failures",
            "Pipeline runs that failed at a step.",
            None,
            MetricType::Counter,
        )?;
        for p in &pipelines {
            for (index, (plugin, function, count)) in p.step_failures.iter().enumerate() {
                let step = index.to_string();
                let labels = [
                    ("pipeline", p.pipeline.as_str()),
                    ("step", step.as_str()),
                    ("plugin", plugin.as_str()),
                    ("function", function.as_str()),
                ];
                ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "polyplug_reloads",
            "New plugin versions staged, by result (`ok`: it serves; `failed`: refused, the previous version kept serving).",
            None,
            MetricType::Counter,
        )?;
        for (plugin, status) in self.0.reloads() {
            for (result, count) in [("ok", status.succeeded), ("failed", status.failed)] {
                let labels = [("plugin", plugin.as_str()), ("result", result)];
                ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// A latency histogram from a snapshot: cumulative buckets, their sum and
/// count.
struct Latency<'a> {
    buckets: &'a [(f64, u64)],
    sum: f64,
    count: u64,
}

impl EncodeMetric for Latency<'_> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // prometheus-client takes each bucket's own count and sums them.
        let mut below = 0;
        let mut buckets: Vec<(f64, u64)> = (self.buckets.iter())
            .map(|&(le, cumulative)| {
                let own = cumulative.saturating_sub(below);
                below = cumulative;
                (le, own)
            })
            .collect();
        buckets.push((f64::INFINITY, self.count.saturating_sub(below)));
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.sum, self.count, &buckets, None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
