//! The `polyplug` command: a thin CLI over the library.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use polyplug::{CallError, Host};

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
    /// Call one function of one plugin and print its JSON output.
    Call {
        plugin: String,
        function: String,
        /// The JSON input; `-` or nothing reads standard input.
        input: Option<String>,
        /// Read the JSON input from this file instead.
        #[arg(long, conflicts_with = "input")]
        input_file: Option<PathBuf>,
    },
    /// Load every plugin and list its functions and limits.
    Check,
}

/// Exit codes: 1 the call failed, 2 usage (clap), 3 the config or a plugin
/// could not be loaded.
const CALL_FAILED: u8 = 1;
const LOAD_FAILED: u8 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let config = cli.config.clone();
    let host = match tokio::task::spawn_blocking(move || Host::from_config_file(config)).await {
        Ok(Ok(host)) => host,
        Ok(Err(err)) => {
            eprintln!("error: {err}");
            return ExitCode::from(LOAD_FAILED);
        }
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    };
    match cli.command {
        Command::Call {
            plugin,
            function,
            input,
            input_file,
        } => {
            let input = match read_input(input, input_file) {
                Ok(input) => input,
                Err(err) => {
                    eprintln!("error: {err:#}");
                    return ExitCode::from(CALL_FAILED);
                }
            };
            match host.call_json(&plugin, &function, input).await {
                Ok(output) => {
                    let mut stdout = std::io::stdout().lock();
                    let _ = stdout
                        .write_all(&output)
                        .and_then(|()| stdout.write_all(b"\n"));
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    report(&err);
                    ExitCode::from(CALL_FAILED)
                }
            }
        }
        Command::Check => {
            print_plugins(&host);
            ExitCode::SUCCESS
        }
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
    use polyplug::config::units::format_size;
    println!(
        "{:<20} {:<8} {:>8} {:>8} {:>10} {:>8}  functions",
        "plugin", "wasi", "timeout", "memory", "fuel", "sha256"
    );
    for plugin in host.plugins() {
        let limits = &plugin.limits;
        println!(
            "{:<20} {:<8} {:>8} {:>8} {:>10} {:>8}  {}",
            plugin.name,
            if plugin.wasi { "yes" } else { "no" },
            humantime::format_duration(limits.timeout).to_string(),
            format_size(limits.memory),
            limits.fuel,
            &plugin.sha256[..8],
            plugin.functions.join(", ")
        );
    }
}

/// Logs go to stderr (`RUST_LOG` overrides the filter); plugin log lines
/// appear at `info` inside a span naming the plugin and function. Silenced
/// by default: Extism's own error log for failed calls, since the typed
/// error says the same thing once, and wasmtime's cache warning when two
/// processes store the same compiled module at once, which is harmless.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        "warn,extism=off,extism::pdk=info,wasmtime_internal_cache=error".into()
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
