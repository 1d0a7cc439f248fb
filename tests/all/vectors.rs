//! The shared test vectors (`tests/vectors/`, layout in docs/contract.md
//! section 6), run against every reference guest, and the checkout
//! pipeline's (`examples/pipelines/checkout/`, section 7), run across the
//! guests its steps name. Outputs must match byte for byte; errors must
//! carry the expected contract code.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use polyplug::{CallError, Host, HostPattern, PipelineError, StoreConfig};

use crate::support::{self, ASSEMBLYSCRIPT, GO, Guest, JS, RUST, TestServer};

/// One case: `<function>/<case>.input.json` and what it must produce.
struct Case {
    function: String,
    name: String,
    input: Vec<u8>,
    expected: Expected,
    config: BTreeMap<String, String>,
}

enum Expected {
    Output(Vec<u8>),
    ErrorCode(String),
}

fn vectors_dir() -> PathBuf {
    support::repo_root().join("tests/vectors")
}

fn read_config(path: &Path) -> Option<BTreeMap<String, String>> {
    let text = fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn strip_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    bytes
}

fn load_cases(base_url: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut functions: Vec<_> = fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    functions.sort();
    for dir in functions {
        let function = dir.file_name().unwrap().to_string_lossy().into_owned();
        let folder_config = read_config(&dir.join("config.json")).unwrap_or_default();
        let mut inputs: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.to_string_lossy().ends_with(".input.json"))
            .collect();
        inputs.sort();
        for input_path in inputs {
            let file = input_path.file_name().unwrap().to_string_lossy();
            let name = file.trim_end_matches(".input.json").to_string();
            let sibling = |suffix: &str| dir.join(format!("{name}.{suffix}"));
            let input = fs::read_to_string(&input_path)
                .unwrap()
                .replace("{{base}}", base_url);
            let expected = if let Ok(output) = fs::read(sibling("output.json")) {
                Expected::Output(strip_newline(output))
            } else {
                let error = fs::read_to_string(sibling("error.json")).unwrap_or_else(|_| {
                    panic!("{function}/{name} has neither .output.json nor .error.json")
                });
                let error: serde_json::Value = serde_json::from_str(&error).unwrap();
                Expected::ErrorCode(error["code"].as_str().expect("a code").to_string())
            };
            cases.push(Case {
                config: read_config(&sibling("config.json")).unwrap_or(folder_config.clone()),
                function: function.clone(),
                name,
                input: strip_newline(input.into_bytes()),
                expected,
            });
        }
    }
    cases
}

/// Runs every case against `guest` and fails listing every mismatch.
async fn run_all(guest: Guest) {
    let server = TestServer::vectors();
    let cases = load_cases(&server.base);
    assert!(cases.len() > 40, "only {} vector cases found", cases.len());
    // One host per distinct plugin config, as a deployment would have.
    let mut hosts: BTreeMap<String, Host> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let key = serde_json::to_string(&case.config).unwrap();
        let host = hosts.entry(key).or_insert_with(|| {
            let mut plugin = guest.plugin();
            plugin.config = case.config.clone();
            plugin.allowed_hosts = vec![HostPattern::parse(server.authority()).unwrap()];
            support::host_with("guest", plugin)
        });
        let result = host
            .call_json("guest", &case.function, case.input.clone())
            .await;
        let problem = match (&case.expected, result) {
            (Expected::Output(want), Ok(got)) if *want == got => continue,
            (Expected::Output(want), Ok(got)) => format!(
                "output differs\n      want {}\n      got  {}",
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(&got)
            ),
            (Expected::ErrorCode(want), Err(CallError::Plugin { code, .. })) if *want == code => {
                continue;
            }
            (Expected::ErrorCode(want), Ok(got)) => format!(
                "expected error `{want}`, got output {}",
                String::from_utf8_lossy(&got)
            ),
            (_, Err(err)) => format!("unexpected error: {err}"),
        };
        failures.push(format!("  {}/{}: {problem}", case.function, case.name));
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed for the {} guest:\n{}",
        failures.len(),
        cases.len(),
        guest.language,
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_guest_passes_every_vector() {
    run_all(RUST).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn go_guest_passes_every_vector() {
    run_all(GO).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn assemblyscript_guest_passes_every_vector() {
    run_all(ASSEMBLYSCRIPT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn js_guest_passes_every_vector() {
    run_all(JS).await;
}

/// The checkout pipeline's vectors (docs/contract.md, section 7), run as
/// `examples/polyplug.toml` declares the pipeline, through
/// `Host::call_pipeline`: a failure must come from the expected step.
#[tokio::test(flavor = "multi_thread")]
async fn checkout_pipeline_passes_its_vectors() {
    let dir = support::repo_root().join("examples/pipelines/checkout");
    let state = tempfile::tempdir().unwrap();
    let config = support::example_config(StoreConfig::embedded(state.path().join("kv.redb")));
    let host = tokio::task::spawn_blocking(move || Host::new(config))
        .await
        .unwrap()
        .expect("examples/polyplug.toml loads (run `just build-guests`)");
    assert_eq!(host.pipelines()["checkout"].steps.len(), 4);

    let mut inputs: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".input.json"))
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 5,
        "only {} pipeline cases found",
        inputs.len()
    );
    let mut failures = Vec::new();
    for input_path in inputs {
        let file = input_path.file_name().unwrap().to_string_lossy();
        let name = file.trim_end_matches(".input.json").to_string();
        let input = strip_newline(fs::read(&input_path).unwrap());
        let (document, failed) = match host.call_pipeline("checkout", input).await {
            Ok(output) => (output, None),
            Err(PipelineError::Step {
                index,
                function,
                source,
                ..
            }) => {
                let failure = match *source {
                    CallError::Plugin { code, .. } => {
                        serde_json::json!({"step": index, "function": function, "code": code})
                    }
                    other => serde_json::json!({"step": index, "error": other.to_string()}),
                };
                (Vec::new(), Some(failure))
            }
            Err(other) => (
                Vec::new(),
                Some(serde_json::json!({"error": other.to_string()})),
            ),
        };
        let expected_output = fs::read(dir.join(format!("{name}.output.json"))).map(strip_newline);
        let problem = match (expected_output, failed) {
            (Ok(want), None) if want == document => continue,
            (Ok(want), None) => format!(
                "output differs\n      want {}\n      got  {}",
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&document)
            ),
            (Ok(_), Some(error)) => format!("expected an output, got {error}"),
            (Err(_), got) => {
                let want: serde_json::Value = serde_json::from_slice(
                    &fs::read(dir.join(format!("{name}.error.json"))).unwrap_or_else(|_| {
                        panic!("{name} has neither .output.json nor .error.json")
                    }),
                )
                .unwrap();
                match got {
                    Some(got) if got == want => continue,
                    Some(got) => format!("expected failure {want}, got {got}"),
                    None => format!(
                        "expected failure {want}, got output {}",
                        String::from_utf8_lossy(&document)
                    ),
                }
            }
        };
        failures.push(format!("  checkout/{name}: {problem}"));
    }
    assert!(
        failures.is_empty(),
        "checkout pipeline vectors failed:\n{}",
        failures.join("\n")
    );
}
