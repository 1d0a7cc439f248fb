//! Reload under load: 16 kept-alive connections call a plugin while its
//! version is swapped between two builds that answer differently, 100
//! times by rewriting its file under `--watch` and 100 times through the
//! admin API. Every response must be a correct answer of one of the two
//! builds: no error, no dropped connection. A slow call started on the
//! old build during a swap finishes with the old build's answer.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::{Connection, Server, module};

const CONNECTIONS: usize = 16;
const SWAPS: usize = 100;
const A: &str = "\"A\"";
const B: &str = "\"B\"";

fn build(answer: &str) -> Vec<u8> {
    module(answer, Duration::from_millis(300), b"")
}

/// Writes the module file as a build tool does: a temporary file renamed
/// over it.
fn save(dir: &Path, bytes: &[u8]) {
    let temporary = dir.join("p.wasm.tmp");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(temporary, dir.join("p.wasm")).unwrap();
}

/// What the callers saw.
#[derive(Default)]
struct Tally {
    answers: AtomicU64,
    wrong: AtomicU64,
    dropped: AtomicU64,
}

#[test]
fn swapping_versions_under_load_loses_no_call_and_no_connection() {
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &build(A));
    std::fs::write(
        dir.path().join("polyplug.toml"),
        "[plugins.p]\nwasm = \"p.wasm\"\nwasi = true\ninstances = 4\ntimeout = \"5s\"\nqueue_timeout = \"5s\"\n",
    )
    .unwrap();
    let server = Server::start(&dir.path().join("polyplug.toml"), &["--watch"], true);

    let (stop, tally) = (Arc::new(AtomicBool::new(false)), Arc::new(Tally::default()));
    let callers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (stop, tally, addr) = (stop.clone(), tally.clone(), server.addr);
            std::thread::spawn(move || {
                let mut connection = Connection::open(addr).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    match connection.send("POST", "/v1/plugins/p/answer", &[], b"{}", false) {
                        None => {
                            tally.dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        Some(r) if r.status == 200 && (r.body == A || r.body == B) => {
                            tally.answers.fetch_add(1, Ordering::Relaxed)
                        }
                        Some(r) => {
                            eprintln!("wrong answer: {} {}", r.status, r.body);
                            tally.wrong.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();

    // A slow call on A while the file swaps to B ends with A's answer.
    let slow = std::thread::spawn({
        let addr = server.addr;
        move || support::request(addr, "POST", "/v1/plugins/p/slow", &[], b"{}")
    });
    std::thread::sleep(Duration::from_millis(50));
    save(dir.path(), &build(B));
    server.wait_for(|| server.call("p", "answer").as_deref() == Some(B));
    let slow = slow.join().unwrap().expect("the slow call answered");
    assert_eq!(
        (slow.status, slow.body.as_str()),
        (200, A),
        "the old build answered it"
    );

    // The file, rewritten under --watch.
    for swap in 0..SWAPS {
        let (bytes, answer) = if swap % 2 == 0 {
            (build(A), A)
        } else {
            (build(B), B)
        };
        save(dir.path(), &bytes);
        server.wait_for(|| server.call("p", "answer").as_deref() == Some(answer));
    }

    // The admin API: both builds uploaded, then activated in turn, each
    // activation naming the version it replaces.
    let upload = |bytes: &[u8]| {
        let r = server.admin("POST", "/admin/plugins/p/versions", &[], bytes);
        assert!(r.status < 300, "{}", r.body);
        r.json()["sha256"].as_str().unwrap().to_string()
    };
    let (a, b) = (upload(&build(A)), upload(&build(B)));
    let mut current = server
        .admin("GET", "/admin/plugins/p/versions", &[], b"")
        .json()["active"]
        .as_str()
        .map(str::to_string);
    for swap in 0..SWAPS {
        let (next, answer) = if swap % 2 == 0 { (&a, A) } else { (&b, B) };
        let body = serde_json::json!({"sha256": next, "expected_current": current});
        let r = server.admin(
            "PUT",
            "/admin/plugins/p/active",
            &[],
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "swap {swap}: {}", r.body);
        assert_eq!(server.call("p", "answer").as_deref(), Some(answer));
        current = Some(next.clone());
    }

    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().unwrap();
    }
    let (answers, wrong, dropped) = (
        tally.answers.load(Ordering::Relaxed),
        tally.wrong.load(Ordering::Relaxed),
        tally.dropped.load(Ordering::Relaxed),
    );
    eprintln!("{answers} correct answers across {} swaps", 2 * SWAPS + 1);
    assert_eq!((wrong, dropped), (0, 0), "{answers} answered correctly");
    assert!(answers > 1000, "the load kept going: {answers}");
}
