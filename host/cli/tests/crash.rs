//! `kill -9` during uploads and activations: after each kill, `polyplug
//! serve` comes back serving either the version active before the
//! activation that was running or the one it was activating, whole.
//! `POLYPLUG_KILLS` sets how many kills (default 50);
//! `POLYPLUG_CRASH_SEED` replays a run's choices (not its timing).

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use support::{Server, module};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the client knows when the server dies.
#[derive(Default)]
struct Known {
    /// Every module it sent, by sha256, with the answer it gives.
    answers: BTreeMap<String, String>,
    /// The version whose activation last answered 200.
    acknowledged: String,
    /// The version being activated when the server died, if any.
    in_flight: Option<String>,
    /// Activations that answered 200, over the whole run.
    activations: usize,
}

#[test]
fn a_kill_during_uploads_and_activations_leaves_the_old_or_the_new_version_whole() {
    let (kills, seed, mut rng) = support::crash_plan();

    let dir = tempfile::tempdir().unwrap();
    let first = module("\"first\"", Duration::ZERO, b"");
    std::fs::write(dir.path().join("p.wasm"), &first).unwrap();
    let config = dir.path().join("polyplug.toml");
    std::fs::write(&config, "[plugins.p]\nwasm = \"p.wasm\"\nwasi = true\n").unwrap();
    let known = Arc::new(Mutex::new(Known {
        answers: BTreeMap::from([(sha256(&first), "\"first\"".to_string())]),
        acknowledged: sha256(&first),
        in_flight: None,
        activations: 0,
    }));

    for kill in 0..kills {
        let server = Server::start(&config, &[], true);
        {
            let mut known = known.lock().unwrap();
            let plugins = support::request(server.addr, "GET", "/v1/plugins", &[], b"")
                .unwrap()
                .json();
            let live = plugins["plugins"][0]["sha256"]
                .as_str()
                .unwrap()
                .to_string();
            let allowed = [Some(&known.acknowledged), known.in_flight.as_ref()];
            assert!(
                allowed.contains(&Some(&live)),
                "kill {kill} (seed {seed}): serving {live}, neither the acknowledged {} nor the one in flight {:?}",
                known.acknowledged,
                known.in_flight
            );
            assert_eq!(
                server.call("p", "answer").as_ref(),
                known.answers.get(&live),
                "kill {kill} (seed {seed}): the live version answers as built"
            );
            known.acknowledged = live;
            known.in_flight = None;
        }
        let client = std::thread::spawn({
            let (known, admin) = (known.clone(), server.admin);
            let mut rng = fastrand::Rng::with_seed(rng.u64(..));
            move || upload_and_activate_until_killed(admin, &known, &mut rng)
        });
        std::thread::sleep(Duration::from_millis(rng.u64(0..300)));
        server.kill();
        client.join().unwrap();
    }
    let activations = known.lock().unwrap().activations;
    eprintln!("{kills} kills, {activations} activations acknowledged");
    assert!(
        activations > kills / 2,
        "the kills landed among activations"
    );
    // Every module the store keeps is whole: its bytes hash to its name.
    let modules = dir.path().join(".polyplug/store/modules");
    for file in std::fs::read_dir(&modules).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            assert_eq!(sha256(&std::fs::read(&path).unwrap()), name, "seed {seed}");
        }
    }
}

/// Uploads modules of random sizes and activates each, until the server
/// stops answering.
fn upload_and_activate_until_killed(
    admin: std::net::SocketAddr,
    known: &Mutex<Known>,
    rng: &mut fastrand::Rng,
) {
    let bearer = format!("Bearer {}", support::TOKEN);
    let auth = [("Authorization", bearer.as_str())];
    loop {
        let answer = format!("\"v{}\"", rng.u32(..));
        let padding: Vec<u8> = (0..rng.usize(0..2 << 20)).map(|_| rng.u8(..)).collect();
        let bytes = module(&answer, Duration::ZERO, &padding);
        let sha = sha256(&bytes);
        known.lock().unwrap().answers.insert(sha.clone(), answer);
        let Some(uploaded) =
            support::request(admin, "POST", "/admin/plugins/p/versions", &auth, &bytes)
        else {
            return;
        };
        assert!(uploaded.status < 300, "{}", uploaded.body);
        known.lock().unwrap().in_flight = Some(sha.clone());
        let body = format!("{{\"sha256\":\"{sha}\"}}");
        let Some(activated) = support::request(
            admin,
            "PUT",
            "/admin/plugins/p/active",
            &auth,
            body.as_bytes(),
        ) else {
            return;
        };
        assert_eq!(activated.status, 200, "{}", activated.body);
        let mut known = known.lock().unwrap();
        known.acknowledged = sha;
        known.in_flight = None;
        known.activations += 1;
    }
}
