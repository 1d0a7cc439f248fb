//! `polyplug call`'s output: the plugin's JSON on stdout, or the failure,
//! as a line on stderr or (`--error-json`) as a JSON object on stdout; and
//! with `--stats`, what the call used, on stderr.

use std::io::Write;
use std::process::ExitCode;

use polyplug::{CallError, Host, PipelineError};
use serde_json::{Value, json};

/// How `polyplug call` reports.
#[derive(clap::Args)]
pub struct Report {
    /// On failure, print the error as JSON on stdout instead of a line on
    /// stderr.
    ///
    /// The object is the HTTP API's `error`: `{"kind", "code", "message",
    /// "plugin", "function"}`, with `code` only for a plugin error. The
    /// exit status is still 1. So stdout holds one JSON document either
    /// way, and stderr only logs (plugin log lines go there too).
    #[arg(long)]
    pub error_json: bool,
    /// After the call, print its time, fuel and peak memory, each against
    /// its limit, on stderr (for a failed call too).
    #[arg(long)]
    pub stats: bool,
}

pub async fn run(
    host: &Host,
    plugin: &str,
    function: &str,
    input: Vec<u8>,
    report: &Report,
) -> ExitCode {
    let (result, stats) = host.call_measured(plugin, function, input).await;
    let mut stdout = std::io::stdout().lock();
    let code = match result {
        Ok(output) => {
            let _ = stdout
                .write_all(&output)
                .and_then(|()| stdout.write_all(b"\n"));
            ExitCode::SUCCESS
        }
        Err(err) if report.error_json => {
            let _ = writeln!(stdout, "{}", error_json(&err));
            ExitCode::from(crate::CALL_FAILED)
        }
        Err(err) => {
            crate::report(&err);
            ExitCode::from(crate::CALL_FAILED)
        }
    };
    drop(stdout);
    if report.stats {
        let limits = host
            .plugins()
            .find(|info| info.name == plugin)
            .map(|info| info.limits);
        eprintln!("stats: {}", crate::stats::against(&stats, limits.as_ref()));
    }
    code
}

/// The failure as the HTTP API's `error` object.
pub fn error_json(err: &CallError) -> Value {
    polyplug_server::error_body(err)
}

/// `polyplug call --pipeline`: the last step's output, or the failure
/// naming the step (`--error-json`: the HTTP API's error object, with
/// `pipeline` and `step`).
pub async fn run_pipeline(
    host: &Host,
    pipeline: &str,
    input: Vec<u8>,
    report: &Report,
) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match host.call_pipeline(pipeline, input).await {
        Ok(output) => {
            let _ = stdout
                .write_all(&output)
                .and_then(|()| stdout.write_all(b"\n"));
            ExitCode::SUCCESS
        }
        Err(err) => {
            if report.error_json {
                let mut error = match &err {
                    PipelineError::Step { source, .. } => error_json(source),
                    _ => json!({ "kind": err.kind() }),
                };
                error["message"] = Value::from(err.to_string());
                error["pipeline"] = Value::from(pipeline);
                if let PipelineError::Step {
                    index,
                    plugin,
                    function,
                    ..
                } = &err
                {
                    error["step"] = json!({"index": index, "plugin": plugin, "function": function});
                }
                let _ = writeln!(stdout, "{error}");
            } else {
                eprintln!("error[{}]: {err}", err.kind());
            }
            ExitCode::from(crate::CALL_FAILED)
        }
    }
}
