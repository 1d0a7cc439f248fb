//! `polyplug new`, as a plugin author uses it: for each language, a project
//! written into a temporary folder outside the checkout builds with its own
//! `just build`, passes its own `just test`, and, with one expected output
//! broken, makes `polyplug test` fail and show the difference.
//!
//! Needs what building each language needs (`just setup`): `just`, cargo
//! with wasm32-unknown-unknown, Go (or TinyGo), npm, and `polyplug-js` from
//! `just build-js-compiler` (or on PATH). The registries' caches (cargo's,
//! Go's, npm's) are the caller's; the projects are fresh.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const POLYPLUG: &str = env!("CARGO_BIN_EXE_polyplug");

/// The polyplug checkout this test runs in.
fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// PATH with the `polyplug` under test and `polyplug-js` first.
fn path_with_tools() -> OsString {
    let compiler = checkout().join("sdk/js/compiler/target/release");
    assert!(
        compiler.join("polyplug-js").is_file() || which("polyplug-js").is_some(),
        "polyplug-js is neither built (`just build-js-compiler`) nor on PATH"
    );
    assert!(
        which("just").is_some(),
        "`just` is not on PATH (`pip install rust-just`)"
    );
    let bin = Path::new(POLYPLUG).parent().unwrap().to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin, compiler];
    dirs.extend(std::env::split_paths(&rest));
    std::env::join_paths(dirs).unwrap()
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Runs `program` in `dir` as a user's shell would: cargo's and rustup's
/// settings for this test (CARGO_MANIFEST_DIR, CARGO_PKG_*, ...) are not
/// passed on.
fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env("PATH", path_with_tools());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let cargo_setting = key.starts_with("CARGO_") && key != "CARGO_HOME";
        // rustup's choice for this checkout; the project's own
        // rust-toolchain.toml decides there.
        if cargo_setting || key.starts_with("RUSTC") || key == "RUSTUP_TOOLCHAIN" {
            command.env_remove(key.as_ref());
        }
    }
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run `{program}`: {err}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The whole path of one language: new, build, test, then a broken vector.
fn new_build_test_break(language: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let outside = scratch.path().canonicalize().unwrap();
    assert!(
        !outside.starts_with(checkout()),
        "the temporary folder `{}` is inside the checkout",
        outside.display()
    );
    let project = outside.join(format!("my-{language}-plugin"));
    let name = format!("demo_{language}");

    let out = run(
        POLYPLUG,
        &[
            "new",
            language,
            project.to_str().unwrap(),
            "--name",
            name.as_str(),
        ],
        &outside,
    );
    assert_success("polyplug new", &out);
    assert!(
        text(&out.stdout).contains("just build"),
        "{}",
        text(&out.stdout)
    );
    assert_no_path_into_the_checkout(&project);

    let out = run("just", &["build"], &project);
    assert_success("just build", &out);
    assert!(project.join(format!("{name}.wasm")).is_file());

    let out = run("just", &["test"], &project);
    assert_success("just test", &out);
    let report = text(&out.stdout);
    assert!(report.contains("2 passed, 0 failed"), "{report}");
    assert!(report.contains(&format!("pass     {name}")), "{report}");

    // One expected output broken: the test fails and says where.
    let expected = project.join("tests/vectors/greet/ada.output.json");
    std::fs::write(&expected, r#"{"greeting":"Hello, Nobody!"}"#).unwrap();
    let out = run("polyplug", &["test"], &project);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}{}", text(&out.stderr));
    assert!(
        report.contains("FAIL") && report.contains("greet/ada"),
        "{report}"
    );
    assert!(
        report.contains(r#"$.greeting: expected "Hello, Nobody!", got "Hello, Ada!""#),
        "{report}"
    );
    assert!(report.contains("1 passed, 1 failed"), "{report}");
}

/// Every file `polyplug new` wrote stands alone: none names the checkout.
fn assert_no_path_into_the_checkout(project: &Path) {
    let checkout = checkout().display().to_string();
    let mut stack = vec![project.to_path_buf()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let contents = std::fs::read(&path).unwrap();
            assert!(
                !text(&contents).contains(&checkout),
                "`{}` names the checkout `{checkout}`",
                path.display()
            );
        }
    }
    assert!(files > 5, "only {files} files written");
}

#[test]
fn a_new_rust_project_builds_tests_and_shows_a_broken_vector() {
    new_build_test_break("rust");
}

#[test]
fn a_new_go_project_builds_tests_and_shows_a_broken_vector() {
    new_build_test_break("go");
}

#[test]
fn a_new_assemblyscript_project_builds_tests_and_shows_a_broken_vector() {
    new_build_test_break("assemblyscript");
}

#[test]
fn a_new_js_project_builds_tests_and_shows_a_broken_vector() {
    new_build_test_break("js");
}

#[test]
fn new_refuses_a_folder_that_is_not_empty_and_leaves_it_alone() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("notes.txt"), "mine").unwrap();
    let out = run(
        POLYPLUG,
        &[
            "new",
            "rust",
            scratch.path().to_str().unwrap(),
            "--name",
            "p",
        ],
        scratch.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not empty"),
        "{}",
        text(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "polyplug new wrote into a folder it refused");
}

#[test]
fn new_refuses_a_bad_name_before_writing_anything() {
    let scratch = tempfile::tempdir().unwrap();
    let project = scratch.path().join("Bad Name");
    let out = run(
        POLYPLUG,
        &["new", "go", project.to_str().unwrap()],
        scratch.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("plugin name `Bad Name`"),
        "{}",
        text(&out.stderr)
    );
    assert!(!project.exists());
}

#[test]
fn new_with_an_unknown_language_is_a_usage_error() {
    let scratch = tempfile::tempdir().unwrap();
    let out = run(POLYPLUG, &["new", "cobol", "x"], scratch.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cobol"), "{}", text(&out.stderr));
    assert!(!scratch.path().join("x").exists());
}
