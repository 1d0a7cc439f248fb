//! `polyplug-js build <script.js> -o <plugin.wasm> [--core <core.wasm>] [--lazy]`
//!
//! Turns one JavaScript file into a polyplug plugin: checks its syntax with
//! QuickJS ([`check`]), finds its exports ([`scan`]), writes both into a
//! copy of the JS core module ([`weave`]) and evaluates the script into a
//! memory snapshot ([`preinit`]; `--lazy` skips this, and the script is
//! evaluated at the first call instead).

mod check;
mod preinit;
mod scan;
mod weave;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Where `just build-guest-js` (and a plain `cargo build --release` in
/// `sdk/js/core`) puts the core.
const DEFAULT_CORE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../core/target/wasm32-wasip1/release/polyplug_js_core.wasm"
);

const USAGE: &str =
    "usage: polyplug-js build <script.js> -o <plugin.wasm> [--core <core.wasm>] [--lazy]";

struct Build {
    script: PathBuf,
    output: PathBuf,
    core: PathBuf,
    lazy: bool,
}

fn main() {
    if let Err(error) = parse_args().and_then(|build| build.run()) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn parse_args() -> Result<Build> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("build") {
        bail!("{USAGE}");
    }
    let (mut script, mut output, mut core, mut lazy) =
        (None, None, PathBuf::from(DEFAULT_CORE), false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" | "--output" => output = args.next().map(PathBuf::from),
            "--core" => core = args.next().map(PathBuf::from).context(USAGE)?,
            "--lazy" => lazy = true,
            _ if script.is_none() && !arg.starts_with('-') => script = Some(PathBuf::from(arg)),
            _ => bail!("unexpected argument `{arg}`\n{USAGE}"),
        }
    }
    match (script, output) {
        (Some(script), Some(output)) => Ok(Build {
            script,
            output,
            core,
            lazy,
        }),
        _ => bail!("{USAGE}"),
    }
}

impl Build {
    fn run(&self) -> Result<()> {
        let source = std::fs::read_to_string(&self.script)
            .with_context(|| format!("reading `{}`", self.script.display()))?;
        let name = file_name(&self.script);
        check::syntax(&name, &source)?;
        let exports = scan::exports(&source);
        if exports.is_empty() {
            bail!(
                "`{}` exports no functions (use `export function f` or `module.exports = {{ f }}`)",
                self.script.display()
            );
        }

        let core = std::fs::read(&self.core).with_context(|| {
            format!(
                "reading the JS core `{}` (build it: `cargo build --release` in sdk/js/core)",
                self.core.display()
            )
        })?;
        let mut module = weave::weave(&core, &name, &source, &exports)?;
        let wasm = if self.lazy {
            weave::hide_internals(&mut module, &weave::INTERNAL_EXPORTS);
            module.emit_wasm()
        } else {
            // Wizer removes the initializer's export itself.
            weave::hide_internals(&mut module, &[weave::INVOKE]);
            preinit::preinitialize(&module.emit_wasm(), &name)?
        };
        std::fs::write(&self.output, wasm)
            .with_context(|| format!("writing `{}`", self.output.display()))?;
        eprintln!("{}: exports {}", self.output.display(), exports.join(", "));
        Ok(())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
