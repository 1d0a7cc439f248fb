//! Live counters per plugin and function, and their Prometheus text form.
//!
//! The per-call path only adds to atomics: the set of functions is fixed
//! when a plugin loads, so no lock or allocation is needed to find a
//! function's counters. Errors by kind use the stable [`CallError::kind`]
//! names.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::error::CallError;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 1.0, 10.0,
];

/// Counters of one function.
#[derive(Default)]
pub(crate) struct FunctionStats {
    calls: AtomicU64,
    /// Non-cumulative; rendered cumulatively, with `+Inf` = `calls`.
    buckets: [AtomicU64; BUCKETS.len()],
    micros: AtomicU64,
    fuel: AtomicU64,
    errors: [AtomicU64; CallError::KINDS.len()],
}

/// Counters of every function of one plugin.
pub(crate) struct PluginStats {
    functions: BTreeMap<String, FunctionStats>,
    /// Calls the host stopped waiting for at their deadline (asleep in
    /// WASI, or blocked in a host function), dropped with their instance.
    abandoned: AtomicU64,
}

/// A snapshot of one plugin's totals, for listings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Totals {
    pub calls: u64,
    pub errors: u64,
    pub fuel: u64,
}

impl PluginStats {
    pub fn new<'a>(functions: impl IntoIterator<Item = &'a String>) -> Self {
        Self {
            functions: functions
                .into_iter()
                .map(|name| (name.clone(), FunctionStats::default()))
                .collect(),
            abandoned: AtomicU64::new(0),
        }
    }

    /// Counts one finished call of a known function.
    pub fn record(&self, function: &str, took: Duration, error: Option<&CallError>) {
        let Some(stats) = self.functions.get(function) else {
            return;
        };
        stats.calls.fetch_add(1, Relaxed);
        stats.micros.fetch_add(took.as_micros() as u64, Relaxed);
        let seconds = took.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|le| seconds <= *le) {
            stats.buckets[bucket].fetch_add(1, Relaxed);
        }
        if let Some(error) = error {
            stats.errors[error.kind_index()].fetch_add(1, Relaxed);
        }
    }

    /// Counts a call abandoned at its deadline.
    pub fn add_abandoned(&self) {
        self.abandoned.fetch_add(1, Relaxed);
    }

    /// Adds the fuel one call of `function` used.
    pub fn add_fuel(&self, function: &str, fuel: u64) {
        if let Some(stats) = self.functions.get(function) {
            stats.fuel.fetch_add(fuel, Relaxed);
        }
    }

    pub fn totals(&self) -> Totals {
        self.functions
            .values()
            .fold(Totals::default(), |t, s| Totals {
                calls: t.calls + s.calls.load(Relaxed),
                errors: t.errors + s.errors.iter().map(|e| e.load(Relaxed)).sum::<u64>(),
                fuel: t.fuel + s.fuel.load(Relaxed),
            })
    }
}

/// One plugin's view for the Prometheus exposition.
#[derive(Clone, Copy)]
pub(crate) struct Exposed<'a> {
    pub plugin: &'a str,
    pub stats: &'a PluginStats,
    pub instances_busy: usize,
    pub instances_max: usize,
}

/// Renders every plugin's counters in the Prometheus text format (0.0.4).
pub(crate) fn render<'a>(plugins: impl IntoIterator<Item = Exposed<'a>> + Clone) -> String {
    let mut out = String::new();
    // Calls `line` with each function's labels and counters.
    let each_function = |out: &mut String, line: &dyn Fn(&mut String, &str, &FunctionStats)| {
        for exposed in plugins.clone() {
            for (function, stats) in &exposed.stats.functions {
                let labels = format!(
                    "plugin=\"{}\",function=\"{}\"",
                    escape(exposed.plugin),
                    escape(function)
                );
                line(out, &labels, stats);
            }
        }
    };
    let counter = |out: &mut String, name: &str, help: &str, value: fn(&FunctionStats) -> u64| {
        header(out, name, "counter", help);
        each_function(out, &|out, labels, s| {
            let _ = writeln!(out, "{name}{{{labels}}} {}", value(s));
        });
    };
    let gauge = |out: &mut String, name: &str, help: &str, value: fn(&Exposed) -> usize| {
        header(out, name, "gauge", help);
        for p in plugins.clone() {
            let _ = writeln!(
                out,
                "{name}{{plugin=\"{}\"}} {}",
                escape(p.plugin),
                value(&p)
            );
        }
    };

    counter(&mut out, "polyplug_calls_total", "Finished calls.", |s| {
        s.calls.load(Relaxed)
    });
    header(
        &mut out,
        "polyplug_call_errors_total",
        "counter",
        "Failed calls, by error kind.",
    );
    each_function(&mut out, &|out, labels, s| {
        for (kind, count) in CallError::KINDS.iter().zip(&s.errors) {
            let count = count.load(Relaxed);
            if count > 0 {
                let _ = writeln!(
                    out,
                    "polyplug_call_errors_total{{{labels},kind=\"{kind}\"}} {count}"
                );
            }
        }
    });
    let name = "polyplug_call_duration_seconds";
    header(
        &mut out,
        name,
        "histogram",
        "Call latency, queueing included.",
    );
    each_function(&mut out, &|out, labels, s| {
        let mut cumulative = 0;
        for (le, count) in BUCKETS.iter().zip(&s.buckets) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let calls = s.calls.load(Relaxed);
        let sum = s.micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {calls}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {calls}");
    });
    counter(
        &mut out,
        "polyplug_fuel_consumed_total",
        "Fuel used by calls.",
        |s| s.fuel.load(Relaxed),
    );
    header(
        &mut out,
        "polyplug_calls_abandoned_total",
        "counter",
        "Calls dropped with their instance at their deadline (asleep in WASI or blocked in a host function).",
    );
    for p in plugins.clone() {
        let _ = writeln!(
            out,
            "polyplug_calls_abandoned_total{{plugin=\"{}\"}} {}",
            escape(p.plugin),
            p.stats.abandoned.load(Relaxed)
        );
    }
    gauge(
        &mut out,
        "polyplug_instances_busy",
        "Instances running a call now.",
        |p| p.instances_busy,
    );
    gauge(
        &mut out,
        "polyplug_instances_max",
        "The plugin's `instances` limit.",
        |p| p.instances_max,
    );
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_errors() {
        let functions = ["greet".to_string()];
        let stats = PluginStats::new(&functions);
        stats.record("greet", Duration::from_micros(80), None);
        let busy = CallError::Busy {
            plugin: "p".into(),
            function: "greet".into(),
            instances: 1,
            waited: Duration::from_secs(1),
        };
        stats.record("greet", Duration::from_millis(3), Some(&busy));
        stats.record("not_a_function", Duration::from_millis(3), None);
        stats.add_fuel("greet", 1234);
        let text = render([Exposed {
            plugin: "p",
            stats: &stats,
            instances_busy: 0,
            instances_max: 2,
        }]);
        for line in [
            r#"polyplug_calls_total{plugin="p",function="greet"} 2"#,
            r#"polyplug_call_errors_total{plugin="p",function="greet",kind="busy"} 1"#,
            r#"polyplug_call_duration_seconds_bucket{plugin="p",function="greet",le="0.0001"} 1"#,
            r#"polyplug_call_duration_seconds_bucket{plugin="p",function="greet",le="0.005"} 2"#,
            r#"polyplug_call_duration_seconds_bucket{plugin="p",function="greet",le="+Inf"} 2"#,
            r#"polyplug_fuel_consumed_total{plugin="p",function="greet"} 1234"#,
            r#"polyplug_instances_max{plugin="p"} 2"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
        assert_eq!(
            stats.totals(),
            Totals {
                calls: 2,
                errors: 1,
                fuel: 1234
            }
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
