//! `just bench`: what polyplug costs over raw Extism and over native code,
//! printed as one table of ratios so that the noise of a shared machine
//! mostly cancels out. Not a test: nothing here passes or fails.
//!
//! Rows: per-call `greet` through `Host::call_json` vs `extism::Plugin::call`
//! on the same module (each language); the Rust guest vs the same logic as a
//! native function; each guest's warm `greet` vs the Rust guest's; HTTP
//! throughput and latency of `polyplug serve`'s route vs a native axum
//! handler and vs a Node.js server on `@extism/extism` ([`http`]);
//! throughput with 2 instances vs 1; load-to-first-result with a warm and a
//! cold compile cache, and the first call after load; live reload through
//! `Host::replace` ([`reload`]); key-value increments and the checkout
//! pipeline ([`state`]); RSS per pooled instance. Cold start, live
//! reload and memory run in child processes (`polyplug-bench cold-start
//! <lang>`, `polyplug-bench reload-once <lang> <dir>`, `polyplug-bench rss
//! <lang>`) so each starts from a clean process; so does the HTTP load
//! generator (`polyplug-bench load ...`, [`load`]).
//!
//! `polyplug-bench http`, `polyplug-bench reload` and `polyplug-bench
//! state` and `polyplug-bench redis` measure only those rows (`just bench
//! http`, `just bench reload`, `just bench state`, `just bench redis`: Redis
//! store increments, [`redis_kv`]).

mod http;
mod load;
mod node;
mod redis_kv;
mod reload;
mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use polyplug::{Host, HostConfig, PluginConfig, WasmSource};

const GREET_INPUT: &[u8] = br#"{"name":"Ada"}"#;

/// A reference guest built by `just build-guests`.
#[derive(Clone, Copy)]
struct Guest {
    language: &'static str,
    file: &'static str,
    wasi: bool,
}

const GUESTS: [Guest; 4] = [
    Guest {
        language: "rust",
        file: "reference-rust.wasm",
        wasi: false,
    },
    Guest {
        language: "go",
        file: "reference-go.wasm",
        wasi: true,
    },
    Guest {
        language: "assemblyscript",
        file: "reference-as.wasm",
        wasi: false,
    },
    Guest {
        language: "js",
        file: "reference-js.wasm",
        wasi: true,
    },
];

/// `greet` without the `http_headers` import (bench/greet-guest), which
/// every server of the HTTP rows serves: Node.js cannot link the reference
/// Rust guest. `just build-bench-guest` builds it.
const BENCH_GREET: Guest = Guest {
    language: "rust",
    file: "bench-greet.wasm",
    wasi: false,
};

impl Guest {
    fn path(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/guests")
            .join(self.file)
    }

    fn built(&self) -> bool {
        self.path().is_file()
    }

    fn plugin(&self) -> PluginConfig {
        let mut plugin = PluginConfig::new(WasmSource::File(self.path()));
        plugin.wasi = self.wasi;
        plugin
    }

    fn host(&self, instances: usize) -> Host {
        let mut plugin = self.plugin();
        plugin.limits.instances = instances;
        let config = HostConfig::new(BTreeMap::from([("p".to_string(), plugin)]));
        Host::new(config).unwrap_or_else(|err| panic!("{}: {err}", self.language))
    }

    /// The same module and limits, straight through Extism.
    fn raw(&self) -> extism::Plugin {
        let limits = polyplug::Limits::default();
        let manifest = extism::Manifest::new([extism::Wasm::file(self.path())])
            .with_memory_max((limits.memory / 65536) as u32)
            .with_timeout(limits.timeout);
        extism::PluginBuilder::new(manifest)
            .with_wasi(self.wasi)
            // The Rust guest imports polyplug's key-value function (for
            // `tally`); plain Extism must be given one for the module to
            // load. `greet` never calls it.
            .with_function(
                "polyplug_kv",
                [extism::PTR],
                [extism::PTR],
                extism::UserData::default(),
                polyplug_kv_not_granted,
            )
            .with_fuel_limit(limits.fuel)
            .with_initialization_fuel_limit(limits.init_fuel)
            .build()
            .unwrap_or_else(|err| panic!("{}: {err}", self.language))
    }

    fn by_name(name: &str) -> Guest {
        *GUESTS
            .iter()
            .find(|g| g.language == name)
            .expect("a known language")
    }
}

extism::host_fn!(polyplug_kv_not_granted(_request: Vec<u8>) -> Vec<u8> {
    Ok(br#"{"error":{"code":"kv_not_granted","message":"no store under plain Extism"}}"#.to_vec())
});

struct Row {
    what: String,
    language: &'static str,
    baseline: String,
    polyplug: String,
    ratio: f64,
    /// The ratio the issue asks for, when it names one.
    target: &'static str,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("cold-start") => return cold_start_child(Guest::by_name(&args[2])),
        Some("rss") => return rss_child(Guest::by_name(&args[2])),
        Some("load") => return load::child(&args[2..]),
        Some("reload-once") => return reload::child(&args[2..]),
        _ => {}
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    match args.get(1).map(String::as_str) {
        None => {}
        Some("http") => {
            let mut rows = http::rows(&runtime);
            rows.extend(http::head_of_line_rows(&runtime));
            return print_table(&rows);
        }
        Some("reload") => return print_table(&reload::rows(&runtime)),
        Some("state") => return print_table(&state::rows(&runtime)),
        Some("redis") => return print_table(&redis_kv::rows(&runtime)),
        Some(other) => {
            eprintln!(
                "no rows named `{other}`: `http`, `reload`, `state`, `redis`, or none for every row"
            );
            std::process::exit(2);
        }
    }
    let guests: Vec<Guest> = GUESTS.into_iter().filter(Guest::built).collect();
    let mut rows = Vec::new();
    let mut warm = Vec::new();
    for guest in &guests {
        eprintln!("per-call cost: {} ...", guest.language);
        let (row, ours) = per_call(&runtime, *guest);
        rows.push(row);
        warm.push((*guest, ours));
    }
    rows.push(native_vs_guest(&runtime));
    rows.extend(versus_rust(&warm));
    rows.extend(http::rows(&runtime));
    rows.extend(http::head_of_line_rows(&runtime));
    eprintln!("scaling ...");
    rows.push(scaling(&runtime, Guest::by_name("rust")));
    for guest in &guests {
        eprintln!("cold start: {} ...", guest.language);
        rows.extend(cold_start(*guest));
    }
    rows.extend(reload::rows(&runtime));
    rows.extend(state::rows(&runtime));
    rows.extend(redis_kv::rows(&runtime));
    for guest in &guests {
        eprintln!("memory: {} ...", guest.language);
        rows.extend(memory(*guest));
    }
    print_table(&rows);
}

const WARM_UP: u32 = 300;
const ROUNDS: usize = 15;
const CALLS_PER_ROUND: u32 = 1000;

/// Time per call of two ways of doing one thing, each given as "run this
/// many calls". Rounds alternate, so a change in the machine's load hits
/// both alike; each result is the median of its rounds.
fn compare(mut a: impl FnMut(u32), mut b: impl FnMut(u32)) -> (Duration, Duration) {
    a(WARM_UP);
    b(WARM_UP);
    let round = |run: &mut dyn FnMut(u32)| {
        let started = Instant::now();
        run(CALLS_PER_ROUND);
        started.elapsed() / CALLS_PER_ROUND
    };
    let (mut a_rounds, mut b_rounds) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a_rounds.push(round(&mut a));
        b_rounds.push(round(&mut b));
    }
    (median(a_rounds), median(b_rounds))
}

fn median(mut rounds: Vec<Duration>) -> Duration {
    rounds.sort();
    rounds[rounds.len() / 2]
}

/// Runs `calls` calls of `greet` through `Host::call_json`, one after
/// another, from a task on a runtime worker, as a service's handler would.
fn host_greets(runtime: &tokio::runtime::Runtime, host: &Arc<Host>) -> impl FnMut(u32) {
    move |calls| {
        let host = host.clone();
        runtime
            .block_on(runtime.spawn(async move {
                for _ in 0..calls {
                    host.call_json("p", "greet", GREET_INPUT).await.unwrap();
                }
            }))
            .unwrap();
    }
}

fn per_call(runtime: &tokio::runtime::Runtime, guest: Guest) -> (Row, Duration) {
    let mut raw = guest.raw();
    let raw_greets = |calls| {
        for _ in 0..calls {
            let out: &[u8] = raw.call("greet", GREET_INPUT).unwrap();
            assert!(!out.is_empty());
        }
    };
    let host = Arc::new(guest.host(1));
    let (raw_time, ours) = compare(raw_greets, host_greets(runtime, &host));
    let row = Row {
        what: "greet per call: extism::Plugin::call vs Host::call_json".into(),
        language: guest.language,
        baseline: micros(raw_time),
        polyplug: micros(ours),
        ratio: ratio(ours, raw_time),
        target: "<= 1.15x",
    };
    (row, ours)
}

/// Each other guest's warm `greet` through the host against the Rust guest's.
fn versus_rust(warm: &[(Guest, Duration)]) -> Vec<Row> {
    let Some(&(_, rust)) = warm.iter().find(|(g, _)| g.language == "rust") else {
        return Vec::new();
    };
    warm.iter()
        .filter(|(g, _)| g.language != "rust")
        .map(|&(guest, time)| Row {
            what: "warm greet via Host::call_json: Rust guest vs this guest".into(),
            language: guest.language,
            baseline: micros(rust),
            polyplug: micros(time),
            ratio: ratio(time, rust),
            target: if guest.language == "js" { "<= 10x" } else { "" },
        })
        .collect()
}

/// `greet`'s input and output, for the native versions of it.
#[derive(serde::Deserialize)]
struct GreetInput {
    name: String,
}

#[derive(serde::Serialize)]
struct Greeting {
    greeting: String,
}

impl Greeting {
    fn of(input: GreetInput) -> Self {
        Greeting {
            greeting: format!("Hello, {}!", input.name),
        }
    }
}

fn native_greet(input: &[u8]) -> Vec<u8> {
    let input: GreetInput = serde_json::from_slice(input).unwrap();
    serde_json::to_vec(&Greeting::of(input)).unwrap()
}

fn native_vs_guest(runtime: &tokio::runtime::Runtime) -> Row {
    let native_greets = |calls| {
        for _ in 0..calls {
            std::hint::black_box(native_greet(std::hint::black_box(GREET_INPUT)));
        }
    };
    let host = Arc::new(Guest::by_name("rust").host(1));
    let (native, ours) = compare(native_greets, host_greets(runtime, &host));
    Row {
        what: "greet: native Rust fn vs Rust guest via Host::call_json".into(),
        language: "rust",
        baseline: micros(native),
        polyplug: micros(ours),
        ratio: ratio(ours, native),
        target: "",
    }
}

/// Calls per second from 4 concurrent callers for one second.
fn throughput(runtime: &tokio::runtime::Runtime, host: Arc<Host>) -> f64 {
    let calls = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(1);
    runtime.block_on(async {
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let (host, calls) = (host.clone(), calls.clone());
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        host.call_json("p", "greet", GREET_INPUT).await.unwrap();
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
    });
    calls.load(Ordering::Relaxed) as f64
}

fn scaling(runtime: &tokio::runtime::Runtime, guest: Guest) -> Row {
    let one = throughput(runtime, Arc::new(guest.host(1)));
    let two = throughput(runtime, Arc::new(guest.host(2)));
    Row {
        what: "throughput, 4 callers: 1 instance vs 2 instances".into(),
        language: guest.language,
        baseline: format!("{one:.0}/s"),
        polyplug: format!("{two:.0}/s"),
        ratio: two / one,
        target: "",
    }
}

/// Runs a child measurement and reads the numbers it prints.
fn child(mode: &str, guest: Guest, cold_cache: bool) -> Vec<f64> {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([mode, guest.language]);
    if cold_cache {
        // Empty turns wasmtime's compile cache off, for polyplug and for
        // Extism alike.
        command.env(polyplug::CACHE_CONFIG_ENV, "");
        command.env("EXTISM_CACHE_CONFIG", "");
    }
    let output = command.output().expect("the child runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect()
}

/// Load-to-first-result with the compile cache warm and off, and the first
/// call after load against a warm call.
fn cold_start(guest: Guest) -> Vec<Row> {
    child("cold-start", guest, false); // make sure the cache holds it
    let warm = median_of_children(5, || child("cold-start", guest, false));
    let cold = median_of_children(3, || child("cold-start", guest, true));
    vec![
        Row {
            what: "load to first result: compile cache warm vs off".into(),
            language: guest.language,
            baseline: format!("{:.1} ms", warm[0]),
            polyplug: format!("{:.1} ms", cold[0]),
            ratio: cold[0] / warm[0],
            target: "",
        },
        Row {
            what: "greet: warm call vs first call after load".into(),
            language: guest.language,
            baseline: format!("{:.2} us", warm[2]),
            polyplug: format!("{:.2} us", warm[1]),
            ratio: warm[1] / warm[2],
            target: if guest.language == "js" {
                "first < 1 ms"
            } else {
                ""
            },
        },
    ]
}

/// Runs a child `runs` times; each of its numbers is the median over runs,
/// since one process start is one noisy sample.
fn median_of_children(runs: usize, mut run: impl FnMut() -> Vec<f64>) -> Vec<f64> {
    let samples: Vec<Vec<f64>> = (0..runs).map(|_| run()).collect();
    (0..samples[0].len())
        .map(|i| {
            let mut column: Vec<f64> = samples.iter().map(|s| s[i]).collect();
            column.sort_by(f64::total_cmp);
            column[column.len() / 2]
        })
        .collect()
}

/// Prints milliseconds from start to the first result, then microseconds of
/// the first call after load and of a warm call.
fn cold_start_child(guest: Guest) {
    let started = Instant::now();
    let host = guest.host(1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let call = || {
        let began = Instant::now();
        runtime
            .block_on(host.call_json("p", "greet", GREET_INPUT))
            .unwrap();
        began.elapsed().as_secs_f64() * 1e6
    };
    let first = call();
    let to_first_result = started.elapsed().as_secs_f64() * 1e3;
    let warm = (0..100).map(|_| call()).fold(f64::INFINITY, f64::min);
    println!("{to_first_result} {first} {warm}");
}

fn memory(guest: Guest) -> Vec<Row> {
    let measured = child("rss", guest, false);
    let (plugin, instance) = (measured[0], measured[1]);
    vec![
        Row {
            what: "RSS per loaded plugin (engine + code + one instance)".into(),
            language: guest.language,
            baseline: "-".into(),
            polyplug: format!("{:.1} MiB", plugin / 1024.0),
            ratio: f64::NAN,
            target: "",
        },
        Row {
            what: "RSS per further idle instance of a plugin".into(),
            language: guest.language,
            baseline: "-".into(),
            polyplug: format!("{:.1} MiB", instance / 1024.0),
            ratio: f64::NAN,
            target: if guest.language == "go" {
                "< 8 MiB"
            } else {
                ""
            },
        },
    ]
}

/// Prints the KiB of resident memory (1) each loaded, called, idle plugin
/// adds, from eight hosts of one instance each, and (2) each further idle
/// instance of one plugin adds: the same burst of concurrent calls on a
/// host allowed one instance and on one allowed eight, the difference
/// divided by the extra instances the second one kept.
fn rss_child(guest: Guest) {
    const HOSTS: usize = 8;
    const INSTANCES: usize = 8;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(INSTANCES)
        .enable_all()
        .build()
        .unwrap();
    let warm = guest.host(1);
    runtime
        .block_on(warm.call_json("p", "greet", GREET_INPUT))
        .unwrap();
    let before = rss_kib();
    let hosts: Vec<Host> = (0..HOSTS).map(|_| guest.host(1)).collect();
    for host in &hosts {
        runtime
            .block_on(host.call_json("p", "greet", GREET_INPUT))
            .unwrap();
    }
    let per_plugin = (rss_kib() - before) / HOSTS as f64;

    // Each burst grows the pool up to its limit; what the runtime and the
    // allocator keep after a burst is the same for both hosts.
    let burst = |host: &Host| {
        for _ in 0..200 {
            let calls: Vec<_> = (0..4 * INSTANCES)
                .map(|_| {
                    let host = host.clone();
                    runtime.spawn(async move { host.call_json("p", "greet", GREET_INPUT).await })
                })
                .collect();
            for call in calls {
                runtime.block_on(call).unwrap().unwrap();
            }
        }
        host.plugins().next().map_or(0, |p| p.instances_idle)
    };
    let (one, many) = (guest.host(1), guest.host(INSTANCES));
    let start = rss_kib();
    let idle_one = burst(&one);
    let after_one = rss_kib();
    let idle_many = burst(&many);
    let after_many = rss_kib();
    eprintln!(
        "rss: {} idle instance(s) took {:.0} KiB, {} took {:.0} KiB",
        idle_one,
        after_one - start,
        idle_many,
        after_many - after_one
    );
    let extra = idle_many.saturating_sub(idle_one);
    let per_instance = if extra > 0 {
        ((after_many - after_one) - (after_one - start)) / extra as f64
    } else {
        f64::NAN
    };
    println!("{per_plugin} {}", per_instance.max(0.0));
}

fn rss_kib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4.0
}

fn micros(d: Duration) -> String {
    format!("{:.2} us", d.as_secs_f64() * 1e6)
}

fn ratio(ours: Duration, baseline: Duration) -> f64 {
    ours.as_secs_f64() / baseline.as_secs_f64()
}

fn print_table(rows: &[Row]) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let backtrace = std::env::var("RUST_BACKTRACE").unwrap_or_else(|_| "unset".into());
    println!("polyplug bench: {cores} cores, RUST_BACKTRACE={backtrace}, release build\n");
    println!(
        "| {:<62} | {:<14} | {:>12} | {:>12} | {:>7} | {:<12} |",
        "measurement", "language", "baseline", "polyplug", "ratio", "target"
    );
    println!(
        "|{:-<64}|{:-<16}|{:->14}|{:->14}|{:->9}|{:-<14}|",
        "", "", "", "", "", ""
    );
    for row in rows {
        let ratio = if row.ratio.is_nan() {
            "-".to_string()
        } else {
            format!("{:.2}x", row.ratio)
        };
        println!(
            "| {:<62} | {:<14} | {:>12} | {:>12} | {:>7} | {:<12} |",
            row.what, row.language, row.baseline, row.polyplug, ratio, row.target
        );
    }
}
