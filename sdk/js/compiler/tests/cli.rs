//! `polyplug-js` as a user runs it: help on stdout, usage errors on stderr
//! with exit 2, and a build from any directory with the built-in core.

use std::path::PathBuf;
use std::process::{Command, Output};

fn polyplug_js(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyplug-js"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("polyplug-js runs")
}

/// A fresh folder outside the crate, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("polyplug-js-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn help_prints_usage_on_stdout_and_exits_zero() {
    let dir = std::env::temp_dir();
    for flag in ["--help", "-h", "help"] {
        let out = polyplug_js(&[flag], &dir);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.starts_with("usage: polyplug-js build"),
            "{flag}: {stdout}"
        );
        assert!(out.stderr.is_empty(), "{flag}: stderr not empty");
    }
}

#[test]
fn build_help_prints_usage_on_stdout() {
    let out = polyplug_js(&["build", "--help"], &std::env::temp_dir());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().contains("--core"));
}

#[test]
fn wrong_arguments_print_the_reason_and_usage_on_stderr_and_exit_two() {
    let dir = std::env::temp_dir();
    let cases: [(&[&str], &str); 5] = [
        (&[], "no command given"),
        (&["compile", "a.js"], "unknown command `compile`"),
        (&["build", "a.js"], "no output given"),
        (&["build", "-o", "a.wasm"], "no script given"),
        (
            &["build", "a.js", "b.js", "-o", "a.wasm"],
            "unexpected argument `b.js`",
        ),
    ];
    for (args, reason) in cases {
        let out = polyplug_js(args, &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: stdout not empty");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(
            stderr.contains("usage: polyplug-js build"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn builds_from_another_directory_with_the_core_inside_the_binary() {
    let scratch = Scratch::new("embedded-core");
    std::fs::write(
        scratch.0.join("plugin.js"),
        "export function greet() { return { greeting: 'hi' }; }\n",
    )
    .unwrap();
    let out = polyplug_js(&["build", "plugin.js", "-o", "plugin.wasm"], &scratch.0);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = std::fs::read(scratch.0.join("plugin.wasm")).unwrap();
    assert_eq!(&wasm[..4], b"\0asm");
}

#[test]
fn a_missing_core_override_names_the_file_and_exits_one() {
    let scratch = Scratch::new("missing-core");
    std::fs::write(
        scratch.0.join("p.js"),
        "export function f() { return 1; }\n",
    )
    .unwrap();
    let out = polyplug_js(
        &["build", "p.js", "-o", "p.wasm", "--core", "nowhere.wasm"],
        &scratch.0,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("reading the JS core `nowhere.wasm`"),
        "{stderr}"
    );
}
