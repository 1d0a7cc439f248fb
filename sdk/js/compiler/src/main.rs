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

/// The JS core (`sdk/js/core`, built for wasm32-wasip1 by `build.rs`).
const CORE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/polyplug_js_core.wasm"));

const USAGE: &str = "\
usage: polyplug-js build <script.js> -o <plugin.wasm> [--core <core.wasm>] [--lazy]

Compiles one JavaScript file into a polyplug plugin (a wasm module for
`polyplug.toml`). The JS core it runs on is inside this binary.

options:
  -o, --output <plugin.wasm>  where to write the plugin
  --core <core.wasm>          use this core instead of the built-in one
  --lazy                      evaluate the script at the first call, not now
  -h, --help                  print this help
  -V, --version               print the version";

struct Build {
    script: PathBuf,
    output: PathBuf,
    /// `None`: the built-in core.
    core: Option<PathBuf>,
    lazy: bool,
}

/// What the command line asks for.
enum Request {
    Build(Build),
    Help,
    Version,
}

/// A command line that does not parse: the reason, then the usage on stderr.
#[derive(Debug)]
struct UsageError(String);

/// Exit codes: 1 the build failed, 2 usage.
const BUILD_FAILED: i32 = 1;
const USAGE_ERROR: i32 = 2;

fn main() {
    let request = match parse_args(std::env::args().skip(1)) {
        Ok(request) => request,
        Err(UsageError(reason)) => {
            eprintln!("error: {reason}\n\n{USAGE}");
            std::process::exit(USAGE_ERROR);
        }
    };
    match request {
        Request::Help => println!("{USAGE}"),
        Request::Version => println!("polyplug-js {}", env!("CARGO_PKG_VERSION")),
        Request::Build(build) => {
            if let Err(error) = build.run() {
                eprintln!("error: {error:#}");
                std::process::exit(BUILD_FAILED);
            }
        }
    }
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Request, UsageError> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        Some("build") => {}
        Some("-h" | "--help" | "help") => return Ok(Request::Help),
        Some("-V" | "--version") => return Ok(Request::Version),
        Some(other) => return Err(UsageError(format!("unknown command `{other}`"))),
        None => return Err(UsageError("no command given".into())),
    }
    let (mut script, mut output, mut core, mut lazy) = (None, None, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Request::Help),
            "-o" | "--output" => {
                output = Some(
                    args.next()
                        .map(PathBuf::from)
                        .ok_or_else(|| UsageError(format!("`{arg}` needs a file name")))?,
                )
            }
            "--core" => {
                core = Some(
                    args.next()
                        .map(PathBuf::from)
                        .ok_or_else(|| UsageError("`--core` needs a file name".into()))?,
                )
            }
            "--lazy" => lazy = true,
            _ if script.is_none() && !arg.starts_with('-') => script = Some(PathBuf::from(arg)),
            _ => return Err(UsageError(format!("unexpected argument `{arg}`"))),
        }
    }
    match (script, output) {
        (Some(script), Some(output)) => Ok(Request::Build(Build {
            script,
            output,
            core,
            lazy,
        })),
        (None, _) => Err(UsageError("no script given".into())),
        (Some(_), None) => Err(UsageError("no output given (`-o <plugin.wasm>`)".into())),
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

        let custom = match &self.core {
            Some(path) => Some(
                std::fs::read(path)
                    .with_context(|| format!("reading the JS core `{}`", path.display()))?,
            ),
            None => None,
        };
        let core = custom.as_deref().unwrap_or(CORE);
        let mut module = weave::weave(core, &name, &source, &exports)?;
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
