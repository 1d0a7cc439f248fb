//! Load through the real server: hundreds of concurrent HTTP calls, a
//! share of them hostile (a trap, a timeout, output that is not JSON).
//! Every good call gets its own answer, every hostile one its status and
//! error kind, and none is lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use polyplug::{Host, HostConfig, ServerConfig};
use tokio::sync::{Semaphore, oneshot};

use super::wat;
use crate::support::{RUST, clock_plugin, http};

const CALLS: usize = 400;
const AT_ONCE: usize = 32;

/// What the `i`th request is: its path and body, and the status and body
/// (or error kind) it must get.
fn request(i: usize) -> (String, Vec<u8>, u16, Result<String, &'static str>) {
    match i % 8 {
        0 => (
            "/v1/plugins/hostile/spin".into(),
            b"{}".to_vec(),
            504,
            Err("timeout"),
        ),
        1 => (
            "/v1/plugins/hostile/crash".into(),
            b"{}".to_vec(),
            500,
            Err("trap"),
        ),
        2 => (
            "/v1/plugins/garbage/f".into(),
            b"{}".to_vec(),
            502,
            Err("invalid_output"),
        ),
        _ => (
            "/v1/plugins/good/greet".into(),
            format!(r#"{{"name":"caller {i}"}}"#).into_bytes(),
            200,
            Ok(format!(r#"{{"greeting":"Hello, caller {i}!"}}"#)),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_gets_its_own_answer_or_error_under_hostile_load() {
    let mut good = RUST.plugin();
    good.limits.instances = 4;
    let mut hostile = clock_plugin(Duration::ZERO);
    hostile.limits.timeout = Duration::from_millis(100);
    hostile.limits.instances = 4;
    // Fifty timeouts share four instances: waiting must not turn into Busy.
    hostile.limits.queue_timeout = Duration::from_secs(30);
    let garbage = wat::plugin(
        r#"(func (export "f") (result i32)
          (call $output_set (call $alloc (i64.const 8)) (i64.const 8))
          (i32.const 0))"#,
    );
    let config = HostConfig::new(BTreeMap::from([
        ("good".to_string(), good),
        ("hostile".to_string(), hostile),
        ("garbage".to_string(), garbage),
    ]));
    let host = Arc::new(Host::new(config).expect("plugins load"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn({
        let host = host.clone();
        async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            polyplug_server::serve(host, listener, &ServerConfig::default(), shutdown).await
        }
    });

    let gate = Arc::new(Semaphore::new(AT_ONCE));
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _turn = gate.acquire_owned().await.unwrap();
                let (path, body, _, _) = request(i);
                (i, http(addr, "POST", &path, &body).await)
            })
        })
        .collect();
    let mut answered = 0;
    for call in calls {
        let (i, response) = call.await.expect("no request is lost");
        let (path, _, status, want) = request(i);
        assert_eq!(
            response.status,
            status,
            "request {i} to {path}: {}",
            response.text()
        );
        match want {
            Ok(body) => assert_eq!(response.text(), body, "request {i}"),
            Err(kind) => assert_eq!(response.json()["error"]["kind"], kind, "request {i}"),
        }
        answered += 1;
    }
    assert_eq!(answered, CALLS);

    // The server counted every call, failed or not.
    let metrics = http(addr, "GET", "/metrics", b"").await.text();
    for (plugin, function, count) in [
        ("good", "greet", CALLS / 8 * 5),
        ("hostile", "spin", CALLS / 8),
        ("hostile", "crash", CALLS / 8),
        ("garbage", "f", CALLS / 8),
    ] {
        let line =
            format!(r#"polyplug_calls_total{{plugin="{plugin}",function="{function}"}} {count}"#);
        assert!(metrics.contains(&line), "no `{line}` in:\n{metrics}");
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
