//! `polyplug serve`'s HTTP API, exercised on a real loopback port: every
//! route, every error status, more calls than instances, and graceful
//! shutdown with calls in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use polyplug::{Host, HostConfig, PluginConfig, ServerConfig};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::{RUST, clock_plugin, http, module_with_output, wat_plugin};

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let result = tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .expect("the server stops within its grace period");
        result.unwrap().unwrap();
    }
}

async fn start(plugins: Vec<(&str, PluginConfig)>, server: ServerConfig) -> Running {
    let mut config = HostConfig::new(
        plugins
            .into_iter()
            .map(|(name, plugin)| (name.to_string(), plugin)),
    );
    config.server = server.clone();
    serve(Host::new(config).expect("plugins load"), server).await
}

async fn serve(host: Host, server: ServerConfig) -> Running {
    let host = Arc::new(host);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        polyplug_server::serve(host, listener, &server, shutdown).await
    });
    Running {
        addr,
        stop: Some(stop),
        done,
    }
}

/// `spin` (times out), `crash` (traps) and `wait` (200ms, then `0`).
fn hostile() -> PluginConfig {
    let mut plugin = clock_plugin(Duration::from_millis(200));
    plugin.limits.timeout = Duration::from_millis(300);
    plugin.limits.instances = 2;
    plugin
}

fn standard() -> Vec<(&'static str, PluginConfig)> {
    let mut rust = RUST.plugin();
    rust.limits.max_input = 256;
    vec![
        ("rust", rust),
        ("hostile", hostile()),
        (
            "garbage",
            wat_plugin(&module_with_output("emit", b"not json")),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_returns_the_plugin_output_and_counts_in_listings_and_metrics() {
    let server = start(standard(), ServerConfig::default()).await;
    let response = http(
        server.addr,
        "POST",
        "/v1/plugins/rust/greet",
        br#"{"name":"Ada"}"#,
    )
    .await;
    assert_eq!(response.status, 200);
    assert!(
        response.headers.contains("application/json"),
        "{}",
        response.headers
    );
    assert_eq!(response.body, br#"{"greeting":"Hello, Ada!"}"#);

    let listing = http(server.addr, "GET", "/v1/plugins", b"").await.json();
    let rust = listing["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "rust")
        .expect("rust is listed");
    assert_eq!(rust["calls"], 1);
    assert_eq!(rust["limits"]["max_input"], 256);
    assert!(
        rust["functions"]
            .as_array()
            .unwrap()
            .contains(&json!("greet"))
    );
    assert_eq!(rust["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(rust["language"], "Rust", "read off the producers section");

    let metrics = http(server.addr, "GET", "/metrics", b"").await;
    let text = String::from_utf8(metrics.body).unwrap();
    // OpenMetrics, as `prometheus-client` writes it.
    for line in [
        "# TYPE polyplug_calls counter",
        r#"polyplug_calls_total{plugin="rust",function="greet"} 1"#,
        r#"polyplug_call_duration_seconds_bucket{le="10.0",plugin="rust",function="greet"} 1"#,
        r#"polyplug_call_duration_seconds_bucket{le="+Inf",plugin="rust",function="greet"} 1"#,
        r#"polyplug_call_duration_seconds_count{plugin="rust",function="greet"} 1"#,
        r#"polyplug_instances_max{plugin="hostile"} 2"#,
        r#"polyplug_calls_abandoned_total{plugin="rust"} 0"#,
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }

    assert_eq!(http(server.addr, "GET", "/healthz", b"").await.status, 200);
    assert_eq!(http(server.addr, "GET", "/readyz", b"").await.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_failure_has_its_status_and_a_json_error_body() {
    let mut server = ServerConfig::default();
    server.body_limit = 1024;
    let server = start(standard(), server).await;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(300));
    let huge = vec![b' '; 2048];
    let cases: &[(&str, &[u8], u16, &str)] = &[
        ("/v1/plugins/nope/greet", b"{}", 404, "unknown_plugin"),
        ("/v1/plugins/rust/nope", b"{}", 404, "unknown_function"),
        (
            "/v1/plugins/rust/greet",
            b"{\"name\":",
            400,
            "invalid_input",
        ),
        (
            "/v1/plugins/rust/greet",
            big.as_bytes(),
            413,
            "input_too_large",
        ),
        ("/v1/plugins/rust/greet", &huge, 413, "input_too_large"),
        (
            "/v1/plugins/rust/greet",
            br#"{"name":7}"#,
            422,
            "plugin_error",
        ),
        ("/v1/plugins/hostile/spin", b"{}", 504, "timeout"),
        ("/v1/plugins/hostile/crash", b"{}", 500, "trap"),
        ("/v1/plugins/garbage/emit", b"{}", 502, "invalid_output"),
    ];
    for (path, body, status, kind) in cases {
        let response = http(server.addr, "POST", path, body).await;
        assert_eq!(
            response.status,
            *status,
            "{path}: {:?}",
            String::from_utf8_lossy(&response.body)
        );
        let error = &response.json()["error"];
        assert_eq!(error["kind"], *kind, "{path}: {error}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{error}"
        );
    }
    let response = http(
        server.addr,
        "POST",
        "/v1/plugins/rust/greet",
        br#"{"name":7}"#,
    )
    .await;
    let error = &response.json()["error"];
    assert_eq!(error["code"], "invalid_input");
    assert_eq!(error["plugin"], "rust");
    assert_eq!(error["function"], "greet");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saturated_plugin_answers_503_with_retry_after() {
    let mut plugin = hostile();
    plugin.limits.instances = 1;
    plugin.limits.queue_timeout = Duration::from_millis(50);
    let server = start(vec![("hostile", plugin)], ServerConfig::default()).await;
    let addr = server.addr;
    let spinner =
        tokio::spawn(async move { http(addr, "POST", "/v1/plugins/hostile/spin", b"{}").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = http(server.addr, "POST", "/v1/plugins/hostile/wait", b"{}").await;
    assert_eq!(response.status, 503);
    assert_eq!(response.json()["error"]["kind"], "busy");
    assert!(
        response
            .headers
            .to_ascii_lowercase()
            .contains("retry-after: 1"),
        "{}",
        response.headers
    );
    assert_eq!(spinner.await.unwrap().status, 504);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_calls_than_instances_all_get_their_answer() {
    let mut rust = RUST.plugin();
    rust.limits.instances = 2;
    rust.limits.queue_timeout = Duration::from_secs(10);
    let server = start(vec![("rust", rust)], ServerConfig::default()).await;
    let calls: Vec<_> = (0..24)
        .map(|i| {
            let addr = server.addr;
            tokio::spawn(async move {
                let body = format!(r#"{{"name":"caller {i}"}}"#);
                (
                    i,
                    http(addr, "POST", "/v1/plugins/rust/greet", body.as_bytes()).await,
                )
            })
        })
        .collect();
    for call in calls {
        let (i, response) = call.await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            response.json(),
            json!({"greeting": format!("Hello, caller {i}!")})
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_call_is_followed_by_correct_answers() {
    let server = start(standard(), ServerConfig::default()).await;
    for _ in 0..3 {
        let crash = http(server.addr, "POST", "/v1/plugins/hostile/crash", b"{}").await;
        assert_eq!(crash.status, 500);
        let waited = http(server.addr, "POST", "/v1/plugins/hostile/wait", b"{}").await;
        assert_eq!((waited.status, waited.text()), (200, "0".to_string()));
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_finishes_calls_in_flight_and_refuses_new_ones() {
    let server = start(standard(), ServerConfig::default()).await;
    let addr = server.addr;
    let in_flight: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(async move { http(addr, "POST", "/v1/plugins/hostile/wait", b"{}").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.shutdown().await;
    for call in in_flight {
        let response = call.await.unwrap();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"0"[..])
        );
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_version_shows_in_the_listing_and_the_metrics() {
    let host = crate::support::host_with("p", wat_plugin(&module_with_output("answer", b"1")));
    let server = serve(host.clone(), ServerConfig::default()).await;
    let refused = host.replace("p", wat_plugin("(module"));
    assert!(refused.is_err());
    host.replace("q", wat_plugin("not wasm")).unwrap_err();

    let listing = http(server.addr, "GET", "/v1/plugins", b"").await.json();
    let p = &listing["plugins"][0];
    assert_eq!(p["name"], "p");
    assert_eq!(p["reloads"]["failed"], 1);
    assert_eq!(p["reloads"]["last_error"]["kind"], "invalid_module");
    assert_eq!(p["calls_draining"], 0);
    assert_eq!(
        (&p["version"], &p["signed_by"]),
        (&Value::Null, &Value::Null)
    );
    assert!(p["loaded_at"].as_str().unwrap().ends_with('Z'), "{p}");
    assert_eq!(listing["not_loaded"][0]["name"], "q", "{listing}");

    let metrics = http(server.addr, "GET", "/metrics", b"").await.text();
    for line in [
        r#"polyplug_reloads_total{plugin="p",result="failed"} 1"#,
        r#"polyplug_reloads_total{plugin="p",result="ok"} 0"#,
        r#"polyplug_reloads_total{plugin="q",result="failed"} 1"#,
        r#"polyplug_calls_draining{plugin="p"} 0"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_operations_show_in_the_metrics_and_grants_in_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let mut rust = RUST.plugin();
    rust.kv = Some(polyplug::KvGrant::shared("default", "cart"));
    let mut config = HostConfig::new([("rust".to_string(), rust)]);
    config.stores = std::collections::BTreeMap::from([(
        "default".to_string(),
        polyplug::StoreConfig::embedded(dir.path().join("kv.redb")),
    )]);
    let server = serve(Host::new(config).unwrap(), ServerConfig::default()).await;
    for body in [
        &br#"{"key":"a","by":1}"#[..],
        br#"{"key":"a","by":9007199254740991}"#,
    ] {
        http(server.addr, "POST", "/v1/plugins/rust/tally", body).await;
    }
    let listing = http(server.addr, "GET", "/v1/plugins", b"").await.json();
    let plugin = &listing["plugins"][0];
    assert_eq!(
        plugin["kv"],
        json!({"store": "default", "namespace": "cart"})
    );
    assert_eq!(plugin["limits"]["max_kv_value"], 1 << 20);
    let text = http(server.addr, "GET", "/metrics", b"").await.text();
    for line in [
        "# TYPE polyplug_kv_operations counter",
        r#"polyplug_kv_operations_total{plugin="rust",store="default",operation="increment",result="ok"} 1"#,
        r#"polyplug_kv_operations_total{plugin="rust",store="default",operation="increment",result="kv_overflow"} 1"#,
        "# TYPE polyplug_kv_operation_duration_seconds histogram",
        r#"polyplug_kv_operation_duration_seconds_count{plugin="rust",store="default",operation="increment"} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    server.shutdown().await;
}
