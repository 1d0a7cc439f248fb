//! `polyplug dev [DIR]`: the author's loop. Builds the project with its
//! build command, loads its plugins from its `polyplug.toml` and runs its
//! `tests/vectors` through `polyplug test`'s runner; then, on every save
//! under `DIR`, does it again and prints only what changed: a case that
//! started or stopped passing, or fails differently, and the counts.
//!
//! A failing build prints its output and leaves the last results standing;
//! a config or plugin that does not load says why. Saves are debounced, and
//! what the build itself writes (`target/`, `node_modules/`, `.polyplug/`,
//! `*.wasm`) does not count as a save, so a build never triggers the next.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use polyplug::HostConfig;

use crate::test::report::{self, Summary};
use crate::test::{self, Outcome, Stopped, Verdict};

/// How long the files must stay quiet before a save counts.
const SETTLE: Duration = Duration::from_millis(300);

/// Folders and files a build writes, never the author's sources.
const BUILD_OUTPUT: [&str; 5] = ["target", "node_modules", ".polyplug", ".git", "build"];

#[derive(clap::Args)]
pub struct Args {
    /// The project folder: its config (`--config`, relative to it), sources
    /// and `tests/vectors` [default: the current folder].
    dir: Option<PathBuf>,
    /// The build command, run by `sh -c` in the project folder [default:
    /// `just build` when the folder has a justfile].
    #[arg(long, value_name = "COMMAND")]
    build: Option<String>,
    /// Build and test once, print it all, and exit with `polyplug test`'s
    /// status (a failed build exits 1).
    #[arg(long)]
    once: bool,
}

/// A case's result, as compared between runs: its status line's verdict
/// and the reason under it.
#[derive(Clone, PartialEq, Eq)]
struct Seen {
    passed: bool,
    problem: String,
}

impl Seen {
    fn of(outcome: &Outcome) -> Self {
        match &outcome.verdict {
            Verdict::Fail(mismatch) => Seen {
                passed: false,
                problem: mismatch.problem.clone(),
            },
            Verdict::Pass | Verdict::Updated(_) => Seen {
                passed: true,
                problem: String::new(),
            },
        }
    }
}

pub async fn run(config: &Path, args: &Args) -> ExitCode {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let config = dir.join(config);
    let build = match &args.build {
        Some(command) => command.clone(),
        None if dir.join("justfile").is_file() || dir.join("Justfile").is_file() => {
            "just build".to_string()
        }
        None => {
            eprintln!(
                "error: `{}` has no justfile: give the build command with `--build '<command>'`",
                dir.display()
            );
            return ExitCode::from(crate::USAGE);
        }
    };
    let mut last = BTreeMap::new();
    let status = cycle(&dir, &config, &build, &mut last).await;
    if args.once {
        return status;
    }
    let (events, saves) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = match new_debouncer(SETTLE, None, events) {
        Ok(debouncer) => debouncer,
        Err(err) => {
            eprintln!("error: cannot watch `{}`: {err}", dir.display());
            return ExitCode::from(crate::CALL_FAILED);
        }
    };
    if let Err(err) = debouncer.watch(&dir, RecursiveMode::Recursive) {
        eprintln!("error: cannot watch `{}`: {err}", dir.display());
        return ExitCode::from(crate::CALL_FAILED);
    }
    println!("watching {} (Ctrl-C stops)", dir.display());
    let (wake, woken) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for batch in saves {
            let saved = match batch {
                Ok(events) => events
                    .iter()
                    .flat_map(|event| event.paths.iter())
                    .any(|path| is_source(path)),
                Err(_) => false,
            };
            if saved && wake.send(()).is_err() {
                break;
            }
        }
    });
    let mut woken = woken;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
            saved = woken.recv() => {
                if saved.is_none() {
                    return ExitCode::SUCCESS;
                }
                // Saves that came while this one was built and tested are
                // in this round already.
                while woken.try_recv().is_ok() {}
                cycle(&dir, &config, &build, &mut last).await;
                while woken.try_recv().is_ok() {}
            }
        }
    }
}

/// Whether a change to `path` is a save by the author, not a build's output.
fn is_source(path: &Path) -> bool {
    let output_folder = path.components().any(|c| match c {
        Component::Normal(name) => BUILD_OUTPUT.iter().any(|o| name == *o),
        _ => false,
    });
    !output_folder && path.extension().is_none_or(|e| e != "wasm")
}

/// One round: build, load, test, print what changed since `last`.
async fn cycle(
    dir: &Path,
    config: &Path,
    build: &str,
    last: &mut BTreeMap<(String, String), Seen>,
) -> ExitCode {
    let started = Instant::now();
    if let Err(why) = run_build(dir, build) {
        println!("build FAILED ({build}): {why:#}");
        return ExitCode::from(crate::CALL_FAILED);
    }
    let built = started.elapsed();
    let loaded = match HostConfig::from_file(config) {
        Ok(loaded) => loaded,
        Err(err) => {
            println!("config FAILED: {err}");
            return ExitCode::from(crate::LOAD_FAILED);
        }
    };
    let (outcomes, summary) =
        match test::execute(config, loaded, &test::Args::default(), false).await {
            Ok(run) => run,
            Err(Stopped::Cases(why)) => {
                println!("tests FAILED: {why}");
                return ExitCode::from(crate::CALL_FAILED);
            }
            Err(Stopped::Load(why)) => {
                println!("load FAILED: {why}");
                return ExitCode::from(crate::LOAD_FAILED);
            }
        };
    let first = last.is_empty();
    let mut changed = 0;
    let mut now = BTreeMap::new();
    for outcome in &outcomes {
        let key = (outcome.name(), outcome.plugin.clone().unwrap_or_default());
        let seen = Seen::of(outcome);
        if first || last.get(&key) != Some(&seen) {
            changed += 1;
            println!("{}", report::lines(outcome, &summary.columns));
        }
        now.insert(key, seen);
    }
    for gone in last.keys().filter(|key| !now.contains_key(*key)) {
        println!("gone     {} {}", gone.1, gone.0);
    }
    *last = now;
    println!("{}", status_line(&summary, built, changed, first));
    match summary.failed {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(crate::CALL_FAILED),
    }
}

fn status_line(summary: &Summary, built: Duration, changed: usize, first: bool) -> String {
    let changed = match (first, changed) {
        (true, _) => String::new(),
        (false, 0) => "; nothing changed".to_string(),
        (false, n) => format!("; {n} changed"),
    };
    format!(
        "built in {:.1} s; {} passed, {} failed{changed}",
        built.as_secs_f64(),
        summary.passed,
        summary.failed
    )
}

/// Runs the build command in `dir`; its output when it fails.
fn run_build(dir: &Path, build: &str) -> anyhow::Result<()> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(build)
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run `sh -c {build:?}`"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    anyhow::bail!("{}\n{}", output.status, text.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_is_not_a_save() {
        assert!(is_source(Path::new("./src/lib.rs")));
        assert!(is_source(Path::new("tests/vectors/greet/a.input.json")));
        assert!(!is_source(Path::new("./target/release/x.d")));
        assert!(!is_source(Path::new("node_modules/a/b.js")));
        assert!(!is_source(Path::new("plugin.wasm")));
        assert!(!is_source(Path::new(".polyplug/state/default.redb")));
    }
}
