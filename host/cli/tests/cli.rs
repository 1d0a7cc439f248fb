//! The `polyplug` binary: exit codes, one-line typed errors, input sources,
//! and environment overrides. Needs the guests (`just build-guests`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

mod support;

fn example_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/polyplug.toml")
}

fn polyplug(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_polyplug"));
    command
        .arg("--config")
        .arg(example_config())
        .args(args)
        .env(support::EXAMPLE_STORE, support::private_store());
    command
}

fn run(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("polyplug starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn call_prints_the_plugin_output() {
    let out = run(
        &mut polyplug(&["call", "reference_rust", "greet", r#"{"name":"Ada"}"#]),
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"greeting\":\"Hello, Ada!\"}\n");
}

/// `examples/polyplug.toml` shares one namespace between the reference
/// plugins, and the store outlives the process: a counter bumped from Go
/// in one `polyplug call` is read from JavaScript in the next.
#[test]
fn a_counter_bumped_from_go_is_read_from_javascript_in_the_next_process() {
    let store = support::private_store();
    let tally = |plugin: &str, by: u32| {
        let input = format!(r#"{{"key":"visits","by":{by}}}"#);
        let mut command = polyplug(&["call", plugin, "tally", &input]);
        run(command.env(support::EXAMPLE_STORE, &store), b"")
    };
    let out = tally("reference_go", 3);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"key\":\"visits\",\"value\":3}\n");
    let out = tally("reference_js", 0);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"key\":\"visits\",\"value\":3}\n");
    let out = run(
        &mut polyplug(&[
            "call",
            "reference_js",
            "tally",
            r#"{"key":"visits","by":0}"#,
        ]),
        b"",
    );
    assert_eq!(
        stdout(&out),
        "{\"key\":\"visits\",\"value\":0}\n",
        "another store file holds another counter: {}",
        stderr(&out)
    );
}

#[test]
fn call_reads_standard_input_and_input_files() {
    let out = run(
        &mut polyplug(&["call", "reference_rust", "greet"]),
        br#"{"name":"stdin"}"#,
    );
    assert_eq!(
        stdout(&out),
        "{\"greeting\":\"Hello, stdin!\"}\n",
        "{}",
        stderr(&out)
    );

    let file = std::env::temp_dir().join(format!("polyplug-cli-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"name":"file"}"#).unwrap();
    let out = run(
        polyplug(&["call", "reference_rust", "greet", "--input-file"]).arg(&file),
        b"",
    );
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        stdout(&out),
        "{\"greeting\":\"Hello, file!\"}\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_json_input_is_a_one_line_typed_error() {
    let out = run(
        &mut polyplug(&["call", "reference_rust", "greet", "{\"name\":"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "error[invalid_input]: plugin `reference_rust`: input to `greet` was rejected: not JSON"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_plugin_error_carries_its_code() {
    let out = run(
        &mut polyplug(&["call", "reference_go", "greet", r#"{"name":7}"#]),
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error[plugin_error]: plugin `reference_go`: function `greet` failed with `invalid_input`"), "{}", stderr(&out));
}

#[test]
fn a_missing_plugin_is_named() {
    let out = run(&mut polyplug(&["call", "nope", "greet", "{}"]), b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error[unknown_plugin]: no plugin named `nope` is loaded\n"
    );
}

#[test]
fn a_bad_config_exits_with_3_and_names_the_file() {
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_polyplug")).args([
            "--config",
            "does-not-exist.toml",
            "check",
        ]),
        b"",
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).starts_with("error: cannot read config file `does-not-exist.toml`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn environment_variables_override_config_keys() {
    let out = run(
        polyplug(&["check"]).env("POLYPLUG__PLUGINS__DISCOUNTS__TIMEOUT", "750ms"),
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("discounts "))
        .map(str::to_string);
    assert!(
        line.as_deref().is_some_and(|l| l.contains("750ms")),
        "{}",
        stdout(&out)
    );

    let out = run(
        polyplug(&["check"]).env("POLYPLUG__PLUGINS__DISCOUNTS__MEMORY", "lots"),
        b"",
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("`plugins.discounts.memory` = `lots` (from environment variable `POLYPLUG__PLUGINS__DISCOUNTS__MEMORY`)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plugin_log_lines_reach_the_host_log_tagged_with_the_plugin_name() {
    let wasm = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/guests/js-tests/features.wasm")
        .canonicalize()
        .expect("the JS test plugins are built: run `just build-guests`");
    let dir = std::env::temp_dir().join(format!("polyplug-cli-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("polyplug.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins.chatty]\nwasm = {:?}\nwasi = true\n",
            wasm.display().to_string()
        ),
    )
    .unwrap();
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_polyplug"))
            .arg("--config")
            .arg(&config)
            .args(["call", "chatty", "logs", r#"{"text":"ünï"}"#]),
        b"",
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    for (level, line) in [
        ("INFO", r#"console.log says ünï {"n":1}"#),
        ("WARN", "console.warn says ünï"),
        ("ERROR", "console.error says ünï"),
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(level) && l.contains("plugin=chatty") && l.contains(line)),
            "no {level} line with `plugin=chatty` and `{line}` in:\n{log}"
        );
    }
}

#[test]
fn call_runs_a_pipeline_and_names_a_failing_step() {
    let cases = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipelines/checkout");
    let read = |name: &str| std::fs::read_to_string(cases.join(name)).unwrap();
    let out = run(
        &mut polyplug(&["call", "--pipeline", "checkout"]),
        read("shop_front_cart.input.json").as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim_end(),
        read("shop_front_cart.output.json").trim_end()
    );

    let input = read("price_conflict_stops_normalize_cart.input.json");
    let out = run(
        &mut polyplug(&["call", "--pipeline", "checkout", input.trim_end()]),
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error[plugin_error]: pipeline `checkout`: step 0 "),
        "{err}"
    );
    assert!(err.contains("`price_conflict`"), "{err}");

    let out = run(
        &mut polyplug(&["call", "--pipeline", "checkout", "greet", "{}"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
