//! The HTTP rows: `POST /v1/plugins/p/greet` through
//! `polyplug_server::router`, against a native axum handler doing the same
//! JSON work (both served from this process) and against a Node.js server
//! on `@extism/extism` ([`crate::node`]), all at each of
//! [`load::CONNECTIONS`] and all driven by one load generator
//! ([`crate::load`]) over loopback. polyplug and Node.js serve the same
//! module, the bench greet guest, since Node.js cannot link the reference
//! Rust guest.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::routing::post;
use tokio::net::TcpListener;

use polyplug::{Host, HostConfig, PluginConfig, ServerConfig, WasmSource};

use crate::load::{self, Load};
use crate::node::NodeServer;
use crate::{BENCH_GREET, GreetInput, Greeting, Row, micros, ratio};

/// polyplug's route for `greet`; the Node.js server answers on it too.
const POLYPLUG_PATH: &str = "/v1/plugins/p/greet";

pub fn rows(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    let guest = BENCH_GREET;
    assert!(
        guest.built(),
        "{} is missing: `just build-bench-guest` builds it",
        guest.path().display()
    );
    // Every limit on, as `polyplug serve` has it when the config names none.
    let host = Arc::new(guest.host(polyplug::Limits::default().instances));
    let (native, ours) =
        runtime.block_on(async { (serve_native().await, serve_polyplug(host).await) });
    let node = NodeServer::start(&guest.path());
    let (mut rows, mut node_rows) = (Vec::new(), Vec::new());
    for connections in load::CONNECTIONS {
        eprintln!("HTTP load, {connections} connections: native, polyplug, Node.js ...");
        let native = load::greet(native, "/greet", connections);
        let ours = load::greet(ours, POLYPLUG_PATH, connections);
        rows.extend(versus(
            "native axum",
            connections,
            &native,
            &ours,
            ">= 0.60x",
            "<= 2x",
        ));
        if let Ok(node) = &node {
            let baseline = load::greet(node.addr, POLYPLUG_PATH, connections);
            node_rows.extend(versus(
                "Node.js server",
                connections,
                &baseline,
                &ours,
                ">= 1.20x",
                "",
            ));
        }
    }
    if let Err(reason) = node {
        node_rows.push(Row {
            what: format!("HTTP greet vs Node.js: skipped, {reason}"),
            language: guest.language,
            baseline: "-".into(),
            polyplug: "-".into(),
            ratio: f64::NAN,
            target: "",
        });
    }
    rows.extend(node_rows);
    rows
}

/// Requests/s, p50 and p99 of polyplug against `baseline`.
fn versus(
    name: &str,
    connections: usize,
    baseline: &Load,
    ours: &Load,
    rps_target: &'static str,
    p99_target: &'static str,
) -> Vec<Row> {
    let what = |m: &str| format!("HTTP greet, {connections} conns, {m}: {name} vs polyplug serve");
    vec![
        Row {
            what: what("req/s"),
            language: BENCH_GREET.language,
            baseline: format!("{:.0}/s", baseline.requests_per_second),
            polyplug: format!("{:.0}/s", ours.requests_per_second),
            ratio: ours.requests_per_second / baseline.requests_per_second,
            target: rps_target,
        },
        Row {
            what: what("p50"),
            language: BENCH_GREET.language,
            baseline: micros(baseline.p50),
            polyplug: micros(ours.p50),
            ratio: ratio(ours.p50, baseline.p50),
            target: "",
        },
        Row {
            what: what("p99"),
            language: BENCH_GREET.language,
            baseline: micros(baseline.p99),
            polyplug: micros(ours.p99),
            ratio: ratio(ours.p99, baseline.p99),
            target: p99_target,
        },
    ]
}

async fn native_greet(Json(input): Json<GreetInput>) -> Json<Greeting> {
    Json(Greeting::of(input))
}

/// Serves the native handler at `/greet`; returns its address.
async fn serve_native() -> SocketAddr {
    let app = axum::Router::new().route("/greet", post(native_greet));
    serve(app).await
}

/// Serves polyplug's routes for `host`; returns the address.
pub async fn serve_polyplug(host: Arc<Host>) -> SocketAddr {
    serve(polyplug_server::router(host, &ServerConfig::default())).await
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Head-of-line blocking: greet's p99 over HTTP at 16 connections, idle,
/// and while another plugin of the same host runs calls to their 2 s
/// timeout on every one of its instances (a loop with no end, re-called
/// as soon as each call times out).
pub fn head_of_line_rows(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    const CONNECTIONS: usize = 16;
    let guest = BENCH_GREET;
    let mut hog = PluginConfig::new(WasmSource::Bytes(Arc::from(
        &br#"(module (func (export "spin") (result i32) (loop (br 0)) (i32.const 0)))"#[..],
    )));
    hog.limits.timeout = std::time::Duration::from_secs(2);
    hog.limits.fuel = u64::MAX / 2;
    let hog_instances = hog.limits.instances;
    let mut config = HostConfig::default();
    config.plugins.insert("p".into(), guest.plugin());
    config.plugins.insert("hog".into(), hog);
    let host = Arc::new(Host::new(config).expect("the bench plugins load"));
    let addr = runtime.block_on(serve_polyplug(host.clone()));
    eprintln!(
        "HTTP load, {CONNECTIONS} connections: idle, then beside a plugin timing out on all its instances ..."
    );
    let idle = load::greet(addr, POLYPLUG_PATH, CONNECTIONS);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hogs: Vec<_> = (0..hog_instances)
        .map(|_| {
            let (host, stop) = (host.clone(), stop.clone());
            runtime.spawn(async move {
                let mut timeouts = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let result = host.call_json("hog", "spin", "{}").await;
                    assert!(
                        matches!(result, Err(polyplug::CallError::Timeout { .. })),
                        "{result:?}"
                    );
                    timeouts += 1;
                }
                timeouts
            })
        })
        .collect();
    // Let every hog call start and leave its first time slice.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let busy = host
        .plugins()
        .find(|p| p.name == "hog")
        .map_or(0, |p| p.instances_busy);
    assert_eq!(busy, hog_instances, "every hog instance runs a call");
    let loaded = load::greet(addr, POLYPLUG_PATH, CONNECTIONS);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for hog in hogs {
        runtime.block_on(hog).expect("the hog task ends");
    }
    let what = |m: &str| {
        format!("HTTP greet, {CONNECTIONS} conns, {m}: idle vs beside a plugin timing out")
    };
    vec![
        Row {
            what: what("req/s"),
            language: guest.language,
            baseline: format!("{:.0}/s", idle.requests_per_second),
            polyplug: format!("{:.0}/s", loaded.requests_per_second),
            ratio: loaded.requests_per_second / idle.requests_per_second,
            target: "",
        },
        Row {
            what: what("p99"),
            language: guest.language,
            baseline: micros(idle.p99),
            polyplug: micros(loaded.p99),
            ratio: ratio(loaded.p99, idle.p99),
            target: "<= 2x",
        },
    ]
}
