//! `polyplug test`: vector folders run against a config's plugins, the
//! exit status, the diff of a wrong output, `--update`, and the `--json`
//! and `--junit` reports. Most cases use a small WAT plugin in a temporary
//! project; the last runs the project's own vectors against the reference
//! guests (`just build-guests`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

/// What the `shop` plugin's `quote` answers.
const QUOTE: &str = r#"{"total":5,"discounts":[{"amount":10},{"amount":5}]}"#;

/// `quote` writes [`QUOTE`]; `refuse` fails with the contract error
/// `out_of_stock`; `setting` writes the config value `answer`.
fn shop_module() -> String {
    let error = r#"{"code":"out_of_stock","message":"none left"}"#;
    let data = |at: usize, text: &str| {
        format!(
            "(data (i32.const {at}) \"{}\")",
            text.replace('\\', "\\\\").replace('"', "\\\"")
        )
    };
    format!(
        r#"(module
          (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
          (import "extism:host/env" "length" (func $length (param i64) (result i64)))
          (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
          (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
          (import "extism:host/env" "error_set" (func $error_set (param i64)))
          (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
          (memory (export "memory") 1)
          {quote}
          {error}
          {key}
          ;; A kernel block holding `len` bytes of linear memory at `at`.
          (func $block (param $at i32) (param $len i32) (result i64)
            (local $p i64) (local $i i32)
            (local.set $p (call $alloc (i64.extend_i32_u (local.get $len))))
            (block $done (loop $copy
              (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
              (call $store_u8
                (i64.add (local.get $p) (i64.extend_i32_u (local.get $i)))
                (i32.load8_u (i32.add (local.get $at) (local.get $i))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $copy)))
            (local.get $p))
          (func (export "quote") (result i32)
            (call $output_set (call $block (i32.const 0) (i32.const {quote_len})) (i64.const {quote_len}))
            (i32.const 0))
          (func (export "refuse") (result i32)
            (call $error_set (call $block (i32.const 1000) (i32.const {error_len})))
            (i32.const 1))
          (func (export "setting") (result i32)
            (local $value i64)
            (local.set $value (call $config_get (call $block (i32.const 2000) (i32.const 6))))
            (call $output_set (local.get $value) (call $length (local.get $value)))
            (i32.const 0)))"#,
        quote = data(0, QUOTE),
        error = data(1000, error),
        key = data(2000, "answer"),
        quote_len = QUOTE.len(),
        error_len = error.len(),
    )
}

/// A folder with `polyplug.toml` naming the `shop` plugin, and its cases
/// under `tests/vectors`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let project = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        project.write("shop.wat", &shop_module());
        project.write(
            "polyplug.toml",
            "[plugins.shop]\nwasm = \"shop.wat\"\nconfig.answer = \"{\\\"from\\\":\\\"toml\\\"}\"\n",
        );
        project
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn write(&self, file: &str, text: &str) -> &Self {
        let path = self.path(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        self
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.path(file)).unwrap()
    }

    /// A case `tests/vectors/<function>/<name>` with `{}` as its input
    /// and `expected` as its `<ending>` file.
    fn case(&self, function: &str, name: &str, ending: &str, expected: &str) -> &Self {
        let stem = format!("tests/vectors/{function}/{name}");
        self.write(&format!("{stem}.input.json"), "{}\n")
            .write(&format!("{stem}.{ending}"), &format!("{expected}\n"))
    }

    /// `polyplug test` run in the project's folder with `args`.
    fn test(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_polyplug"))
            .current_dir(self.dir.path())
            .arg("test")
            .args(args)
            .output()
            .expect("polyplug runs")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn shown(output: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", stdout(output), stderr(output))
}

#[test]
fn a_passing_suite_exits_0_with_a_line_per_case_and_a_summary() {
    let project = Project::new();
    project.case("quote", "exact", "output.json", QUOTE).case(
        "refuse",
        "sold_out",
        "error.json",
        r#"{"code": "out_of_stock"}"#,
    );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("quote/exact"))
        .unwrap_or_else(|| panic!("no line for quote/exact:\n{text}"));
    assert!(line.starts_with("pass"), "{line}");
    assert!(line.contains("shop"), "{line}");
    assert!(line.contains("fuel") && line.contains("mem"), "{line}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("pass") && l.contains("refuse/sold_out")),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("2 passed, 0 failed"), "{text}");
}

#[test]
fn a_wrong_expected_output_fails_with_exit_1_and_the_path_that_differs() {
    let project = Project::new();
    project.case(
        "quote",
        "wrong",
        "output.json",
        r#"{"total":5,"discounts":[{"amount":10},{"amount":50}]}"#,
    );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("quote/wrong")),
        "{text}"
    );
    assert!(
        text.contains("$.discounts[1].amount: expected 50, got 5"),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"), "{text}");
}

#[test]
fn the_same_value_in_another_key_order_fails_by_bytes_and_passes_as_json() {
    let project = Project::new();
    project.case(
        "quote",
        "reordered",
        "output.json",
        r#"{"discounts":[{"amount":10},{"amount":5}],"total":5}"#,
    );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        stdout(&out).contains("same JSON value, other bytes"),
        "{}",
        shown(&out)
    );
    let out = project.test(&["--compare", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
}

#[test]
fn an_error_case_passes_only_when_the_plugin_fails_with_that_code() {
    let project = Project::new();
    project
        .case(
            "refuse",
            "right_code",
            "error.json",
            r#"{"code": "out_of_stock"}"#,
        )
        .case(
            "refuse",
            "wrong_code",
            "error.json",
            r#"{"code": "invalid_input"}"#,
        )
        .case(
            "quote",
            "no_error",
            "error.json",
            r#"{"code": "out_of_stock"}"#,
        );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("pass") && l.contains("refuse/right_code")),
        "{text}"
    );
    assert!(
        text.contains("expected error `invalid_input`, got error `out_of_stock`: none left"),
        "{text}"
    );
    assert!(
        text.contains("expected error `out_of_stock`, got output"),
        "{text}"
    );
}

#[test]
fn update_writes_the_current_results_and_names_the_files() {
    let project = Project::new();
    project
        .case("quote", "stale", "output.json", r#"{"total":6}"#)
        .case("refuse", "was_output", "output.json", "{}")
        .write("tests/vectors/quote/new.input.json", "{}");
    let out = project.test(&["--update"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = stdout(&out);
    for change in [
        "wrote tests/vectors/quote/stale.output.json",
        "wrote tests/vectors/quote/new.output.json",
        "wrote tests/vectors/refuse/was_output.error.json",
        "removed tests/vectors/refuse/was_output.output.json",
    ] {
        assert!(text.contains(change), "no `{change}` in:\n{text}");
    }
    assert_eq!(
        project.read("tests/vectors/quote/stale.output.json"),
        format!("{QUOTE}\n")
    );
    assert_eq!(
        project.read("tests/vectors/refuse/was_output.error.json"),
        "{\"code\": \"out_of_stock\"}\n"
    );
    assert!(
        !project
            .path("tests/vectors/refuse/was_output.output.json")
            .exists()
    );

    let again = project.test(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", shown(&again));
    assert_eq!(stdout(&again).lines().last(), Some("3 passed, 0 failed"));
}

#[test]
fn a_case_without_an_expected_file_fails_until_updated() {
    let project = Project::new();
    project.write("tests/vectors/quote/new.input.json", "{}");
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        stdout(&out).contains("no expected result yet"),
        "{}",
        shown(&out)
    );
}

#[test]
fn json_report_is_one_document_with_every_result() {
    let project = Project::new();
    project.case("quote", "exact", "output.json", QUOTE).case(
        "quote",
        "wrong",
        "output.json",
        r#"{"total":5,"discounts":[]}"#,
    );
    let out = project.test(&["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}: {}", shown(&out)));
    assert_eq!(report["passed"], 1);
    assert_eq!(report["failed"], 1);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let exact = &results[0];
    assert_eq!(
        (
            &exact["plugin"],
            &exact["function"],
            &exact["case"],
            &exact["status"]
        ),
        (
            &serde_json::json!("shop"),
            &serde_json::json!("quote"),
            &serde_json::json!("exact"),
            &serde_json::json!("pass")
        )
    );
    assert!(exact["fuel"].as_u64().unwrap() > 0, "{exact}");
    assert!(exact["peak_memory"].as_u64().unwrap() >= 65_536, "{exact}");
    let wrong = &results[1];
    assert_eq!(wrong["status"], "fail");
    assert_eq!(
        wrong["differences"][0],
        serde_json::json!({"path": "$.discounts[0]", "actual": {"amount": 10}})
    );
}

#[test]
fn junit_report_is_xml_with_a_testcase_per_case_and_the_failure() {
    let project = Project::new();
    project.case("quote", "exact", "output.json", QUOTE).case(
        "quote",
        "wrong",
        "output.json",
        r#"{"total":"<&>"}"#,
    );
    let report = project.path("junit.xml");
    let out = project.test(&["--junit", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let xml = fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|err| panic!("{err}:\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("2"));
    assert_eq!(root.attribute("failures"), Some("1"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].attribute("classname"), Some("shop.quote"));
    assert_eq!(cases[0].attribute("name"), Some("exact"));
    let failure = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("the wrong case has a <failure>");
    assert!(
        failure
            .text()
            .unwrap_or_default()
            .contains(r#"$.total: expected "<&>", got 5"#),
        "{xml}"
    );
}

#[test]
fn a_case_config_replaces_the_plugin_config_for_that_case() {
    let project = Project::new();
    project
        .case("setting", "from_toml", "output.json", r#"{"from":"toml"}"#)
        .case("setting", "from_case", "output.json", r#"{"from":"case"}"#)
        .write(
            "tests/vectors/setting/from_case.config.json",
            r#"{"answer": {"from": "case"}}"#,
        );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));

    // A folder's `config.json` applies to the cases without their own.
    project.write("tests/vectors/setting/config.json", r#"{"answer": "[1]"}"#);
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        stdout(&out).contains("$: expected {\"from\":\"toml\"}, got [1]"),
        "{}",
        shown(&out)
    );
}

#[test]
fn a_case_config_skips_the_smoke_calls_that_check_the_plugin_config() {
    let project = Project::new();
    project
        .write(
            "polyplug.toml",
            "[plugins.shop]\nwasm = \"shop.wat\"\nconfig.answer = \"{\\\"from\\\":\\\"toml\\\"}\"\n\
             smoke = [{ function = \"setting\", input = {}, expect = { from = \"toml\" } }]\n",
        )
        .case("setting", "from_case", "output.json", r#"{"from":"case"}"#)
        .write(
            "tests/vectors/setting/from_case.config.json",
            r#"{"answer": {"from": "case"}}"#,
        );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
}

/// Regression: the plugin loaded again for a case's config was loaded
/// with the config's pipelines, which name other plugins, and failed.
#[test]
fn a_case_config_loads_its_plugin_apart_from_pipelines_through_others() {
    let project = Project::new();
    project
        .write(
            "polyplug.toml",
            "[plugins.shop]\nwasm = \"shop.wat\"\n\
             [plugins.till]\nwasm = \"shop.wat\"\n\
             [pipelines.checkout]\n\
             steps = [{ plugin = \"shop\", function = \"quote\" }, { plugin = \"till\", function = \"quote\" }]\n",
        )
        .case("setting", "from_case", "output.json", r#"{"from":"case"}"#)
        .write(
            "tests/vectors/setting/from_case.config.json",
            r#"{"answer": {"from": "case"}}"#,
        );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert_eq!(stdout(&out).lines().last(), Some("2 passed, 0 failed"));
}

#[test]
fn cases_run_only_against_the_plugins_that_export_their_function() {
    let project = Project::new();
    project
        .write(
            "polyplug.toml",
            "[plugins.shop]\nwasm = \"shop.wat\"\n[plugins.other]\nwasm = \"other.wat\"\n",
        )
        .write(
            "other.wat",
            r#"(module (func (export "elsewhere") (result i32) (i32.const 0)))"#,
        )
        .case("quote", "exact", "output.json", QUOTE)
        .case("nobody", "lost", "output.json", "{}");
    let out = project.test(&[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(!text.contains("other "), "{text}");
    assert!(
        text.contains("no plugin of `polyplug.toml` exports `nobody`"),
        "{text}"
    );

    // `--plugin` picks the plugins, and an unknown one is named.
    let out = project.test(&["--plugin", "shop", "tests/vectors/quote"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let out = project.test(&["--plugin", "shoppe"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        stderr(&out).contains("`--plugin shoppe`: `polyplug.toml` has no plugin of that name"),
        "{}",
        shown(&out)
    );
}

#[test]
fn cases_are_looked_for_beside_the_config_file() {
    let project = Project::new();
    project.case("quote", "exact", "output.json", QUOTE);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_polyplug"))
        .current_dir(elsewhere.path())
        .arg("--config")
        .arg(project.path("polyplug.toml"))
        .arg("test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));

    let empty = project.test(&[elsewhere.path().to_str().unwrap()]);
    assert_eq!(empty.status.code(), Some(1), "{}", shown(&empty));
    assert!(
        stderr(&empty).contains("no test cases in"),
        "{}",
        shown(&empty)
    );
}

#[test]
fn a_config_that_does_not_load_exits_with_3() {
    let project = Project::new();
    project
        .case("quote", "exact", "output.json", QUOTE)
        .write("polyplug.toml", "[plugins.shop]\nwasm = \"missing.wasm\"\n");
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    assert!(stderr(&out).contains("missing.wasm"), "{}", shown(&out));
}

#[test]
fn an_input_naming_the_http_server_needs_routes_beside_it() {
    let project = Project::new();
    project
        .case("quote", "fetches", "output.json", QUOTE)
        .write(
            "tests/vectors/quote/fetches.input.json",
            r#"{"url":"{{base}}/x"}"#,
        );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        stdout(&out).contains("has no `routes.json` to serve"),
        "{}",
        shown(&out)
    );
}

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn the_project_vectors_pass_against_every_reference_guest() {
    let root = repo_root();
    let out = Command::new(env!("CARGO_BIN_EXE_polyplug"))
        .current_dir(root)
        .env(support::EXAMPLE_STORE, support::private_store())
        // This checks answers, not speed: a call that runs past a
        // millisecond waits on the slow lane at nice 19, where a CPU busy
        // with other tests once held a Go call past the example's 2s.
        .env("POLYPLUG__DEFAULTS__TIMEOUT", "60s")
        .env("POLYPLUG__PLUGINS__DISCOUNTS__TIMEOUT", "60s")
        .args([
            "--config",
            "examples/polyplug.toml",
            "test",
            "tests/vectors",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = stdout(&out);
    for plugin in [
        "reference_rust",
        "reference_go",
        "reference_as",
        "reference_js",
    ] {
        for function in ["greet", "apply_discounts", "analyze_text", "fetch_json"] {
            assert!(
                text.lines().any(|l| l.starts_with("pass")
                    && l.contains(&format!(" {plugin} "))
                    && l.contains(&format!(" {function}/"))),
                "no passing `{function}` case for `{plugin}`:\n{text}"
            );
        }
    }
    assert!(!text.contains("FAIL"), "{text}");
}

/// A project whose `fetcher` plugin is the Rust reference guest (its
/// `fetch_json` GETs a URL and returns `{"status","json"}`), allowed to
/// reach `api.example.com` only, with one case per URL given.
fn fetcher_project(cases: &[(&str, &str)]) -> Project {
    let project = Project::new();
    let module = repo_root().join("target/guests/reference-rust.wasm");
    assert!(module.is_file(), "run `just build-guests` first");
    project.write(
        "polyplug.toml",
        &format!(
            "[plugins.fetcher]\nwasm = {:?}\nallowed_hosts = [\"api.example.com\"]\n",
            module.display().to_string()
        ),
    );
    for (name, url) in cases {
        project.write(
            &format!("tests/vectors/fetch_json/{name}.input.json"),
            &format!(r#"{{"url":"{url}"}}"#),
        );
    }
    project
}

#[test]
fn a_case_with_canned_http_responses_never_reaches_the_network() {
    // `api.example.com` is not reachable from here: only the canned
    // responses can answer.
    let project = fetcher_project(&[
        ("item", "https://api.example.com/items/7"),
        ("missing", "https://api.example.com/items/8"),
    ]);
    let mocks = r#"{
      "https://api.example.com/items/7": {"status": 200, "json": {"id": 7, "name": "lamp"}},
      "https://api.example.com/items/8": {"status": 404, "body": "{\"error\":\"no item 8\"}"}
    }"#;
    project
        .write("tests/vectors/fetch_json/item.http.json", mocks)
        .write("tests/vectors/fetch_json/missing.http.json", mocks)
        .write(
            "tests/vectors/fetch_json/item.output.json",
            r#"{"status":200,"json":{"id":7,"name":"lamp"}}"#,
        )
        .write(
            "tests/vectors/fetch_json/missing.output.json",
            r#"{"status":404,"json":{"error":"no item 8"}}"#,
        );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let passed = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("pass "))
        .count();
    assert_eq!(passed, 2, "{}", shown(&out));
}

#[test]
fn a_request_without_a_canned_response_fails_the_case_naming_its_url() {
    let project = fetcher_project(&[("other", "https://api.example.com/other")]);
    project
        .write(
            "tests/vectors/fetch_json/other.http.json",
            r#"{"https://api.example.com/items/7": {"status": 200, "json": {}}}"#,
        )
        .write("tests/vectors/fetch_json/other.output.json", "{}");
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        stdout(&out).contains("https://api.example.com/other has no canned response"),
        "{}",
        shown(&out)
    );
}

#[test]
fn canned_responses_do_not_widen_allowed_hosts() {
    let project = fetcher_project(&[("elsewhere", "https://evil.example.net/x")]);
    project
        .write(
            "tests/vectors/fetch_json/elsewhere.http.json",
            r#"{"https://evil.example.net/x": {"status": 200, "json": {"leaked": true}}}"#,
        )
        .write(
            "tests/vectors/fetch_json/elsewhere.error.json",
            r#"{"kind": "host_not_allowed"}"#,
        );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
}

#[test]
fn a_malformed_http_file_fails_its_case_naming_the_file() {
    let project = fetcher_project(&[("broken", "https://api.example.com/x")]);
    project
        .write(
            "tests/vectors/fetch_json/broken.http.json",
            r#"{"https://api.example.com/x": {"status": 200, "jsno": {}}}"#,
        )
        .write("tests/vectors/fetch_json/broken.output.json", "{}");
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(stdout(&out).contains("broken.http.json"), "{}", shown(&out));
}

#[test]
fn each_case_starts_from_its_seeded_state_and_the_real_store_is_untouched() {
    let project = Project::new();
    let module = repo_root().join("target/guests/reference-rust.wasm");
    assert!(module.is_file(), "run `just build-guests` first");
    project
        .write(
            "polyplug.toml",
            &format!(
                "[plugins.counter]\nwasm = {:?}\nkv = \"default\"\n",
                module.display().to_string()
            ),
        )
        .write(
            "tests/vectors/tally/seeded.input.json",
            r#"{"key":"hits","by":1}"#,
        )
        .write(
            "tests/vectors/tally/seeded.kv.json",
            r#"{"hits": 41, "other": "x"}"#,
        )
        .write(
            "tests/vectors/tally/seeded.output.json",
            r#"{"key":"hits","value":42}"#,
        )
        .write(
            "tests/vectors/tally/fresh.input.json",
            r#"{"key":"hits","by":1}"#,
        )
        .write(
            "tests/vectors/tally/fresh.output.json",
            r#"{"key":"hits","value":1}"#,
        )
        .write(
            "tests/vectors/tally/not_a_number.input.json",
            r#"{"key":"other","by":1}"#,
        )
        .write(
            "tests/vectors/tally/not_a_number.kv.json",
            r#"{"other": "x"}"#,
        )
        .write(
            "tests/vectors/tally/not_a_number.error.json",
            r#"{"code": "kv_not_an_integer"}"#,
        );
    // Twice: a run leaves nothing behind for the next.
    for run in 0..2 {
        let out = project.test(&[]);
        assert_eq!(out.status.code(), Some(0), "run {run}: {}", shown(&out));
    }
    assert!(
        !project.path(".polyplug").exists(),
        "the config's own store was created"
    );
}

#[test]
fn a_seed_over_the_plugins_limits_fails_its_case_naming_the_key() {
    let project = Project::new();
    let module = repo_root().join("target/guests/reference-rust.wasm");
    project
        .write(
            "polyplug.toml",
            &format!(
                "[plugins.counter]\nwasm = {:?}\nkv = \"default\"\nmax_kv_value = \"8B\"\n",
                module.display().to_string()
            ),
        )
        .write(
            "tests/vectors/tally/big.input.json",
            r#"{"key":"k","by":1}"#,
        )
        .write(
            "tests/vectors/tally/big.kv.json",
            r#"{"k": "far too long a value"}"#,
        )
        .write(
            "tests/vectors/tally/big.output.json",
            r#"{"key":"k","value":1}"#,
        );
    let out = project.test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.contains("cannot seed key `k`"), "{}", shown(&out));
    assert!(text.contains("kv_value_too_large"), "{}", shown(&out));
}
