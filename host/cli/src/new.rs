//! `polyplug new <lang> <dir> [--name <plugin>]`: writes a standalone
//! plugin project from the templates in `host/cli/templates/<lang>/` and a
//! copy of that language's SDK under `<dir>/.polyplug/sdk/<lang>/`, which
//! the project references by relative path. Both are embedded in this
//! binary (see `build.rs`), so a project matches the `polyplug` that made
//! it and nothing points into a checkout.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// `polyplug new`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The plugin's language.
    language: Language,
    /// The folder to create; it must not exist, or be empty.
    dir: PathBuf,
    /// The plugin's name in `polyplug.toml` (and the crate, module or
    /// package name) [default: the folder's name].
    #[arg(long)]
    name: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    Rust,
    Go,
    #[value(alias = "as")]
    Assemblyscript,
    #[value(alias = "javascript")]
    Js,
}

impl Language {
    /// The folder name under `templates/` and `.polyplug/sdk/`.
    fn folder(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Go => "go",
            Language::Assemblyscript => "assemblyscript",
            Language::Js => "js",
        }
    }

    fn template(self) -> &'static [(&'static str, &'static [u8])] {
        match self {
            Language::Rust => embedded::TEMPLATE_RUST,
            Language::Go => embedded::TEMPLATE_GO,
            Language::Assemblyscript => embedded::TEMPLATE_AS,
            Language::Js => embedded::TEMPLATE_JS,
        }
    }

    fn sdk(self) -> &'static [(&'static str, &'static [u8])] {
        match self {
            Language::Rust => embedded::SDK_RUST,
            Language::Go => embedded::SDK_GO,
            Language::Assemblyscript => embedded::SDK_AS,
            Language::Js => embedded::SDK_JS,
        }
    }
}

/// Where the SDK copy goes, relative to the project.
const SDK_DIR: &str = ".polyplug/sdk";

/// Names a project cannot take: Cargo refuses them as package names.
const RESERVED: &[&str] = &["test", "core", "std", "alloc", "proc_macro", "proc-macro"];

pub fn run(args: &Args) -> anyhow::Result<()> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => name_from_dir(&args.dir)?,
    };
    check_name(&name)?;
    check_empty(&args.dir)?;
    let files = render(args.language, &name)?;
    for (relative, contents) in &files {
        let path = args.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    let dir = args.dir.display();
    println!(
        "created the {} plugin `{name}` in `{dir}`, with the SDK in `{dir}/{SDK_DIR}/{}`\n\
         next:\n    cd {dir}\n    just build    # -> {name}.wasm\n    just test     \
         # polyplug test: the cases in tests/vectors\n    just serve    # polyplug serve",
        args.language.folder(),
        args.language.folder(),
    );
    Ok(())
}

/// The project's files: the template with its placeholders filled, then
/// the SDK under `.polyplug/sdk/<lang>/`.
pub fn render(language: Language, name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let sdk = language.sdk();
    let mut values = vec![
        ("name", name.to_string()),
        ("crate", name.replace('-', "_")),
        ("rust_toolchain", embedded::RUST_TOOLCHAIN.to_string()),
        ("polyplug_version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    if language == Language::Go {
        let go_mod = text(sdk, "go.mod")?;
        values.push(("go_version", go_directive(go_mod)?));
        values.push(("go_requires", go_indirect_requires(go_mod)));
    }
    let mut files = Vec::new();
    for (relative, contents) in language.template() {
        let relative = match *relative {
            "gitignore" => ".gitignore",
            other => other,
        };
        let contents = match std::str::from_utf8(contents) {
            Ok(text) => fill(text, &values).into_bytes(),
            Err(_) => contents.to_vec(),
        };
        files.push((PathBuf::from(relative), contents));
    }
    if language == Language::Go {
        // The SDK's own checksums are the project's: it requires nothing else.
        files.push((
            PathBuf::from("go.sum"),
            text(sdk, "go.sum")?.as_bytes().to_vec(),
        ));
    }
    let sdk_dir = Path::new(SDK_DIR).join(language.folder());
    for (relative, contents) in sdk {
        files.push((sdk_dir.join(relative), contents.to_vec()));
    }
    Ok(files)
}

/// Replaces each `{{key}}` of `values`; any other braces stay as they are
/// (a justfile's own `{{variables}}`).
fn fill(text: &str, values: &[(&str, String)]) -> String {
    let mut text = text.to_string();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

fn text<'a>(files: &'a [(&str, &[u8])], name: &str) -> anyhow::Result<&'a str> {
    let (_, contents) = files
        .iter()
        .find(|(path, _)| *path == name)
        .with_context(|| format!("the embedded SDK has no `{name}`"))?;
    std::str::from_utf8(contents).with_context(|| format!("the embedded SDK's `{name}`"))
}

/// The `go` directive of the SDK's `go.mod` (`1.24`).
fn go_directive(go_mod: &str) -> anyhow::Result<String> {
    go_mod
        .lines()
        .find_map(|line| line.strip_prefix("go "))
        .map(|version| version.trim().to_string())
        .context("the embedded Go SDK's go.mod has no `go` directive")
}

/// The SDK's requirements (single lines or a block), as `// indirect`
/// requirements of the project.
fn go_indirect_requires(go_mod: &str) -> String {
    let mut requires = Vec::new();
    let mut in_block = false;
    for line in go_mod.lines().map(str::trim) {
        if in_block {
            if line == ")" {
                in_block = false;
            } else if !line.is_empty() && !line.starts_with("//") {
                requires.push(line.split("//").next().unwrap_or(line).trim().to_string());
            }
        } else if line == "require (" {
            in_block = true;
        } else if let Some(module) = line.strip_prefix("require ") {
            requires.push(
                module
                    .split("//")
                    .next()
                    .unwrap_or(module)
                    .trim()
                    .to_string(),
            );
        }
    }
    requires
        .iter()
        .map(|module| format!("require {module} // indirect\n"))
        .collect()
}

fn name_from_dir(dir: &Path) -> anyhow::Result<String> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    match absolute.file_name().and_then(|name| name.to_str()) {
        Some(name) => Ok(name.to_string()),
        None => bail!(
            "cannot take a plugin name from `{}`: give one with `--name <plugin>`",
            dir.display()
        ),
    }
}

/// A name that is a plugin name, a Cargo package, a Go module path and an
/// npm package name at once.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        bail!(
            "plugin name `{name}`: use lowercase letters, digits, `_` and `-`, starting with a \
             letter, at most 64 characters (give one with `--name <plugin>`)"
        );
    }
    if RESERVED.contains(&name) {
        bail!("plugin name `{name}` is reserved (Cargo refuses it as a package name)");
    }
    Ok(())
}

fn check_empty(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "`{}` is not empty: `polyplug new` only writes into a new or empty folder",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => {
            bail!("`{}` is a file, not a folder", dir.display())
        }
        Err(err) => Err(err).with_context(|| format!("cannot read `{}`", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_of_every_template_is_filled() {
        for language in [
            Language::Rust,
            Language::Go,
            Language::Assemblyscript,
            Language::Js,
        ] {
            for (path, contents) in render(language, "my-plugin").unwrap() {
                if path.starts_with(SDK_DIR) {
                    continue;
                }
                let text = String::from_utf8(contents).unwrap();
                for key in [
                    "name",
                    "crate",
                    "rust_toolchain",
                    "go_version",
                    "go_requires",
                ] {
                    assert!(
                        !text.contains(&format!("{{{{{key}}}}}")),
                        "{language:?} {}: `{{{{{key}}}}}` left",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn every_project_gets_its_sdk_and_no_build_output() {
        for language in [
            Language::Rust,
            Language::Go,
            Language::Assemblyscript,
            Language::Js,
        ] {
            let files = render(language, "p").unwrap();
            let sdk: Vec<_> = files
                .iter()
                .filter(|(path, _)| path.starts_with(SDK_DIR))
                .map(|(path, _)| path.to_string_lossy().into_owned())
                .collect();
            assert!(
                sdk.iter().any(|p| p.ends_with("README.md")),
                "{language:?}: {sdk:?}"
            );
            for path in &sdk {
                assert!(
                    !path.contains("/target/")
                        && !path.contains("/node_modules/")
                        && !path.ends_with(".wasm")
                        && !path.contains("/compiler/")
                        && !path.contains("/core/"),
                    "{language:?} ships `{path}`"
                );
            }
        }
    }

    #[test]
    fn go_requires_come_from_the_sdk_go_mod_in_either_form() {
        let single = "module m\n\ngo 1.24\n\nrequire github.com/extism/go-pdk v1.1.3\n";
        assert_eq!(
            go_indirect_requires(single),
            "require github.com/extism/go-pdk v1.1.3 // indirect\n"
        );
        let block = "module m\ngo 1.24\nrequire (\n\ta v1.0.0\n\tb v2.0.0 // indirect\n)\n";
        assert_eq!(
            go_indirect_requires(block),
            "require a v1.0.0 // indirect\nrequire b v2.0.0 // indirect\n"
        );
        assert_eq!(go_directive(single).unwrap(), "1.24");
    }

    #[test]
    fn names_that_are_not_plugin_crate_and_module_names_are_refused() {
        for bad in [
            "", "Caps", "1st", "-dash", "a b", "a/b", "a.b", "é", "test", "core",
        ] {
            assert!(check_name(bad).is_err(), "`{bad}` accepted");
        }
        check_name(&"a".repeat(65)).unwrap_err();
        for good in ["greet", "my-plugin", "my_plugin2", &"a".repeat(64)] {
            check_name(good).unwrap();
        }
    }

    #[test]
    fn a_non_empty_folder_is_refused_and_an_empty_one_accepted() {
        let dir = tempfile::tempdir().unwrap();
        check_empty(dir.path()).unwrap();
        check_empty(&dir.path().join("missing")).unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let err = check_empty(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is not empty"), "{err}");
        let err = check_empty(&dir.path().join("keep.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a file"), "{err}");
    }
}
