//! `polyplug call --error-json` and `--stats`. Needs the guests (`just
//! build-guests`).

use std::path::PathBuf;
use std::process::{Command, Output};

mod support;

fn call(args: &[&str]) -> Output {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/polyplug.toml");
    Command::new(env!("CARGO_BIN_EXE_polyplug"))
        .arg("--config")
        .arg(config)
        .env(support::EXAMPLE_STORE, support::private_store())
        .arg("call")
        .args(args)
        .output()
        .expect("polyplug runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn error_json_prints_a_plugin_error_with_its_code_on_stdout() {
    let out = call(&["reference_go", "greet", r#"{"name":7}"#, "--error-json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", text(&out.stdout)));
    assert_eq!(error["kind"], "plugin_error");
    assert_eq!(error["code"], "invalid_input");
    assert_eq!(error["plugin"], "reference_go");
    assert_eq!(error["function"], "greet");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("plugin `reference_go`: function `greet` failed with `invalid_input`"),
        "{error}"
    );
    assert!(
        !text(&out.stderr).contains("error["),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn error_json_has_no_code_for_a_host_error() {
    let out = call(&["reference_rust", "greet", "{\"name\":", "--error-json"]);
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", text(&out.stdout)));
    assert_eq!(error["kind"], "invalid_input");
    assert!(error.get("code").is_none(), "{error}");
}

#[test]
fn stats_show_time_fuel_and_peak_memory_against_the_limits_on_stderr() {
    let out = call(&["reference_rust", "greet", r#"{"name":"Ada"}"#, "--stats"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "{\"greeting\":\"Hello, Ada!\"}\n");
    let stderr = text(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("stats: "))
        .unwrap_or_else(|| panic!("no stats line in:\n{stderr}"));
    assert!(line.contains("time ") && line.contains(" of 2s"), "{line}");
    assert!(
        line.contains("fuel ") && line.contains(" of 1000000000"),
        "{line}"
    );
    assert!(
        line.contains("peak memory ") && line.ends_with(" of 64MiB"),
        "{line}"
    );
}

#[test]
fn stats_are_shown_for_a_failed_call_too() {
    let out = call(&["reference_go", "greet", r#"{"name":7}"#, "--stats"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error[plugin_error]"), "{stderr}");
    assert!(
        stderr.lines().any(|l| l.starts_with("stats: time ")),
        "{stderr}"
    );
}
