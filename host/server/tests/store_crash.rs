//! The version store survives `kill -9` at any moment: a child process
//! (this test binary again, running [`child_writes_until_killed`] alone)
//! uploads, activates and rolls back without pause until it is sent
//! SIGKILL after a random delay; then the store must open, and every
//! record must name only modules that are all there.
//!
//! `POLYPLUG_KILLS=1000` runs more kills than the default 100;
//! `POLYPLUG_STORE_CRASH_SEED` replays a run's random choices (not its
//! timing), and a failure prints the seed it ran with.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use polyplug_server::admin::store::{Entry, Sha256, Store, StoreError};
use sha2::Digest as _;

/// Set in the child: the store folder it writes to.
const CHILD_ENV: &str = "POLYPLUG_STORE_CRASH_CHILD";
const SEED_ENV: &str = "POLYPLUG_STORE_CRASH_SEED";
const KILLS_ENV: &str = "POLYPLUG_KILLS";
const DEFAULT_KILLS: usize = 100;
/// A store takes this many kills before the next begins empty, which
/// keeps the modules each check hashes to a few dozen.
const KILLS_PER_STORE: usize = 10;
const PLUGINS: [&str; 3] = ["alpha", "beta", "gamma"];
const SIGKILL: i32 = 9;
/// How long the child may take to start and open the store.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn a_store_killed_at_any_moment_reopens_with_every_named_module_whole() {
    let kills = std::env::var(KILLS_ENV).map_or(DEFAULT_KILLS, |kills| {
        kills.parse().expect("POLYPLUG_KILLS is a number")
    });
    let seed = std::env::var(SEED_ENV).map_or_else(
        |_| fastrand::u64(..),
        |seed| seed.parse().expect("POLYPLUG_STORE_CRASH_SEED is a number"),
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut seen: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut writes_killed = 0;

    for kill in 0..kills {
        if kill % KILLS_PER_STORE == 0 {
            seen.clear();
        }
        let dir = root
            .path()
            .join(format!("store-{}", kill / KILLS_PER_STORE));
        let context = format!("kill {kill} of {kills}, {SEED_ENV}={seed}");
        let delay = Duration::from_micros(rng.u64(0..=50_000));
        run_child_and_kill(&dir, rng.u64(..), delay, &context);
        if has_temporary_files(&dir) {
            writes_killed += 1;
        }
        check_store(&dir, &mut seen, &context);
    }
    eprintln!(
        "{kills} kills ({writes_killed} in the middle of writing a file) in {:.1}s, {SEED_ENV}={seed}",
        started.elapsed().as_secs_f64()
    );
}

/// Starts the child on `dir`, waits until it has opened the store, lets it
/// write for `delay`, and kills it.
fn run_child_and_kill(dir: &Path, seed: u64, delay: Duration, context: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_writes_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .env(SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The harness prints the test's name before the child's `ready`, on
    // the same line.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (ready, opened) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = stdout.lines().map_while(Result::ok);
        if lines.any(|line| line.ends_with("ready")) {
            let _ = ready.send(());
        }
    });
    let ready = opened.recv_timeout(READY_TIMEOUT).is_ok();
    if ready {
        std::thread::sleep(delay);
    }
    // SIGKILL on unix; an error means it had exited already.
    let _ = child.kill();
    let status = child.wait().unwrap();
    if !ready || status.signal() != Some(SIGKILL) {
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        panic!(
            "{context}: the child did not write until killed (ready: {ready}, {status}):\n{stderr}"
        );
    }
}

/// The invariants a killed store keeps.
fn check_store(dir: &Path, seen: &mut BTreeMap<String, Vec<Entry>>, context: &str) {
    let store = Store::open(dir).unwrap_or_else(|err| panic!("{context}: open failed: {err}"));
    assert!(
        !has_temporary_files(dir),
        "{context}: open left temporary files"
    );
    for plugin in PLUGINS {
        let record = store
            .record(plugin)
            .unwrap_or_else(|err| panic!("{context}: the record of `{plugin}`: {err}"));
        let named = record
            .versions
            .iter()
            .map(|entry| &entry.sha256)
            .chain(&record.active)
            .chain(&record.history);
        for sha256 in named {
            check_module(&store.module_path(sha256), sha256, context);
        }
        // A put only appends a version: a crash may lose the one being
        // added, never one a finished put recorded.
        let before = seen.entry(plugin.to_string()).or_default();
        assert!(
            record.versions.starts_with(before),
            "{context}: `{plugin}` lost versions: had {before:?}, now {:?}",
            record.versions
        );
        *before = record.versions;
    }
    store
        .verify()
        .unwrap_or_else(|err| panic!("{context}: verify failed: {err}"));
}

/// The module file is there and its bytes hash to its name, checked here
/// without the store's code.
fn check_module(path: &Path, sha256: &Sha256, context: &str) {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|err| panic!("{context}: module `{}`: {err}", path.display()));
    let actual: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        actual,
        sha256.as_str(),
        "{context}: module `{}` does not hash to its name",
        path.display()
    );
}

fn has_temporary_files(dir: &Path) -> bool {
    ["modules", "plugins"]
        .iter()
        .flat_map(|folder| files(&dir.join(folder)))
        .any(|name| name.starts_with('.'))
}

fn files(folder: &Path) -> Vec<String> {
    match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The child: uploads modules of a few KB to a few MB (now and then bytes
/// it uploaded before, with a new signature), activates and rolls back, in
/// a loop that only SIGKILL ends.
#[test]
#[ignore = "runs in a child process, started by `a_store_killed_at_any_moment_reopens_with_every_named_module_whole`"]
fn child_writes_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let seed = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let store = Store::open(&dir).unwrap();
    println!("ready");
    let mut uploaded: Vec<(u64, usize)> = Vec::new();
    loop {
        let plugin = PLUGINS[rng.usize(..PLUGINS.len())];
        match rng.u8(..10) {
            0..=4 => {
                let (content, size) = match rng.usize(..5) {
                    0 if !uploaded.is_empty() => uploaded[rng.usize(..uploaded.len())],
                    _ => {
                        let bits = rng.u32(11..22);
                        (rng.u64(..), rng.usize(1 << bits..2 << bits))
                    }
                };
                uploaded.push((content, size));
                let mut module = vec![0; size];
                fastrand::Rng::with_seed(content).fill(&mut module);
                let signature = rng
                    .bool()
                    .then(|| format!("untrusted comment: {}", rng.u64(..)));
                let version = rng.bool().then(|| format!("1.{}.0", rng.u16(..)));
                store
                    .put(plugin, &module, signature.as_deref(), version.as_deref())
                    .unwrap();
            }
            5..=7 => {
                let record = store.record(plugin).unwrap();
                if record.versions.is_empty() {
                    continue;
                }
                let sha256 = &record.versions[rng.usize(..record.versions.len())].sha256;
                let expected = rng.bool().then_some(record.active.as_ref()).flatten();
                store.activate(plugin, sha256, expected).unwrap();
            }
            _ => match store.rollback(plugin, None) {
                Ok(_) | Err(StoreError::NoPrevious { .. }) => {}
                Err(err) => panic!("{err}"),
            },
        }
    }
}
