//! Rows for host-managed state and pipelines (issue #12):
//!
//! - key-value increments from the Rust guest's `tally` through
//!   `Host::call_json`, on the embedded store, against the same increment
//!   done by native Rust on a `redb` file with the same tables and the same
//!   durability (a committed, fsynced transaction per operation);
//! - the four-language `checkout` pipeline of `examples/polyplug.toml`
//!   through `Host::call_pipeline`, against its four steps called one by
//!   one with the same inputs (the sum of four single calls).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyplug::{Host, HostConfig, KvGrant, StoreConfig};
use redb::{Database, Durability, ReadableTable, TableDefinition};

use super::{Guest, Row, median, micros, ratio};

/// Store operations timed for each side; each one waits for an fsync,
/// whose time on a shared machine has a long tail, so operations alternate
/// one by one and each side's figure is its median operation.
const OPERATIONS: usize = 3_000;

pub fn rows(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    let mut rows = Vec::new();
    eprintln!("state: increments, Rust guest vs native redb ...");
    rows.push(increments(runtime));
    eprintln!("pipeline: checkout vs its four calls ...");
    match pipeline(runtime) {
        Some(row) => rows.push(row),
        None => eprintln!("    skipped: a reference guest is not built (just build-guests)"),
    }
    rows
}

/// Rounds of `a` and `b` alternating, `per_round` operations each; the
/// median time per operation of each.
fn alternate(
    per_round: u32,
    rounds: usize,
    mut a: impl FnMut(u32),
    mut b: impl FnMut(u32),
) -> (Duration, Duration) {
    a(per_round / 4);
    b(per_round / 4);
    let (mut a_rounds, mut b_rounds) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (run, times) in [
            (&mut a as &mut dyn FnMut(u32), &mut a_rounds),
            (&mut b, &mut b_rounds),
        ] {
            let started = Instant::now();
            run(per_round);
            times.push(started.elapsed() / per_round);
        }
    }
    (median(a_rounds), median(b_rounds))
}

/// `a` and `b` alternating one operation at a time, `operations` each
/// after a warm-up; the median time of each side's operation.
fn alternate_operations(
    operations: usize,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> (Duration, Duration) {
    let time = |run: &mut dyn FnMut()| {
        let started = Instant::now();
        run();
        started.elapsed()
    };
    for _ in 0..operations / 10 {
        time(&mut a);
        time(&mut b);
    }
    let (mut a_times, mut b_times) = (Vec::new(), Vec::new());
    for _ in 0..operations {
        a_times.push(time(&mut a));
        b_times.push(time(&mut b));
    }
    (median(a_times), median(b_times))
}

fn per_second(per_operation: Duration) -> String {
    format!("{:.0} ops/s", 1.0 / per_operation.as_secs_f64())
}

// --- key-value -------------------------------------------------------------

/// The embedded store's tables, as `host/polyplug/src/kv/embedded.rs` lays
/// them out: what native Rust would do to keep the same counter.
const ENTRIES: TableDefinition<(&str, &str), (u64, &str)> = TableDefinition::new("entries");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// One durable increment of `key` by 1, as one transaction: read the entry,
/// add, take the next store-wide version, write, commit with fsync.
fn native_increment(db: &Database, key: &str) -> i64 {
    let mut tx = db.begin_write().unwrap();
    tx.set_durability(Durability::Immediate).unwrap();
    let value = {
        let mut entries = tx.open_table(ENTRIES).unwrap();
        let mut meta = tx.open_table(META).unwrap();
        let current = entries
            .get(("bench", key))
            .unwrap()
            .map(|entry| entry.value().1.parse::<i64>().unwrap())
            .unwrap_or(0);
        let version = meta.get("version").unwrap().map_or(0, |v| v.value()) + 1;
        meta.insert("version", version).unwrap();
        let value = current + 1;
        entries
            .insert(("bench", key), (version, value.to_string().as_str()))
            .unwrap();
        value
    };
    tx.commit().unwrap();
    value
}

fn increments(runtime: &tokio::runtime::Runtime) -> Row {
    let rust = Guest::by_name("rust");
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("native.redb")).unwrap();
    let native = || {
        std::hint::black_box(native_increment(&db, "hits"));
    };
    let mut plugin = rust.plugin();
    plugin.kv = Some(KvGrant::own("default"));
    let mut config = HostConfig::new([("p".to_string(), plugin)]);
    config.stores.insert(
        "default".into(),
        StoreConfig::embedded(dir.path().join("host.redb")),
    );
    let host = Arc::new(Host::new(config).expect("the Rust guest loads with a store"));
    let tally = || {
        let host = host.clone();
        runtime
            .block_on(host.call_json("p", "tally", &br#"{"key":"hits","by":1}"#[..]))
            .unwrap();
    };
    let (native, ours) = alternate_operations(OPERATIONS, native, tally);
    Row {
        what: "kv increment (embedded): native redb vs guest tally".into(),
        language: rust.language,
        baseline: per_second(native),
        polyplug: per_second(ours),
        ratio: ratio(ours, native),
        target: "",
    }
}

// --- pipelines ---------------------------------------------------------------

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn pipeline(runtime: &tokio::runtime::Runtime) -> Option<Row> {
    if !super::GUESTS.iter().all(Guest::built) {
        return None;
    }
    let config = HostConfig::from_file(examples().join("polyplug.toml")).unwrap();
    let host = Arc::new(Host::new(config).expect("examples/polyplug.toml loads"));
    let input =
        std::fs::read(examples().join("pipelines/checkout/shop_front_cart.input.json")).unwrap();
    // Each step's input: the pipeline's input, then each output but the last.
    let traced = runtime
        .block_on(host.call_pipeline_traced("checkout", input.clone()))
        .expect("the checkout pipeline runs");
    let mut inputs = vec![input.clone()];
    inputs.extend(traced.trace.iter().map(|step| step.output.clone()));
    let calls: Vec<(String, String, Vec<u8>)> = traced
        .trace
        .iter()
        .zip(inputs)
        .map(|(step, input)| (step.plugin.clone(), step.function.clone(), input))
        .collect();
    let one_by_one = |runs| {
        let (host, calls) = (host.clone(), calls.clone());
        runtime.block_on(async move {
            for _ in 0..runs {
                for (plugin, function, input) in &calls {
                    host.call_json(plugin, function, input.clone())
                        .await
                        .unwrap();
                }
            }
        })
    };
    let piped = |runs| {
        let (host, input) = (host.clone(), input.clone());
        runtime.block_on(async move {
            for _ in 0..runs {
                host.call_pipeline("checkout", input.clone()).await.unwrap();
            }
        })
    };
    let (sum, ours) = alternate(super::CALLS_PER_ROUND / 4, super::ROUNDS, one_by_one, piped);
    Some(Row {
        what: "checkout (js, rust, go, as): 4 single calls vs pipeline".into(),
        language: "all four",
        baseline: micros(sum),
        polyplug: micros(ours),
        ratio: ratio(ours, sum),
        target: "<= 1.1x",
    })
}
