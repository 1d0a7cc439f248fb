//! Pipelines: each step's output is the next step's input; a failing step
//! is named with its own error; the whole run has a timeout; a run uses
//! one snapshot of plugin generations, whatever a reload does meanwhile.

use std::collections::BTreeMap;
use std::time::Duration;

use polyplug::{
    CallError, Host, HostConfig, LoadError, PipelineConfig, PipelineError, PipelineStep,
    PluginConfig,
};

use crate::support::{clock_plugin, http, module_with_error, module_with_output, wat_plugin};

/// `wrap` answers `[<input>]`: its input wrapped in a JSON array.
fn wrapper() -> PluginConfig {
    wat_plugin(
        r#"(module
          (import "extism:host/env" "input_length" (func $input_length (result i64)))
          (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
          (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
          (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
          (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
          (func (export "wrap") (result i32)
            (local $len i64) (local $p i64) (local $i i64)
            (local.set $len (call $input_length))
            (local.set $p (call $alloc (i64.add (local.get $len) (i64.const 2))))
            (call $store_u8 (local.get $p) (i32.const 91))
            (block $done (loop $copy
              (br_if $done (i64.ge_u (local.get $i) (local.get $len)))
              (call $store_u8
                (i64.add (local.get $p) (i64.add (local.get $i) (i64.const 1)))
                (call $input_load_u8 (local.get $i)))
              (local.set $i (i64.add (local.get $i) (i64.const 1)))
              (br $copy)))
            (call $store_u8 (i64.add (local.get $p) (i64.add (local.get $len) (i64.const 1))) (i32.const 93))
            (call $output_set (local.get $p) (i64.add (local.get $len) (i64.const 2)))
            (i32.const 0)))"#,
    )
}

fn step(plugin: &str, function: &str) -> PipelineStep {
    PipelineStep::new(plugin, function)
}

/// A host with `plugins` and one pipeline `p` of `steps`.
fn host(
    plugins: Vec<(&str, PluginConfig)>,
    steps: Vec<PipelineStep>,
    timeout: Duration,
) -> Result<Host, LoadError> {
    let mut config = HostConfig::new(plugins.into_iter().map(|(n, p)| (n.to_string(), p)));
    config.pipelines = BTreeMap::from([("p".to_string(), PipelineConfig::new(steps, timeout))]);
    Host::new(config)
}

fn failing() -> PluginConfig {
    wat_plugin(&module_with_error(
        "check",
        br#"{"code":"out_of_stock","message":"sku RUN-42 is out of stock"}"#,
    ))
}

#[tokio::test]
async fn each_steps_output_is_the_next_steps_input() {
    let steps = vec![step("w", "wrap"), step("w", "wrap"), step("w", "wrap")];
    let host = host(vec![("w", wrapper())], steps, Duration::from_secs(5)).unwrap();

    assert_eq!(host.call_pipeline("p", "1").await.unwrap(), b"[[[1]]]");

    let run = host.call_pipeline_traced("p", r#"{"a":1}"#).await.unwrap();
    let outputs: Vec<_> = run
        .trace
        .iter()
        .map(|s| String::from_utf8_lossy(&s.output).into_owned())
        .collect();
    assert_eq!(
        outputs,
        [r#"[{"a":1}]"#, r#"[[{"a":1}]]"#, r#"[[[{"a":1}]]]"#]
    );
    assert_eq!(run.output, br#"[[[{"a":1}]]]"#);
}

#[tokio::test]
async fn a_failing_step_is_named_with_its_own_error() {
    let steps = vec![step("w", "wrap"), step("f", "check"), step("w", "wrap")];
    let host = host(
        vec![("w", wrapper()), ("f", failing())],
        steps,
        Duration::from_secs(5),
    )
    .unwrap();

    let err = host.call_pipeline("p", "{}").await.unwrap_err();

    match &err {
        PipelineError::Step {
            index: 1,
            plugin,
            function,
            source,
            ..
        } => {
            assert_eq!((plugin.as_str(), function.as_str()), ("f", "check"));
            assert!(
                matches!(&**source, CallError::Plugin { code, .. } if code == "out_of_stock"),
                "{source}"
            );
        }
        other => panic!("expected step 1 to fail, got {other}"),
    }
    assert_eq!(err.kind(), "plugin_error");
    let metrics = &host.pipeline_metrics()[0];
    assert_eq!(metrics.step_failures[1].2, 1);
    assert_eq!(metrics.succeeded, 0);
}

#[tokio::test]
async fn input_that_breaks_the_contract_fails_the_first_step() {
    let host = host(
        vec![("w", wrapper())],
        vec![step("w", "wrap")],
        Duration::from_secs(5),
    )
    .unwrap();
    let err = host
        .call_pipeline("p", r#"{"a":1,"a":2}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PipelineError::Step { index: 0, source, .. } if matches!(**source, CallError::InvalidInput { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_pipeline_is_its_own_error() {
    let host = host(
        vec![("w", wrapper())],
        vec![step("w", "wrap")],
        Duration::from_secs(5),
    )
    .unwrap();
    let err = host.call_pipeline("nope", "{}").await.unwrap_err();
    assert!(
        matches!(err, PipelineError::UnknownPipeline { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_run_stops_at_the_pipelines_timeout() {
    let mut slow = clock_plugin(Duration::from_millis(300));
    slow.limits.timeout = Duration::from_secs(5);
    let steps = vec![step("s", "wait"), step("s", "wait"), step("s", "wait")];
    let host = host(vec![("s", slow)], steps, Duration::from_millis(450)).unwrap();

    let started = std::time::Instant::now();
    let err = host.call_pipeline("p", "{}").await.unwrap_err();

    assert!(
        matches!(err, PipelineError::Timeout { index: 1, .. }),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_finishes_on_the_generations_it_started_with() {
    let mut slow = clock_plugin(Duration::from_millis(300));
    slow.limits.timeout = Duration::from_secs(5);
    let v1 = wat_plugin(&module_with_output("answer", b"1"));
    let steps = vec![step("s", "wait"), step("v", "answer")];
    let host = host(vec![("s", slow), ("v", v1)], steps, Duration::from_secs(5)).unwrap();

    let running = tokio::spawn({
        let host = host.clone();
        async move { host.call_pipeline("p", "{}").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let replacing = host.clone();
    tokio::task::spawn_blocking(move || {
        replacing.replace("v", wat_plugin(&module_with_output("answer", b"2")))
    })
    .await
    .unwrap()
    .unwrap();

    assert_eq!(
        running.await.unwrap().unwrap(),
        b"1",
        "the run's snapshot had v1"
    );
    assert_eq!(host.call_pipeline("p", "{}").await.unwrap(), b"2");
}

#[test]
fn a_step_naming_a_function_the_plugin_lacks_fails_the_load() {
    let err = host(
        vec![("w", wrapper())],
        vec![step("w", "wrap"), step("w", "unwrap")],
        Duration::from_secs(1),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(&err, LoadError::PipelineStep { index: 1, function, .. } if function == "unwrap"),
        "{err}"
    );
}

#[test]
fn the_config_file_checks_pipelines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.wat"), module_with_output("answer", b"1")).unwrap();
    let file = dir.path().join("polyplug.toml");
    let plugin = "[plugins.w]\nwasm = \"w.wat\"\ntimeout = \"300ms\"\n";
    let steps = |n: usize| vec!["{ plugin = \"w\", function = \"answer\" }"; n].join(", ");
    let load = |pipeline: String| HostConfig::from_text(&file, &format!("{plugin}{pipeline}"));

    let config = load(format!("[pipelines.p]\nsteps = [{}]\n", steps(3))).unwrap();
    assert_eq!(
        config.pipelines["p"].timeout,
        Duration::from_millis(900),
        "the sum of the steps'"
    );
    for (pipeline, key) in [
        (
            format!("[pipelines.p]\nsteps = [{}]\n", steps(17)),
            "pipelines.p.steps",
        ),
        (
            "[pipelines.p]\nsteps = []\n".to_string(),
            "pipelines.p.steps",
        ),
        (
            "[pipelines.p]\nsteps = [{ plugin = \"x\", function = \"answer\" }]\n".to_string(),
            "pipelines.p.steps[0].plugin",
        ),
        (
            format!("[pipelines.P]\nsteps = [{}]\n", steps(1)),
            "pipelines.P",
        ),
    ] {
        let err = load(pipeline).unwrap_err();
        assert!(
            matches!(&err, LoadError::InvalidValue { key: k, .. } if k == key),
            "{key}: {err}"
        );
    }
}

#[tokio::test]
async fn a_reload_that_breaks_a_pipeline_keeps_its_previous_definition() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.wat"), module_with_output("answer", b"1")).unwrap();
    let file = dir.path().join("polyplug.toml");
    let write = |function: &str| {
        let text = format!(
            "[plugins.w]\nwasm = \"w.wat\"\n[pipelines.p]\nsteps = [{{ plugin = \"w\", function = \"{function}\" }}]\n"
        );
        std::fs::write(&file, text).unwrap();
    };
    write("answer");
    let host = Host::from_config_file(&file).unwrap();

    write("missing");
    let reload = host.reload().unwrap();

    assert!(!reload.is_success());
    assert!(matches!(
        reload.pipeline_errors["p"],
        LoadError::PipelineStep { .. }
    ));
    assert_eq!(host.call_pipeline("p", "{}").await.unwrap(), b"1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_runs_pipelines_names_the_failing_step_and_traces() {
    let mut config = HostConfig::new([("w".to_string(), wrapper()), ("f".to_string(), failing())]);
    config.pipelines = BTreeMap::from([
        (
            "good".to_string(),
            PipelineConfig::new(
                vec![step("w", "wrap"), step("w", "wrap")],
                Duration::from_secs(5),
            ),
        ),
        (
            "bad".to_string(),
            PipelineConfig::new(
                vec![step("w", "wrap"), step("f", "check")],
                Duration::from_secs(5),
            ),
        ),
    ]);
    let host = std::sync::Arc::new(Host::new(config).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_config = polyplug::ServerConfig::default();
    tokio::spawn(async move {
        polyplug_server::serve(host, listener, &server_config, std::future::pending()).await
    });

    let good = http(addr, "POST", "/v1/pipelines/good", b"7").await;
    assert_eq!((good.status, good.text().as_str()), (200, "[[7]]"));
    let traced = http(addr, "POST", "/v1/pipelines/good?trace=true", b"7")
        .await
        .json();
    assert_eq!(traced["output"], serde_json::json!([[7]]));
    assert_eq!(traced["trace"][0]["output"], serde_json::json!([7]));

    let bad = http(addr, "POST", "/v1/pipelines/bad", b"7").await;
    assert_eq!(bad.status, 422, "the failing step's status");
    let error = &bad.json()["error"];
    assert_eq!(error["code"], "out_of_stock");
    assert_eq!(
        error["step"],
        serde_json::json!({"index": 1, "plugin": "f", "function": "check"})
    );

    let missing = http(addr, "POST", "/v1/pipelines/nope", b"7").await;
    assert_eq!(
        (missing.status, missing.json()["error"]["kind"].as_str()),
        (404, Some("unknown_pipeline"))
    );

    let metrics = http(addr, "GET", "/metrics", b"").await.text();
    for line in [
        r#"polyplug_pipeline_runs_total{pipeline="good",result="ok"} 2"#,
        r#"polyplug_pipeline_step_failures_total{pipeline="bad",step="1",plugin="f",function="check"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }
}
