//! The live reload rows (`just bench reload`): what swapping a plugin for a
//! new version costs while it serves, through `Host::replace`.
//!
//! - **Activation to first answer**, each language: `Host::replace` with a
//!   new version, then one `greet`, timed end to end, against a fresh
//!   `Host::new` of the same plugin and its first `greet`, both with
//!   wasmtime's compile cache warm; and the same replace with the cache
//!   cold. Each language runs in a child process of its own,
//!   `polyplug-bench reload-once LANGUAGE CACHE_DIR`, whose compile cache
//!   is a fresh, empty directory (the cache config is read once per
//!   process). A warm version alternates a config value on the same bytes;
//!   a cold one appends a custom section the cache has never seen.
//! - **p99 under swaps**: HTTP load at 16 connections on
//!   `polyplug_server::router` serving the bench greet guest, steady and
//!   while a task replaces the plugin [`SWAPS`] times spread over the
//!   measured seconds, alternated [`ROUNDS`] times (p99 over a few seconds
//!   moves a lot between rounds on a shared machine); every wrong answer is
//!   counted.
//!
//! Every version has the same smoke call, so staging runs it in both the
//! baseline and the replace.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyplug::{Host, HostConfig, PluginConfig, SmokeCall, WasmSource};
use serde_json::json;

use crate::load::{self, Load};
use crate::{BENCH_GREET, GREET_INPUT, GUESTS, Guest, Row, micros, native_greet, ratio};

/// Repetitions of each activation measurement; the rows show medians.
const REPS: usize = 9;
/// Replaces during one measured load.
const SWAPS: u32 = 20;
/// Steady and swapping loads, alternated; the rows show medians. Five, not
/// three: single rounds' p99 moved 2-3x on a shared machine.
const ROUNDS: usize = 5;
const CONNECTIONS: usize = 16;
const PATH: &str = "/v1/plugins/p/greet";

pub fn rows(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    let mut rows = Vec::new();
    for guest in GUESTS.into_iter().filter(Guest::built) {
        eprintln!(
            "live reload: {}, {REPS} times each way, compile cache warm and cold ...",
            guest.language
        );
        rows.extend(activation_rows(guest));
    }
    rows.extend(swap_rows(runtime));
    rows
}

/// `guest` as one version of the plugin: its module as `wasm`, a config
/// value `tag` and a smoke call that must answer before it serves.
fn version(guest: Guest, wasm: Arc<[u8]>, tag: &str) -> PluginConfig {
    let mut plugin = guest.plugin();
    plugin.wasm = WasmSource::Bytes(wasm);
    plugin.config.insert("bench_version".into(), tag.into());
    plugin.smoke = vec![SmokeCall::new(
        "greet",
        &json!({"name": "smoke"}),
        Some(json!({"greeting": "Hello, smoke!"})),
    )];
    plugin
}

/// `wasm` with a custom section holding `tag` appended: the same code in
/// other bytes, which wasmtime's compile cache (keyed by the bytes) has
/// never seen.
fn unseen(wasm: &[u8], tag: &str) -> Arc<[u8]> {
    let name = b"polyplug-bench";
    let mut section = leb128(name.len());
    section.extend_from_slice(name);
    section.extend_from_slice(tag.as_bytes());
    let mut module = wasm.to_vec();
    module.push(0); // a custom section
    module.extend(leb128(section.len()));
    module.extend(section);
    module.into()
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// One activation, in ms: to the first answer, of it the call that made
/// the new version serve (`Host::new` or `Host::replace`), of that the
/// staging the new generation reports (read, check, compile, first
/// instance), and the first call.
struct Sample {
    total: f64,
    change: f64,
    staging: f64,
    first_call: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The first answer after `change` made a new version serve, checked to be
/// greet's and to come from that new generation (its first counted call).
async fn first_answer(host: &Host, started: Instant, changed: Duration) -> Sample {
    let called = Instant::now();
    let out = host
        .call_json("p", "greet", GREET_INPUT)
        .await
        .expect("the new version answers");
    let (total, first_call) = (started.elapsed(), called.elapsed());
    assert_eq!(out, native_greet(GREET_INPUT), "greet's answer");
    let info = host.plugins().find(|p| p.name == "p").expect("p serves");
    assert_eq!(info.totals.calls, 1, "the new generation answered");
    Sample {
        total: ms(total),
        change: ms(changed),
        staging: ms(info.load_time),
        first_call: ms(first_call),
    }
}

/// `Host::replace` from async code, as a service would call it, then the
/// first answer.
async fn replace(host: &Host, plugin: PluginConfig) -> Sample {
    let started = Instant::now();
    let swapping = host.clone();
    tokio::task::spawn_blocking(move || swapping.replace("p", plugin))
        .await
        .expect("the replace thread")
        .expect("the new version stages");
    first_answer(host, started, started.elapsed()).await
}

/// A fresh host of the one plugin, then its first answer.
async fn fresh(plugin: PluginConfig) -> (Sample, Host) {
    let started = Instant::now();
    let config = HostConfig::new([("p".to_string(), plugin)]);
    let host = tokio::task::spawn_blocking(move || Host::new(config))
        .await
        .expect("the loading thread")
        .expect("the plugin loads");
    let sample = first_answer(&host, started, started.elapsed()).await;
    (sample, host)
}

/// Compiled modules in the cache under `dir`: wasmtime keeps each in a
/// file named by its hash, without an extension (`.stats` and temporary
/// files have one).
fn cached_modules(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                cached_modules(&path)
            } else {
                usize::from(path.extension().is_none())
            }
        })
        .sum()
}

/// The child: `reload-once LANGUAGE CACHE_DIR`, its compile cache set to
/// the empty `CACHE_DIR` by the parent. Prints `name=ms` pairs, medians
/// over [`REPS`].
pub fn child(args: &[String]) {
    let [language, cache] = args else {
        panic!("usage: polyplug-bench reload-once LANGUAGE CACHE_DIR");
    };
    let (guest, cache) = (Guest::by_name(language), Path::new(cache));
    let wasm: Arc<[u8]> = std::fs::read(guest.path())
        .expect("the guest is built")
        .into();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tags = ["a", "b"];
    let (first_load, host) = runtime.block_on(fresh(version(guest, wasm.clone(), tags[0])));
    let cached = cached_modules(cache);
    assert_eq!(cached, 1, "the first load fills the empty cache");
    runtime.block_on(async {
        // The paths a replace takes, once, before timing them.
        replace(&host, version(guest, wasm.clone(), tags[1])).await;
        replace(&host, version(guest, wasm.clone(), tags[0])).await;
    });
    let (mut new, mut dropped, mut warm, mut cold) = (vec![], vec![], vec![], vec![]);
    for rep in 0..REPS {
        let (sample, other) = runtime.block_on(fresh(version(guest, wasm.clone(), tags[0])));
        new.push(sample);
        let dropping = Instant::now();
        drop(other);
        dropped.push(ms(dropping.elapsed()));
        // Each replace is a new version of the one before: the other tag.
        let warm_version = version(guest, wasm.clone(), tags[1]);
        warm.push(runtime.block_on(replace(&host, warm_version)));
        let cold_version = version(guest, unseen(&wasm, &rep.to_string()), tags[0]);
        cold.push(runtime.block_on(replace(&host, cold_version)));
    }
    assert_eq!(
        cached_modules(cache),
        cached + REPS,
        "each cold version added one module to the cache and nothing else did"
    );
    let mut out = vec![
        ("first_load".to_string(), first_load.total),
        ("drop".to_string(), median(dropped)),
    ];
    for (name, samples) in [("new", new), ("warm", warm), ("cold", cold)] {
        let column = |pick: fn(&Sample) -> f64| median(samples.iter().map(pick).collect());
        out.extend([
            (name.to_string(), column(|s| s.total)),
            (format!("{name}_change"), column(|s| s.change)),
            (format!("{name}_staging"), column(|s| s.staging)),
            (format!("{name}_first_call"), column(|s| s.first_call)),
        ]);
    }
    let line: Vec<String> = out.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("{}", line.join(" "));
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs the child for `guest` on an empty cache directory of its own and
/// turns its medians into rows; the breakdown goes to stderr.
fn activation_rows(guest: Guest) -> Vec<Row> {
    let dir = std::env::temp_dir().join(format!(
        "polyplug-bench-reload-{}-{}",
        std::process::id(),
        guest.language
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (config, cache) = (dir.join("cache.toml"), dir.join("cache"));
    // A TOML basic string escapes as Rust's Debug does for these paths.
    std::fs::write(&config, format!("[cache]\ndirectory = {:?}\n", cache))
        .expect("the cache config is written");
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["reload-once", guest.language])
        .arg(&cache)
        .env(polyplug::CACHE_CONFIG_ENV, &config)
        .output()
        .expect("the reload child runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "the reload child failed for {}: {}",
        guest.language,
        String::from_utf8_lossy(&output.stderr)
    );
    let m: BTreeMap<String, f64> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().expect("a number")))
        .collect();
    eprintln!(
        "  {}: Host::new {:.2} ms (staging {:.2}, first call {:.3}); \
         warm replace {:.2} ms (Host::replace {:.2}, of it staging {:.2}; first call {:.3}); \
         cold replace {:.2} ms (staging {:.2}); dropping a host {:.2} ms; first load, empty cache {:.1} ms",
        guest.language,
        m["new"],
        m["new_staging"],
        m["new_first_call"],
        m["warm"],
        m["warm_change"],
        m["warm_staging"],
        m["warm_first_call"],
        m["cold"],
        m["cold_staging"],
        m["drop"],
        m["first_load"],
    );
    let row = |what: &str, ours: f64, target| Row {
        what: what.into(),
        language: guest.language,
        baseline: format!("{:.2} ms", m["new"]),
        polyplug: format!("{ours:.2} ms"),
        ratio: ours / m["new"],
        target,
    };
    vec![
        row(
            "first answer: Host::new vs Host::replace, cache warm",
            m["warm"],
            "<= 2x",
        ),
        row(
            "first answer: Host::new (warm) vs Host::replace, cache cold",
            m["cold"],
            "",
        ),
    ]
}

/// HTTP load on the bench greet guest, steady and while it is replaced
/// [`SWAPS`] times, [`ROUNDS`] times each, alternated.
fn swap_rows(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    let guest = BENCH_GREET;
    assert!(
        guest.built(),
        "{} is missing: `just build-bench-guest` builds it",
        guest.path().display()
    );
    let wasm: Arc<[u8]> = std::fs::read(guest.path()).unwrap().into();
    let versions = [version(guest, wasm.clone(), "a"), version(guest, wasm, "b")];
    let config = HostConfig::new([("p".to_string(), versions[0].clone())]);
    let host = Host::new(config).expect("the bench greet guest loads");
    let addr = runtime.block_on(crate::http::serve_polyplug(Arc::new(host.clone())));
    let (mut steady, mut swapping, mut took) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        eprintln!(
            "HTTP load, {CONNECTIONS} connections, round {round}/{ROUNDS}: steady, then {SWAPS} replaces ..."
        );
        let quiet = load::run(addr, PATH, CONNECTIONS);
        let started = Instant::now();
        let swaps = runtime.spawn(swap(host.clone(), versions.clone(), started));
        let busy = load::run(addr, PATH, CONNECTIONS);
        took.extend(runtime.block_on(swaps).expect("the swapping task"));
        for (name, load) in [("steady", &quiet), ("swapping", &busy)] {
            eprintln!(
                "  {name}: {:.0}/s, p50 {}, p99 {}, {} wrong",
                load.requests_per_second,
                micros(load.p50),
                micros(load.p99),
                load.errors
            );
        }
        steady.push(quiet);
        swapping.push(busy);
    }
    let succeeded = host.reloads().get("p").map_or(0, |r| r.succeeded);
    assert_eq!(succeeded, u64::from(SWAPS) * ROUNDS as u64, "every replace");
    took.sort();
    eprintln!(
        "  {} replaces under load: median {}, max {}",
        took.len(),
        micros(took[took.len() / 2]),
        micros(took[took.len() - 1])
    );
    let (steady, swapping) = (median_load(&steady), median_load(&swapping));
    let what = |m: &str| format!("HTTP greet, {CONNECTIONS} conns, {m}: steady vs {SWAPS} swaps");
    vec![
        Row {
            what: what("req/s"),
            language: guest.language,
            baseline: format!("{:.0}/s", steady.requests_per_second),
            polyplug: format!("{:.0}/s", swapping.requests_per_second),
            ratio: swapping.requests_per_second / steady.requests_per_second,
            target: "",
        },
        Row {
            what: what("p50"),
            language: guest.language,
            baseline: micros(steady.p50),
            polyplug: micros(swapping.p50),
            ratio: ratio(swapping.p50, steady.p50),
            target: "",
        },
        Row {
            what: what("p99"),
            language: guest.language,
            baseline: micros(steady.p99),
            polyplug: micros(swapping.p99),
            ratio: ratio(swapping.p99, steady.p99),
            target: "<= 1.5x",
        },
        Row {
            what: what("wrong answers"),
            language: guest.language,
            baseline: steady.errors.to_string(),
            polyplug: swapping.errors.to_string(),
            ratio: f64::NAN,
            target: "0",
        },
    ]
}

/// Replaces `p` [`SWAPS`] times, alternating `versions`, one at the middle
/// of each of [`SWAPS`] equal slices of the load child's measured seconds
/// (which start [`load::WARM_UP`] after `started`). Returns how long each
/// replace took.
async fn swap(host: Host, versions: [PluginConfig; 2], started: Instant) -> Vec<Duration> {
    let mut took = Vec::new();
    for i in 0..SWAPS {
        let at = started + load::WARM_UP + load::MEASURE * (2 * i + 1) / (2 * SWAPS);
        tokio::time::sleep_until(at.into()).await;
        // The host serves versions[0] first, then each swap the other one.
        let next = versions[(i as usize + 1) % 2].clone();
        let swapping = host.clone();
        let began = Instant::now();
        tokio::task::spawn_blocking(move || swapping.replace("p", next))
            .await
            .expect("the replace thread")
            .expect("the new version stages");
        took.push(began.elapsed());
    }
    took
}

/// Each measure's median over the rounds; the errors of all rounds.
fn median_load(loads: &[Load]) -> Load {
    let median = |pick: fn(&Load) -> f64| median(loads.iter().map(pick).collect());
    Load {
        requests_per_second: median(|l| l.requests_per_second),
        p50: Duration::from_secs_f64(median(|l| l.p50.as_secs_f64())),
        p99: Duration::from_secs_f64(median(|l| l.p99.as_secs_f64())),
        errors: loads.iter().map(|l| l.errors).sum(),
    }
}
