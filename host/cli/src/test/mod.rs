//! `polyplug test`: runs vector cases (docs/contract.md section 6) against
//! the plugins of a config, under their real limits, and says for each
//! case and plugin whether it passed, with the time, fuel and peak memory
//! it took.
//!
//! Which plugins: `--plugin <name>` (repeatable) picks them; without it,
//! each folder's cases run against every plugin of the config that exports
//! the function the folder is named after. Which config map: the case's
//! `<case>.config.json`, else the folder's `config.json`, else the
//! plugin's own `config` from the config file; a map of its own replaces
//! the plugin's whole map, and the plugin is loaded again with it (once
//! per distinct map), as `tests/all/vectors.rs` does. Which network: a
//! folder with `routes.json` gets a local HTTP server serving it, `{{base}}`
//! in its inputs stands for that server's address, and its plugins may
//! reach that one address besides their own `allowed_hosts`. A case with
//! `<case>.http.json` runs with those canned responses in place of the
//! network: its plugin's `allowed_hosts` still decide which URLs it may
//! ask for, and a request with no canned response fails the case naming
//! its URL. Key-value state lives in stores of the run's own (never the
//! config's): a case starts with its plugin's namespace empty, or holding
//! what `<case>.kv.json` lists.

mod cases;
mod check;
mod diff;
mod junit;
pub mod report;
mod routes;
mod state;
mod update;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use polyplug::{CallStats, Host, HostConfig, HostPattern, StoreConfig};

use cases::{Folder, Mocks};
pub use check::Compare;
use check::Mismatch;

/// `polyplug test`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Folders of cases: a folder of `<function>/` folders, or one
    /// function's folder [default: `tests/vectors` beside the config file].
    dirs: Vec<PathBuf>,
    /// Run the cases against this plugin only (repeat for several); by
    /// default, against every plugin of the config that exports the
    /// function a folder is named after.
    #[arg(long = "plugin", value_name = "NAME")]
    plugins: Vec<String>,
    /// How outputs are compared: `bytes`, as the contract requires, or
    /// `json`, ignoring key order, spacing and number spelling.
    #[arg(long, value_enum, default_value_t = Compare::Bytes)]
    compare: Compare,
    /// Print one JSON report on standard output instead of lines.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report to this file, for CI.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write what the plugins give now as the expected results, and list
    /// the files changed.
    ///
    /// An output goes to `<case>.output.json`, a plugin error's code
    /// (`{"code"}`) or the kind of a failure the host reported (`{"kind"}`:
    /// a trap, a limit) to `<case>.error.json`. With several plugins, the
    /// first one's result is written and the others are checked against
    /// it.
    #[arg(long)]
    update: bool,
}

impl Default for Args {
    /// `polyplug test` with no arguments: the cases beside the config file.
    fn default() -> Self {
        Self {
            dirs: Vec::new(),
            plugins: Vec::new(),
            compare: Compare::Bytes,
            json: false,
            junit: None,
            update: false,
        }
    }
}

/// One case run against one plugin (or against none, when no plugin
/// exports its function).
pub struct Outcome {
    pub plugin: Option<String>,
    pub function: String,
    pub case: String,
    /// What the call used; `None` when there was no call.
    pub stats: Option<CallStats>,
    pub verdict: Verdict,
}

impl Outcome {
    /// `<function>/<case>`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.function, self.case)
    }
}

pub enum Verdict {
    Pass,
    /// It did not match, and `--update` wrote its result: a line per file.
    Updated(Vec<String>),
    Fail(Mismatch),
}

pub async fn run(config_file: &Path, config: HostConfig, args: &Args) -> ExitCode {
    let print_lines = !args.json;
    let (outcomes, summary) = match execute(config_file, config, args, print_lines).await {
        Ok(run) => run,
        Err(Stopped::Cases(why)) => return failed(format_args!("{why}")),
        Err(Stopped::Load(why)) => {
            eprintln!("error: {why}");
            return ExitCode::from(crate::LOAD_FAILED);
        }
    };
    if args.json {
        println!("{:#}", report::json(&outcomes, &summary));
    } else {
        println!("{}", summary.text());
    }
    if let Some(path) = &args.junit
        && let Err(err) = std::fs::write(path, junit::xml(&outcomes, summary.elapsed))
    {
        return failed(format_args!(
            "cannot write the JUnit report `{}`: {err}",
            path.display()
        ));
    }
    match summary.failed {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(crate::CALL_FAILED),
    }
}

/// Why a run stopped before its cases ran.
pub enum Stopped {
    /// The cases could not be read, or `--plugin` names no plugin.
    Cases(String),
    /// The config's plugins did not load.
    Load(String),
}

/// Runs every case of `args` against the plugins of `config`; prints each
/// outcome's lines as it comes when `print_lines`.
pub async fn execute(
    config_file: &Path,
    config: HostConfig,
    args: &Args,
    print_lines: bool,
) -> Result<(Vec<Outcome>, report::Summary), Stopped> {
    let dirs = match args.dirs.is_empty() {
        true => vec![default_dir(config_file)],
        false => args.dirs.clone(),
    };
    let mut folders = Vec::new();
    for dir in &dirs {
        folders.extend(cases::find(dir).map_err(|err| Stopped::Cases(format!("{err:#}")))?);
    }
    if let Some(unknown) = args
        .plugins
        .iter()
        .find(|name| !config.plugins.contains_key(*name))
    {
        let known: Vec<&str> = config.plugins.keys().map(String::as_str).collect();
        return Err(Stopped::Cases(format!(
            "`--plugin {unknown}`: `{}` has no plugin of that name (it has: {})",
            config_file.display(),
            known.join(", ")
        )));
    }
    // Cases never touch the config's real state: every store is an
    // embedded one in a folder of this run's own.
    let state = tempfile::tempdir().map_err(|err| {
        Stopped::Cases(format!("cannot make a folder for the cases' state: {err}"))
    })?;
    let mut config = config;
    for (name, store) in config.stores.iter_mut() {
        *store = StoreConfig::embedded(state.path().join(format!("{name}.redb")));
    }
    let base = load(config.clone())
        .await
        .map_err(|err| Stopped::Load(err.to_string()))?;
    let mut runner = Runner {
        hosts: Hosts {
            base,
            config: &config,
            variants: HashMap::new(),
        },
        args,
        config_file,
        columns: columns(&folders, &config, args),
        print_lines,
        outcomes: Vec::new(),
    };
    let started = Instant::now();
    let mut cases = 0;
    for folder in &mut folders {
        cases += folder.cases.len();
        runner.folder(folder).await;
    }
    let columns = runner.columns;
    let outcomes = runner.outcomes;
    let summary = report::Summary::of(&outcomes, cases, started.elapsed(), columns);
    Ok((outcomes, summary))
}

fn failed(message: std::fmt::Arguments<'_>) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(crate::CALL_FAILED)
}

/// `tests/vectors` beside the config file.
fn default_dir(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .unwrap_or(Path::new(""))
        .join("tests/vectors")
}

fn columns(folders: &[Folder], config: &HostConfig, args: &Args) -> report::Columns {
    let plugin = match args.plugins.is_empty() {
        true => config.plugins.keys().map(String::len).max(),
        false => args.plugins.iter().map(String::len).max(),
    };
    let case = folders
        .iter()
        .flat_map(|f| f.cases.iter().map(|c| f.function.len() + 1 + c.name.len()))
        .max();
    report::Columns {
        plugin: plugin.unwrap_or(1),
        case: case.unwrap_or(1),
    }
}

/// Loads `config` on a thread that may block.
async fn load(config: HostConfig) -> Result<Host, polyplug::LoadError> {
    match tokio::task::spawn_blocking(move || Host::new(config)).await {
        Ok(loaded) => loaded,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

/// The host of the config as written, and the plugins loaded again with a
/// case's config map or the folder's HTTP server.
struct Hosts<'a> {
    base: Host,
    config: &'a HostConfig,
    /// By plugin, config map and server: the host, or why it did not load.
    variants: HashMap<String, Result<Host, String>>,
}

impl Hosts<'_> {
    async fn get(
        &mut self,
        plugin: &str,
        config: Option<&BTreeMap<String, String>>,
        server: Option<&str>,
        mocks: Option<&Mocks>,
    ) -> Result<Host, String> {
        let own = &self.config.plugins[plugin];
        let config = config.filter(|map| **map != own.config);
        if config.is_none() && server.is_none() && mocks.is_none() {
            return Ok(self.base.clone());
        }
        let key = format!(
            "{plugin}\n{}\n{}\n{}",
            serde_json::to_string(&config).unwrap_or_default(),
            server.unwrap_or_default(),
            mocks
                .map(|m| m.file.display().to_string())
                .unwrap_or_default()
        );
        if let Some(known) = self.variants.get(&key) {
            return known.clone();
        }
        let mut variant = own.clone();
        // Smoke calls check the plugin's own config, and passed when the
        // config loaded; under a case's config (invalid on purpose, maybe)
        // the case is the check.
        variant.smoke.clear();
        if let Some(map) = config {
            variant.config = map.clone();
        }
        if let Some(authority) = server {
            let pattern = HostPattern::parse(authority)
                .map_err(|err| format!("cannot admit the routes server `{authority}`: {err}"))?;
            variant.allowed_hosts.push(pattern);
        }
        if let Some(mocks) = mocks {
            variant.http_mocks = Some(mocks.responses.clone());
        }
        // A host of this plugin alone: what else the config declares
        // (pipelines through other plugins, say) is not for this case.
        let mut host_config = HostConfig::new([(plugin.to_string(), variant)]);
        host_config.stores = self.config.stores.clone();
        let loaded = load(host_config).await.map_err(|err| {
            let with = match (config, mocks) {
                (Some(_), _) => "with this case's config",
                (None, Some(_)) => "with this case's HTTP responses",
                (None, None) => "with the routes server admitted",
            };
            format!("cannot load `{plugin}` {with}: {err}")
        });
        self.variants.insert(key, loaded.clone());
        loaded
    }
}

struct Runner<'a> {
    hosts: Hosts<'a>,
    args: &'a Args,
    config_file: &'a Path,
    columns: report::Columns,
    /// Print each outcome as it comes (not for `--json`, nor `polyplug dev`).
    print_lines: bool,
    outcomes: Vec<Outcome>,
}

impl Runner<'_> {
    /// Runs one function's cases against its plugins.
    async fn folder(&mut self, folder: &mut Folder) {
        // Hosts loaded for another folder's configs are not needed again.
        self.hosts.variants.clear();
        let plugins = self.plugins_for(&folder.function);
        let server = folder
            .routes
            .as_ref()
            .map(|routes| routes::Server::start(routes).map_err(|err| format!("{err:#}")));
        for index in 0..folder.cases.len() {
            if plugins.is_empty() {
                let problem = format!(
                    "no plugin of `{}` exports `{}`: name the folder after a function, or pick a plugin with `--plugin`",
                    self.config_file.display(),
                    folder.function
                );
                self.record(
                    folder,
                    index,
                    None,
                    None,
                    Verdict::Fail(Mismatch::new(problem)),
                );
                continue;
            }
            // With `--update`, the first plugin's result becomes expected
            // and the others are checked against it.
            for (order, plugin) in plugins.iter().enumerate() {
                let may_update = self.args.update && order == 0;
                let (stats, verdict) = self
                    .case(folder, index, plugin, server.as_ref(), may_update)
                    .await;
                self.record(folder, index, Some(plugin), stats, verdict);
            }
        }
    }

    /// The plugins a folder's cases run against.
    fn plugins_for(&self, function: &str) -> Vec<String> {
        if !self.args.plugins.is_empty() {
            return self.args.plugins.clone();
        }
        self.hosts
            .base
            .plugins()
            .filter(|info| info.functions.iter().any(|f| f == function))
            .map(|info| info.name)
            .collect()
    }

    async fn case(
        &mut self,
        folder: &mut Folder,
        index: usize,
        plugin: &str,
        server: Option<&Result<routes::Server, String>>,
        may_update: bool,
    ) -> (Option<CallStats>, Verdict) {
        let fail = |problem: String| (None, Verdict::Fail(Mismatch::new(problem)));
        let case = &folder.cases[index];
        let input = match &case.input {
            Ok(input) => input,
            Err(why) => return fail(why.clone()),
        };
        let config = match &case.config {
            Ok(config) => config.as_ref(),
            Err(why) => return fail(why.clone()),
        };
        let mocks = match &case.http {
            Ok(mocks) => mocks.as_ref(),
            Err(why) => return fail(why.clone()),
        };
        let (input, server) = match server {
            Some(Ok(server)) => (cases::with_base(input, &server.base), Some(server)),
            Some(Err(why)) => return fail(why.clone()),
            None if cases::uses_base(input) => {
                return fail(format!(
                    "the input uses `{{{{base}}}}`, the local HTTP server, but `{}` has no `{}` to serve",
                    folder.dir.display(),
                    cases::ROUTES
                ));
            }
            None => (input.clone(), None),
        };
        let host = match self
            .hosts
            .get(plugin, config, server.map(routes::Server::authority), mocks)
            .await
        {
            Ok(host) => host,
            Err(why) => return fail(why),
        };
        if self.hosts.config.plugins[plugin].kv.is_some() {
            let seed = match &case.kv {
                Ok(seed) => seed.as_ref(),
                Err(why) => return fail(why.clone()),
            };
            if let Err(why) = state::prepare(&host, plugin, seed).await {
                return fail(why);
            }
        }
        let (got, stats) = host.call_measured(plugin, &folder.function, input).await;
        let verdict = match check::check(&case.expected, &got, self.args.compare) {
            Ok(()) => Verdict::Pass,
            Err(mismatch) if !may_update => Verdict::Fail(mismatch),
            Err(_) => match update::write(folder, &case.name, &got) {
                Err(why) => Verdict::Fail(Mismatch::new(why)),
                Ok((expected, changes)) => {
                    folder.cases[index].expected = expected;
                    Verdict::Updated(changes)
                }
            },
        };
        (Some(stats), verdict)
    }

    fn record(
        &mut self,
        folder: &Folder,
        index: usize,
        plugin: Option<&str>,
        stats: Option<CallStats>,
        verdict: Verdict,
    ) {
        let outcome = Outcome {
            plugin: plugin.map(str::to_string),
            function: folder.function.clone(),
            case: folder.cases[index].name.clone(),
            stats,
            verdict,
        };
        if self.print_lines {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{}", report::lines(&outcome, &self.columns));
        }
        self.outcomes.push(outcome);
    }
}
