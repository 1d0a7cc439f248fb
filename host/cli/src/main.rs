//! The `polyplug` command: a thin CLI over the library.

mod admin;
mod call;
mod dev;
mod new;
mod serve;
mod sign;
mod stats;
mod test;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use polyplug::signature::Version;
use polyplug::{CallError, Host, HostConfig, LogFormat};

#[derive(Parser)]
#[command(version, about = "Run untrusted Extism plugins with JSON in, JSON out")]
struct Cli {
    /// Config file naming the plugins and their limits.
    #[arg(
        short,
        long,
        global = true,
        env = "POLYPLUG_CONFIG",
        default_value = "polyplug.toml"
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call one function of one plugin and print its JSON output; or, with
    /// `--pipeline <name> [INPUT]`, run a pipeline.
    Call {
        #[arg(required_unless_present = "pipeline")]
        plugin: Option<String>,
        #[arg(required_unless_present = "pipeline")]
        function: Option<String>,
        /// The JSON input; `-` or nothing reads standard input.
        input: Option<String>,
        /// Run this pipeline (`[pipelines.<name>]`) instead: the only
        /// argument then is the input.
        #[arg(long, value_name = "NAME")]
        pipeline: Option<String>,
        /// Read the JSON input from this file instead.
        #[arg(long, conflicts_with = "input")]
        input_file: Option<PathBuf>,
        #[command(flatten)]
        report: call::Report,
    },
    /// Load every plugin and list its functions and limits.
    Check,
    /// Write a new plugin project: `polyplug new <rust|go|assemblyscript|js>
    /// <dir> [--name <plugin>]`.
    ///
    /// The project has one example function, a `polyplug.toml`, test
    /// vectors in `tests/vectors/`, a README and a justfile (`just build`,
    /// `just test`, `just serve`), and a copy of the language's SDK in
    /// `.polyplug/sdk/<lang>/` that it builds against: templates and SDK
    /// are inside this binary, so they match it.
    New(new::Args),
    /// Run test cases against the plugins and check their results.
    ///
    /// A case is `<function>/<case>.input.json` with `<case>.output.json`
    /// (the exact output) or `<case>.error.json` (`{"code": "<code>"}`),
    /// and optionally `<case>.config.json` (else the folder's
    /// `config.json`), which replaces the plugin's config values for it
    /// (docs/contract.md section 6). A folder with `routes.json` gets a
    /// local HTTP server whose address `{{base}}` in its inputs stands for.
    /// Prints a line per case and plugin with its time, fuel and peak
    /// memory, and where a failing output differs.
    ///
    /// Exit status: 0 when every case passes, 1 when one fails (or the
    /// cases cannot be read), 3 when the config or a plugin does not load.
    Test(test::Args),
    /// Build, load and test a plugin project, then again on every save,
    /// printing only what changed.
    ///
    /// The build command is `just build` (the justfile `polyplug new`
    /// writes), or `--build`; the cases are `tests/vectors` beside the
    /// config, run as `polyplug test` runs them. Ctrl-C stops.
    Dev(dev::Args),
    /// Serve the plugins over HTTP until SIGINT or SIGTERM; SIGHUP reloads
    /// the config, changing only the plugins that changed.
    Serve {
        /// Address to listen on (overrides `[server] listen`).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Reload when the config file or a plugin's module changes (as
        /// `[server] watch = true`).
        #[arg(long)]
        watch: bool,
    },
    /// Make a key pair for signing plugins: `<name>.key` and `<name>.pub`.
    ///
    /// The secret key is NOT encrypted: anyone who can read `<name>.key` can
    /// sign plugins your config trusts. It is created readable by you only
    /// (mode 0600); keep it out of version control. An existing key file is
    /// never replaced unless `--force`.
    Keygen {
        /// Folder to write the two files into.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Base name of the two files.
        #[arg(long, default_value = "polyplug")]
        name: String,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Ask a running `polyplug serve`'s admin API to upload, activate or
    /// roll back a version, list versions or reload. The token comes from
    /// `POLYPLUG_ADMIN_TOKEN`; a refusal prints `error[<kind>]: ...` and
    /// exits 1.
    Admin {
        /// The admin API's base URL (default: `[admin] listen` of the
        /// config file, else `http://127.0.0.1:8081`).
        #[arg(long, env = "POLYPLUG_ADMIN_URL")]
        url: Option<String>,
        #[command(subcommand)]
        action: admin::Action,
    },
    /// Sign a module for a plugin name and version: writes
    /// `<module>.minisig`, where loading looks for it.
    ///
    /// The signature's trusted comment reads `polyplug plugin=<name>
    /// version=<semver> sha256=<hex>`: the module loads only as that plugin
    /// and only with that sha256, and shows that version.
    Sign {
        /// The module file (`.wasm`, or WAT text).
        module: PathBuf,
        /// The secret key, as `polyplug keygen` writes it (unencrypted).
        #[arg(long)]
        key: PathBuf,
        /// The plugin name the module is signed for.
        #[arg(long, value_parser = sign::plugin_name)]
        plugin: String,
        /// The module's version (semver, like `1.4.0`).
        #[arg(long)]
        version: Version,
        /// Where to write the signature (default `<module>.minisig`).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// Exit codes: 1 the command failed (a call, serving, `keygen` or `sign`),
/// 2 usage (clap), 3 the config or a plugin could not be loaded.
const CALL_FAILED: u8 = 1;
const USAGE: u8 = 2;
const LOAD_FAILED: u8 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Admin { url, action } = cli.command {
        let done =
            admin::Target::new(url, &cli.config).and_then(|target| admin::run(&target, action));
        return match done {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(CALL_FAILED),
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(CALL_FAILED)
            }
        };
    }
    if let Command::Dev(args) = &cli.command {
        init_logging(
            LogFormat::Plain,
            "warn,extism=off,wasmtime_internal_cache=error",
        );
        return dev::run(&cli.config, args).await;
    }
    // Projects, keys and signatures are made before any config exists.
    let done = match &cli.command {
        Command::New(args) => Some(new::run(args)),
        Command::Keygen { dir, name, force } => Some(sign::keygen(dir, name, *force)),
        Command::Sign {
            module,
            key,
            plugin,
            version,
            output,
        } => Some(sign::sign(&sign::Request {
            module,
            key,
            plugin,
            version,
            output: output.as_deref(),
        })),
        _ => None,
    };
    if let Some(done) = done {
        return match done {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(CALL_FAILED)
            }
        };
    }
    let config = match HostConfig::from_file(&cli.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(LOAD_FAILED);
        }
    };
    init_logging(config.server.log_format, LOG_FILTER);
    if let Command::Test(args) = &cli.command {
        return test::run(&cli.config, config, args).await;
    }
    if let Command::Serve { listen, watch } = cli.command {
        let mut server = config.server.clone();
        if let Some(listen) = listen {
            server.listen = listen;
        }
        server.watch |= watch;
        return serve::run(config, server).await;
    }
    let host = match load(config).await {
        Ok(host) => host,
        Err(exit) => return exit,
    };
    match cli.command {
        Command::Call {
            plugin,
            function,
            input,
            pipeline,
            input_file,
            report,
        } => {
            // With `--pipeline`, the one positional argument is the input.
            let (target, input) = match (pipeline, plugin, function) {
                (Some(pipeline), text, None) if input.is_none() => (Err(pipeline), text),
                (Some(_), ..) => {
                    eprintln!("error: with `--pipeline`, give only the input (or `--input-file`)");
                    return ExitCode::from(USAGE);
                }
                (None, Some(plugin), Some(function)) => (Ok((plugin, function)), input),
                (None, ..) => unreachable!("clap requires a plugin and a function"),
            };
            let input = match read_input(input, input_file) {
                Ok(input) => input,
                Err(err) => {
                    eprintln!("error: {err:#}");
                    return ExitCode::from(CALL_FAILED);
                }
            };
            match target {
                Ok((plugin, function)) => {
                    call::run(&host, &plugin, &function, input, &report).await
                }
                Err(pipeline) => call::run_pipeline(&host, &pipeline, input, &report).await,
            }
        }
        Command::Check => {
            print_plugins(&host);
            ExitCode::SUCCESS
        }
        Command::New(_)
        | Command::Keygen { .. }
        | Command::Sign { .. }
        | Command::Serve { .. }
        | Command::Admin { .. }
        | Command::Dev(_)
        | Command::Test(_) => {
            unreachable!("run before loading")
        }
    }
}

/// Loads every plugin of `config` (off the async threads: compiling is
/// CPU-bound), or says why not and gives the exit status.
async fn load(config: HostConfig) -> Result<Host, ExitCode> {
    match tokio::task::spawn_blocking(move || Host::new(config)).await {
        Ok(Ok(host)) => Ok(host),
        Ok(Err(err)) => {
            eprintln!("error: {err}");
            Err(ExitCode::from(LOAD_FAILED))
        }
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

fn read_input(input: Option<String>, file: Option<PathBuf>) -> anyhow::Result<Vec<u8>> {
    match (input, file) {
        (_, Some(file)) => std::fs::read(&file)
            .with_context(|| format!("cannot read input file `{}`", file.display())),
        (Some(text), None) if text != "-" => Ok(text.into_bytes()),
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read input from standard input")?;
            Ok(bytes)
        }
    }
}

fn report(err: &CallError) {
    eprintln!("error[{}]: {err}", err.kind());
}

fn print_plugins(host: &Host) {
    use polyplug::format_size;
    println!(
        "{:<20} {:<8} {:>8} {:>8} {:>10} {:>8} {:>10}  functions",
        "plugin", "wasi", "timeout", "memory", "fuel", "sha256", "version"
    );
    for plugin in host.plugins() {
        let limits = &plugin.limits;
        let version = plugin.version.as_ref().map(Version::to_string);
        println!(
            "{:<20} {:<8} {:>8} {:>8} {:>10} {:>8} {:>10}  {}",
            plugin.name,
            if plugin.wasi { "yes" } else { "no" },
            humantime::format_duration(limits.timeout).to_string(),
            format_size(limits.memory),
            limits.fuel,
            &plugin.sha256[..8],
            version.as_deref().unwrap_or("-"),
            plugin.functions.join(", ")
        );
    }
}

/// Logs go to stderr (`RUST_LOG` overrides the filter); plugin log lines
/// (target `polyplug::guest`, escaped and capped) appear from `info` up,
/// inside a span naming the plugin and function. Silenced
/// by default: Extism's own error log for failed calls, since the typed
/// error says the same thing once, and wasmtime's cache warning when two
/// processes store the same compiled module at once, which is harmless.
/// What is logged unless `RUST_LOG` says otherwise.
const LOG_FILTER: &str = "warn,polyplug=info,extism=off,wasmtime_internal_cache=error";

fn init_logging(format: LogFormat, default_filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_filter.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().init(),
        _ => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
