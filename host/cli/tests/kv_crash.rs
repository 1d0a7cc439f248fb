//! `kill -9` while acknowledged key-value writes are in flight: after each
//! kill, `polyplug serve` opens its embedded store again and every
//! increment a plugin was told succeeded is there, and none was counted
//! twice. `POLYPLUG_KILLS` sets how many kills (default 50);
//! `POLYPLUG_CRASH_SEED` replays a run's choices (not its timing).

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Connection, Server};

/// Clients writing at once, each to a counter of its own.
const CLIENTS: usize = 4;

fn reference_rust() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/guests/reference-rust.wasm")
}

/// What one client knows about its counter when the server dies.
#[derive(Default, Clone, Copy)]
struct Counter {
    /// The value the last acknowledged increment answered.
    acknowledged: i64,
    /// An increment was sent and not answered: it may or may not have
    /// been committed.
    in_flight: bool,
}

#[test]
fn a_kill_during_writes_loses_no_acknowledged_increment() {
    let module = reference_rust();
    assert!(
        module.is_file(),
        "{} is missing: run `just build-guests`",
        module.display()
    );
    let (kills, seed, mut rng) = support::crash_plan();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("polyplug.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins.counter]\nwasm = {:?}\nkv = \"default\"\n",
            module.display().to_string()
        ),
    )
    .unwrap();
    let counters = Arc::new(Mutex::new([Counter::default(); CLIENTS]));
    let acknowledged = Arc::new(AtomicU64::new(0));

    for kill in 0..kills {
        let server = Server::start(&config, &[], false);
        // What the store holds now: read with an increment by 0.
        for (client, counter) in counters.lock().unwrap().iter_mut().enumerate() {
            let stored = tally(&server, client, 0).expect("the restarted server answers");
            let committed_in_flight = counter.in_flight && stored == counter.acknowledged + 1;
            assert!(
                stored == counter.acknowledged || committed_in_flight,
                "kill {kill} (seed {seed}): counter {client} holds {stored}; \
                 the last acknowledged increment made it {}{}",
                counter.acknowledged,
                if counter.in_flight {
                    " and one more was in flight"
                } else {
                    ""
                }
            );
            *counter = Counter {
                acknowledged: stored,
                in_flight: false,
            };
        }
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (counters, acknowledged, addr) =
                    (counters.clone(), acknowledged.clone(), server.addr);
                std::thread::spawn(move || {
                    increment_until_killed(addr, client, &counters, &acknowledged)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.u64(20..300)));
        server.kill();
        for client in clients {
            client.join().unwrap();
        }
    }
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    eprintln!("{kills} kills, {acknowledged} increments acknowledged");
    assert!(
        acknowledged as usize > kills * CLIENTS,
        "the kills landed among acknowledged writes"
    );
}

/// `tally` of `by` on the client's counter, on a connection of its own;
/// the counter's new value.
fn tally(server: &Server, client: usize, by: i64) -> Option<i64> {
    let body = format!(r#"{{"key":"c{client}","by":{by}}}"#);
    let response = support::request(
        server.addr,
        "POST",
        "/v1/plugins/counter/tally",
        &[],
        body.as_bytes(),
    )?;
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()["value"].as_i64()
}

/// Increments the client's counter by 1 over a kept-alive connection, one
/// request at a time, until the server stops answering.
fn increment_until_killed(
    addr: std::net::SocketAddr,
    client: usize,
    counters: &Mutex<[Counter; CLIENTS]>,
    acknowledged: &AtomicU64,
) {
    let Ok(mut connection) = Connection::open(addr) else {
        return;
    };
    let body = format!(r#"{{"key":"c{client}","by":1}}"#);
    loop {
        counters.lock().unwrap()[client].in_flight = true;
        let path = "/v1/plugins/counter/tally";
        let Some(response) = connection.send("POST", path, &[], body.as_bytes(), false) else {
            return;
        };
        assert_eq!(response.status, 200, "{}", response.body);
        let value = response.json()["value"].as_i64().unwrap();
        let mut counters = counters.lock().unwrap();
        let counter = &mut counters[client];
        assert_eq!(
            value,
            counter.acknowledged + 1,
            "counter {client}: an increment answered a value it did not make"
        );
        *counter = Counter {
            acknowledged: value,
            in_flight: false,
        };
        acknowledged.fetch_add(1, Ordering::Relaxed);
    }
}
