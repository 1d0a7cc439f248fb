//! `polyplug dev`: builds, loads and tests a project, then again on every
//! save, printing only the cases whose result changed. The project here
//! "builds" by copying a module from `src/` to where its config loads it.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::module;

/// Copies the module into place, unless `src/BROKEN` exists.
const BUILD: &str = "test ! -e src/BROKEN || { echo 'error: src/BROKEN is here' >&2; exit 1; }; \
                     cp src/answer.bin plugin.wasm";

/// A project whose plugin `p` answers `answer` with `json`, and two cases
/// that expect `"first"`.
fn project(json: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, bytes: &[u8]| {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("src/answer.bin", &module(json, Duration::ZERO, b""));
    write(
        "polyplug.toml",
        b"[plugins.p]\nwasm = \"plugin.wasm\"\nwasi = true\n",
    );
    for case in ["one", "two"] {
        write(&format!("tests/vectors/answer/{case}.input.json"), b"{}");
        write(
            &format!("tests/vectors/answer/{case}.output.json"),
            b"\"first\"",
        );
    }
    dir
}

/// `polyplug dev` running in a project, its output read line by line.
struct Dev {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Dev {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_polyplug"))
            .current_dir(dir)
            .args(["dev", "--build", BUILD])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("polyplug runs");
        let (send, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The lines of one round, up to its last (`built in ...` or
    /// `build FAILED ...`, which starts a block of its own).
    fn round(&self) -> Vec<String> {
        let mut round = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no end of round; so far: {round:#?}"));
            let last = line.starts_with("built in ") || line.starts_with("build FAILED");
            round.push(line);
            if last {
                return round;
            }
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mentions(round: &[String], case: &str) -> Vec<String> {
    round
        .iter()
        .filter(|line| line.contains(case))
        .cloned()
        .collect()
}

#[test]
fn each_save_rebuilds_and_reruns_and_prints_only_what_changed() {
    let dir = project("\"first\"");
    let dev = Dev::start(dir.path());

    let round = dev.round();
    assert!(
        round.last().unwrap().ends_with("2 passed, 0 failed"),
        "{round:#?}"
    );
    assert_eq!(mentions(&round, "answer/").len(), 2, "{round:#?}");
    // Wait for the watch to start before saving.
    let watching = dev.lines.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(watching.starts_with("watching "), "{watching}");

    // A changed expectation: only that case is printed.
    std::fs::write(
        dir.path().join("tests/vectors/answer/two.output.json"),
        b"\"second\"",
    )
    .unwrap();
    let round = dev.round();
    assert!(mentions(&round, "answer/one").is_empty(), "{round:#?}");
    assert!(
        mentions(&round, "answer/two")[0].starts_with("FAIL"),
        "{round:#?}"
    );
    assert!(
        round
            .last()
            .unwrap()
            .ends_with("1 passed, 1 failed; 1 changed"),
        "{round:#?}"
    );

    // A new build of the plugin: both cases turn.
    let second = module("\"second\"", Duration::ZERO, b"");
    std::fs::write(dir.path().join("src/answer.bin"), second).unwrap();
    let round = dev.round();
    assert!(
        mentions(&round, "answer/one")[0].starts_with("FAIL"),
        "{round:#?}"
    );
    assert!(
        mentions(&round, "answer/two")[0].starts_with("pass"),
        "{round:#?}"
    );
    assert!(round.last().unwrap().ends_with("2 changed"), "{round:#?}");

    // A failing build says so with its output, and tests nothing.
    std::fs::write(dir.path().join("src/BROKEN"), b"").unwrap();
    let round = dev.round();
    let failed = round.last().unwrap();
    assert!(failed.starts_with("build FAILED"), "{round:#?}");
    let output = dev.lines.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        output.contains("error: src/BROKEN is here") || failed.contains("src/BROKEN"),
        "{output}"
    );

    // Fixed: the results are those of before the failure.
    std::fs::remove_file(dir.path().join("src/BROKEN")).unwrap();
    let round = dev.round();
    assert!(
        round
            .last()
            .unwrap()
            .ends_with("1 passed, 1 failed; nothing changed"),
        "{round:#?}"
    );
}

#[test]
fn once_builds_tests_and_exits_with_the_test_status() {
    let dir = project("\"first\"");
    let once = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_polyplug"))
            .current_dir(dir)
            .args(["dev", "--once", "--build", BUILD])
            .output()
            .unwrap()
    };
    let out = once(dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::write(dir.path().join("src/BROKEN"), b"").unwrap();
    let out = once(dir.path());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("build FAILED"), "{stdout}");
    assert!(stdout.contains("src/BROKEN is here"), "{stdout}");
}

#[test]
fn without_a_justfile_or_build_command_it_says_what_to_give() {
    let dir = project("\"first\"");
    let out = Command::new(env!("CARGO_BIN_EXE_polyplug"))
        .current_dir(dir.path())
        .args(["dev", "--once"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--build"),
        "{out:?}"
    );
}
