//! Puts the JS core inside `polyplug-js`: builds `sdk/js/core` for
//! wasm32-wasip1 (a nested `cargo build` in that folder, so its
//! `.cargo/config.toml` applies, into its own `target/` that
//! `just build-js-compiler` shares) and copies the module to
//! `$OUT_DIR/polyplug_js_core.wasm`, which `main.rs` includes.
//!
//! `POLYPLUG_JS_CORE_WASM=<core.wasm>` embeds that file instead and skips
//! the nested build (no clang or wasm32-wasip1 target needed then).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PREBUILT: &str = "POLYPLUG_JS_CORE_WASM";
const TARGET: &str = "wasm32-wasip1";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("polyplug_js_core.wasm");
    println!("cargo::rerun-if-env-changed={PREBUILT}");
    let core = match std::env::var_os(PREBUILT) {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo::rerun-if-changed={}", path.display());
            path
        }
        None => build_core(&manifest_dir.join("../core")),
    };
    if let Err(err) = std::fs::copy(&core, &out) {
        fail(&format!(
            "cannot copy the JS core `{}` to `{}`: {err}",
            core.display(),
            out.display()
        ));
    }
}

/// Builds the core with the cargo that builds this crate; returns the module.
fn build_core(dir: &Path) -> PathBuf {
    let dir = dir.canonicalize().unwrap_or_else(|err| {
        fail(&format!(
            "the JS core's sources `{}` are missing ({err}); polyplug-js builds from a \
             polyplug checkout (`cargo install --locked --path sdk/js/compiler`), or set \
             {PREBUILT} to a built core",
            dir.display()
        ))
    });
    for watched in ["src", "Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        println!("cargo::rerun-if-changed={}", dir.join(watched).display());
    }
    check_tools();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&dir)
        .args(["build", "--release", "--locked", "--target", TARGET])
        // Its progress goes to this script's stderr (cargo shows it when the
        // build fails); stdout is for cargo directives.
        .stdout(Stdio::from(std::io::stderr()));
    // The outer build's settings are for the host, not for the core.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let outer = (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC")
            || matches!(
                key.as_ref(),
                "RUSTFLAGS"
                    | "RUSTDOCFLAGS"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "NUM_JOBS"
            );
        if outer {
            command.env_remove(key.as_ref());
        }
    }
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "building the JS core in `{}` failed ({status}); see the output above. It needs \
             the wasm32-wasip1 target (`rustup target add wasm32-wasip1`) and clang-14, \
             llvm-ar-14 and wasi-libc (`apt-get install clang-14 llvm-14 wasi-libc`, or \
             `just setup`)",
            dir.display()
        )),
        Err(err) => fail(&format!("cannot run cargo to build the JS core: {err}")),
    }
    dir.join("target")
        .join(TARGET)
        .join("release/polyplug_js_core.wasm")
}

/// Says what is missing before a long build fails on it.
fn check_tools() {
    for tool in ["clang-14", "llvm-ar-14"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            fail(&format!(
                "`{tool}` is not on PATH: the JS core (QuickJS, C) is compiled with Debian's \
                 clang-14 against wasi-libc: `apt-get install clang-14 llvm-14 wasi-libc` \
                 (or `just setup`), or set {PREBUILT} to a built core"
            ));
        }
    }
    if !Path::new("/usr/include/wasm32-wasi/stdlib.h").exists() {
        fail(&format!(
            "wasi-libc is missing (/usr/include/wasm32-wasi): `apt-get install wasi-libc`, or \
             set {PREBUILT} to a built core"
        ));
    }
}

fn fail(message: &str) -> ! {
    println!("cargo::error={message}");
    std::process::exit(1);
}
