//! polyplug from either kind of tokio runtime: `Host` is a cheap handle,
//! a call runs on the thread that awaits it while it is quick, and a
//! caller's own timeout stops a call at its deadline.
//!
//! Run it with `cargo run -p polyplug-examples --bin runtimes` after
//! `just build-guests`.

use std::time::{Duration, Instant};

use polyplug::Host;
use serde_json::{Value, json};

const PLUGINS: [&str; 4] = [
    "reference_rust",
    "reference_go",
    "reference_as",
    "reference_js",
];

fn main() -> anyhow::Result<()> {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/polyplug.toml");
    // Loading compiles (or reads the compile cache) and blocks: do it
    // before the runtime, or inside `spawn_blocking`.
    let host = Host::from_config_file(config)?;

    // A current-thread runtime: one thread for everything. Calls run on
    // it inline; a call that ran long would yield and finish elsewhere.
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    single.block_on(async {
        for plugin in PLUGINS {
            let out: Value = host.call(plugin, "greet", &json!({"name": "Ada"})).await?;
            println!("current-thread  {plugin:<15} {out}");
        }
        anyhow::Ok(())
    })?;

    // A multi-threaded runtime: clone the handle into as many tasks as you
    // like; each call takes a free instance of its plugin.
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    multi.block_on(async {
        let started = Instant::now();
        let calls: Vec<_> = (0..200)
            .map(|i| {
                let host = host.clone();
                let plugin = PLUGINS[i % PLUGINS.len()];
                tokio::spawn(async move {
                    host.call::<_, Value>(plugin, "greet", &json!({"name": format!("caller {i}")}))
                        .await
                })
            })
            .collect();
        for call in calls {
            call.await??;
        }
        println!(
            "multi-threaded  200 calls from 200 tasks in {:?}",
            started.elapsed()
        );

        // The caller's own deadline wins: the call is stopped at its next
        // millisecond tick and its instance is freed.
        let quick = tokio::time::timeout(
            Duration::from_millis(50),
            host.call::<_, Value>("reference_rust", "greet", &json!({"name": "in time"})),
        )
        .await;
        println!(
            "multi-threaded  a call within a 50ms deadline: {:?}",
            quick.map(|r| r.is_ok())
        );
        anyhow::Ok(())
    })?;
    Ok(())
}
