//! Live counters per plugin and function, and snapshots of them.
//!
//! The per-call path only adds to atomics: the set of functions is fixed
//! when a plugin loads, so no lock or allocation is needed to find a
//! function's counters. [`Host::metrics`](crate::Host::metrics) copies
//! them into [`PluginMetrics`], which `polyplug-server` encodes as
//! OpenMetrics with `prometheus-client`. Errors by kind use the stable
//! [`CallError::kind`] names.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::error::CallError;
use crate::kv::{KV_OPERATIONS, KvCode};

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 1.0, 10.0,
];

/// Counters of one function.
#[derive(Default)]
struct FunctionStats {
    calls: AtomicU64,
    /// Non-cumulative; a snapshot makes them cumulative.
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
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

/// A snapshot of one plugin's counters, for a metrics exposition.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginMetrics {
    pub plugin: String,
    pub functions: Vec<FunctionMetrics>,
    /// Calls running now.
    pub instances_busy: usize,
    /// The plugin's `instances` limit.
    pub instances_max: usize,
    /// Calls dropped with their instance at their deadline.
    pub calls_abandoned: u64,
    /// Calls still running on generations a reload replaced.
    pub calls_draining: usize,
    /// Key-value store operations, by operation (those that happened only).
    pub kv: Vec<KvMetrics>,
}

/// A snapshot of one kind of key-value store operation of one plugin.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KvMetrics {
    /// The store the plugin is granted; empty when it is granted none
    /// (its operations then all end `kv_not_granted`).
    pub store: String,
    /// `get`, `set`, `delete`, `list`, `cas`, `increment`, or `invalid`
    /// for a request whose operation could not be read.
    pub operation: &'static str,
    /// Operations by result: `ok`, or the error code the guest got
    /// (`kv_namespace_full`...); results that happened only.
    pub results: Vec<(&'static str, u64)>,
    /// Operations the store ran that took at most each of
    /// [`LATENCY_BUCKETS`] seconds (cumulative); requests refused before
    /// reaching the store are not timed.
    pub latency_buckets: Vec<(f64, u64)>,
    pub latency_sum_seconds: f64,
    /// Operations timed, the histogram's count.
    pub latency_count: u64,
}

/// Counters of one kind of store operation.
#[derive(Default)]
struct KvOperationStats {
    /// `ok`, then one per [`KvCode`].
    results: [AtomicU64; KvCode::ALL.len() + 1],
    /// Non-cumulative, as for calls.
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    timed: AtomicU64,
    micros: AtomicU64,
}

/// The key-value store counters of one plugin generation.
pub(crate) struct KvStats {
    store: String,
    operations: [KvOperationStats; KV_OPERATIONS.len()],
}

impl KvStats {
    pub fn new(store: Option<&str>) -> Self {
        Self {
            store: store.unwrap_or_default().to_string(),
            operations: Default::default(),
        }
    }

    /// Counts one operation (an index of [`KV_OPERATIONS`]), with how long
    /// the store took when it reached the store.
    pub fn record(&self, operation: usize, error: Option<KvCode>, took: Option<Duration>) {
        let Some(stats) = self.operations.get(operation) else {
            return;
        };
        let result = error.map_or(0, |code| code.index() + 1);
        stats.results[result].fetch_add(1, Relaxed);
        if let Some(took) = took {
            stats.timed.fetch_add(1, Relaxed);
            stats.micros.fetch_add(took.as_micros() as u64, Relaxed);
            let seconds = took.as_secs_f64();
            if let Some(bucket) = LATENCY_BUCKETS.iter().position(|le| seconds <= *le) {
                stats.buckets[bucket].fetch_add(1, Relaxed);
            }
        }
    }

    pub fn snapshot(&self) -> Vec<KvMetrics> {
        let names = std::iter::once("ok").chain(KvCode::ALL.iter().map(|code| code.as_str()));
        let names: Vec<&'static str> = names.collect();
        KV_OPERATIONS
            .iter()
            .zip(&self.operations)
            .filter_map(|(operation, s)| {
                let results: Vec<(&'static str, u64)> = names
                    .iter()
                    .zip(&s.results)
                    .map(|(name, count)| (*name, count.load(Relaxed)))
                    .filter(|(_, count)| *count > 0)
                    .collect();
                if results.is_empty() {
                    return None;
                }
                let mut cumulative = 0;
                let latency_buckets = LATENCY_BUCKETS
                    .iter()
                    .zip(&s.buckets)
                    .map(|(le, count)| {
                        cumulative += count.load(Relaxed);
                        (*le, cumulative)
                    })
                    .collect();
                Some(KvMetrics {
                    store: self.store.clone(),
                    operation,
                    results,
                    latency_buckets,
                    latency_sum_seconds: s.micros.load(Relaxed) as f64 / 1e6,
                    latency_count: s.timed.load(Relaxed),
                })
            })
            .collect()
    }
}

/// A snapshot of one function's counters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FunctionMetrics {
    pub function: String,
    pub calls: u64,
    /// Failed calls by [`CallError::kind`], kinds that happened only.
    pub errors: Vec<(&'static str, u64)>,
    /// Calls that took at most each of [`LATENCY_BUCKETS`] seconds
    /// (cumulative), queueing included.
    pub latency_buckets: Vec<(f64, u64)>,
    pub latency_sum_seconds: f64,
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
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|le| seconds <= *le) {
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

    /// A snapshot, with the pool's gauges.
    pub fn snapshot(
        &self,
        plugin: &str,
        instances_busy: usize,
        instances_max: usize,
    ) -> PluginMetrics {
        let functions = self
            .functions
            .iter()
            .map(|(function, s)| {
                let mut cumulative = 0;
                let latency_buckets = LATENCY_BUCKETS
                    .iter()
                    .zip(&s.buckets)
                    .map(|(le, count)| {
                        cumulative += count.load(Relaxed);
                        (*le, cumulative)
                    })
                    .collect();
                FunctionMetrics {
                    function: function.clone(),
                    calls: s.calls.load(Relaxed),
                    errors: CallError::KINDS
                        .iter()
                        .zip(&s.errors)
                        .map(|(kind, count)| (*kind, count.load(Relaxed)))
                        .filter(|(_, count)| *count > 0)
                        .collect(),
                    latency_buckets,
                    latency_sum_seconds: s.micros.load(Relaxed) as f64 / 1e6,
                    fuel: s.fuel.load(Relaxed),
                }
            })
            .collect();
        PluginMetrics {
            plugin: plugin.to_string(),
            functions,
            instances_busy,
            instances_max,
            calls_abandoned: self.abandoned.load(Relaxed),
            calls_draining: 0,
            kv: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_count_calls_errors_latency_and_fuel() {
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
        stats.add_abandoned();
        let snapshot = stats.snapshot("p", 0, 2);
        let greet = &snapshot.functions[0];
        assert_eq!((greet.calls, greet.fuel), (2, 1234));
        assert_eq!(greet.errors, vec![("busy", 1)]);
        let bucket = |le: f64| greet.latency_buckets.iter().find(|b| b.0 == le).unwrap().1;
        assert_eq!((bucket(0.0001), bucket(0.005), bucket(10.0)), (1, 2, 2));
        assert_eq!((snapshot.instances_max, snapshot.calls_abandoned), (2, 1));
        assert_eq!(
            stats.totals(),
            Totals {
                calls: 2,
                errors: 1,
                fuel: 1234
            }
        );
    }
}
