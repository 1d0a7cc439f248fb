//! Changing a plugin while it serves, from code: a stream of calls keeps
//! going while the plugin behind `greeter` is swapped from its Rust build
//! to its Go build, and a broken version is refused. Not one call fails.
//!
//! Run it with `cargo run -p polyplug-examples --bin reload` after
//! `just build-guests` (`just demo` runs it too).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use polyplug::{Host, HostConfig, PluginConfig, SmokeCall, WasmSource};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let examples = env!("CARGO_MANIFEST_DIR");
    let guests = format!("{examples}/../target/guests");
    let config = HostConfig::from_file(format!("{examples}/polyplug.toml"))?;
    let rust = config.plugins["reference_rust"].clone();
    let first = HostConfig::new([("greeter".to_string(), rust)]);
    let host = tokio::task::spawn_blocking(move || Host::new(first)).await??;
    show(&host, "loaded");

    // Callers that never stop, as a service's traffic would not.
    let (stop, answered, failed) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (host, stop, answered, failed) =
                (host.clone(), stop.clone(), answered.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let out: Result<serde_json::Value, _> =
                        host.call("greeter", "greet", &json!({"name": "Ada"})).await;
                    match out {
                        Ok(out) if out["greeting"] == "Hello, Ada!" => &answered,
                        _ => &failed,
                    }
                    .fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A new version from bytes, e.g. fetched from an artifact store. Its
    // smoke call must answer as expected before it takes a single call.
    let mut go = PluginConfig::new(WasmSource::Bytes(
        std::fs::read(format!("{guests}/reference-go.wasm"))?.into(),
    ));
    go.wasi = true;
    go.smoke = vec![SmokeCall::new(
        "greet",
        &json!({"name": "smoke"}),
        Some(json!({"greeting": "Hello, smoke!"})),
    )];
    let swapping = host.clone();
    tokio::task::spawn_blocking(move || swapping.replace("greeter", go)).await??;
    show(&host, "replaced");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A broken version is refused; the Go build keeps serving.
    let broken = PluginConfig::new(WasmSource::Bytes(b"\0asm, but not really".to_vec().into()));
    let refusing = host.clone();
    let refused = tokio::task::spawn_blocking(move || refusing.replace("greeter", broken)).await?;
    println!("refused:  {}", refused.expect_err("garbage never loads"));
    show(&host, "still");

    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await?;
    }
    let (answered, failed) = (
        answered.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    println!("calls:    {answered} answered correctly, {failed} failed, across both swaps");
    anyhow::ensure!(failed == 0, "a call failed during a swap");
    Ok(())
}

fn show(host: &Host, what: &str) {
    for plugin in host.plugins() {
        println!(
            "{what:<9} `{}`: {} build, sha256 {}…, {} calls still on older versions",
            plugin.name,
            plugin.language.as_deref().unwrap_or("unknown"),
            &plugin.sha256[..12],
            plugin.calls_draining
        );
    }
}
