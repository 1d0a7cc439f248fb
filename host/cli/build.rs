//! Embeds what `polyplug new` writes: the project templates
//! (`templates/<lang>/`) and a copy of each language's SDK (`sdk/<lang>/`),
//! walked folder by folder so a new SDK file ships without a list to keep.
//! Build output (`target/`, `node_modules/`, `*.wasm`) and the JS SDK's
//! compiler and core (native tools, not sources a project builds against)
//! stay out.
//!
//! Writes `$OUT_DIR/embedded.rs`: one `&[(&str, &[u8])]` per tree, paths
//! relative to the tree with `/` separators, sorted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Never embedded, at any depth.
const SKIP: &[&str] = &["target", "node_modules", ".git"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..");
    let mut out = String::new();
    let trees: [(&str, PathBuf, &[&str]); 8] = [
        ("TEMPLATE_RUST", manifest.join("templates/rust"), &[]),
        ("TEMPLATE_GO", manifest.join("templates/go"), &[]),
        (
            "TEMPLATE_AS",
            manifest.join("templates/assemblyscript"),
            &[],
        ),
        ("TEMPLATE_JS", manifest.join("templates/js"), &[]),
        ("SDK_RUST", root.join("sdk/rust"), &["Cargo.lock"]),
        ("SDK_GO", root.join("sdk/go"), &[]),
        ("SDK_AS", root.join("sdk/assemblyscript"), &[]),
        ("SDK_JS", root.join("sdk/js"), &["compiler", "core"]),
    ];
    for (name, dir, skip_top) in trees {
        let mut files = Vec::new();
        walk(&dir, &dir, skip_top, &mut files);
        files.sort();
        assert!(
            !files.is_empty(),
            "`{}` has no files to embed",
            dir.display()
        );
        writeln!(out, "pub static {name}: &[(&str, &[u8])] = &[").unwrap();
        for (relative, path) in files {
            println!("cargo::rerun-if-changed={}", path.display());
            writeln!(
                out,
                "    ({relative:?}, include_bytes!({:?})),",
                path.display().to_string()
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let toolchain_file = root.join("rust-toolchain.toml");
    println!("cargo::rerun-if-changed={}", toolchain_file.display());
    let toolchain = std::fs::read_to_string(&toolchain_file).unwrap();
    let channel = toolchain
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix("channel")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .expect("rust-toolchain.toml names a channel");
    writeln!(
        out,
        "/// The Rust toolchain polyplug is built and tested with.\n\
         pub const RUST_TOOLCHAIN: &str = {channel:?};"
    )
    .unwrap();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::write(out_dir.join("embedded.rs"), out).unwrap();
}

/// Collects the files under `dir`. A folder is watched for new files only
/// when nothing in it is skipped (cargo scans a watched folder whole, build
/// output included).
fn walk(root: &Path, dir: &Path, skip_top: &[&str], files: &mut Vec<(String, PathBuf)>) {
    let mut skipped_any = false;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot read `{}`: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let skip = SKIP.contains(&name.as_str())
            || (dir == root && skip_top.contains(&name.as_str()))
            || name.ends_with(".wasm");
        if skip {
            skipped_any = true;
        } else if path.is_dir() {
            walk(root, &path, skip_top, files);
        } else {
            let relative = path.strip_prefix(root).unwrap();
            let parts: Vec<_> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push((parts.join("/"), path));
        }
    }
    if !skipped_any {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
}
