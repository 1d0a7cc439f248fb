//! Finding and reading vector cases, in the layout of docs/contract.md
//! section 6: `<function>/<case>.input.json` beside `<case>.output.json`
//! or `<case>.error.json`, and optionally `<case>.config.json` (else the
//! folder's `config.json`), `<case>.http.json` (canned HTTP responses) and
//! `<case>.kv.json` (the key-value state the case starts from).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use polyplug::HttpMock;

/// The file names of one case, by what they hold.
pub const INPUT: &str = "input.json";
pub const OUTPUT: &str = "output.json";
pub const ERROR: &str = "error.json";
pub const CONFIG: &str = "config.json";
/// Canned HTTP responses for `{{base}}` URLs, in a function folder.
pub const ROUTES: &str = "routes.json";
/// Canned HTTP responses by URL for one case, in place of the network.
pub const HTTP: &str = "http.json";
/// Keys and values the plugin's namespace holds when one case starts.
pub const KV: &str = "kv.json";
/// What `{{base}}` in an input stands for: the local HTTP server's address.
pub const BASE: &[u8] = b"{{base}}";

/// The cases of one function: one folder.
pub struct Folder {
    /// The function the cases call: the folder's name.
    pub function: String,
    pub dir: PathBuf,
    pub cases: Vec<Case>,
    /// `routes.json`, when the folder has one.
    pub routes: Option<PathBuf>,
}

pub struct Case {
    pub name: String,
    /// The input bytes (one trailing newline dropped), or why they could
    /// not be read.
    pub input: Result<Vec<u8>, String>,
    pub expected: Expected,
    /// The plugin config for this case: its own `.config.json`, else the
    /// folder's `config.json`; `None` keeps the plugin's config.
    pub config: Result<Option<BTreeMap<String, String>>, String>,
    /// `<case>.http.json`: the responses the plugin's HTTP requests get in
    /// place of the network (by URL), and the file they came from.
    pub http: Result<Option<Mocks>, String>,
    /// `<case>.kv.json`: what the plugin's key-value namespace holds when
    /// the case starts (else nothing).
    pub kv: Result<Option<serde_json::Map<String, serde_json::Value>>, String>,
}

/// A case's canned HTTP responses.
#[derive(Clone)]
pub struct Mocks {
    pub file: PathBuf,
    pub responses: BTreeMap<String, HttpMock>,
}

/// What a case must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Exactly these bytes (the file less one trailing newline).
    Output(Vec<u8>),
    /// A plugin error with this contract code (`{"code": ...}`).
    Error(String),
    /// A failure the host reports, of this kind (`{"kind": ...}`, as
    /// `polyplug call --error-json` prints it): `timeout`,
    /// `host_not_allowed`, `out_of_fuel`, ...
    Failure(String),
    /// Neither file exists yet (`--update` writes one).
    Missing,
    /// A file is there but unusable: why.
    Broken(String),
}

impl Folder {
    /// A path to show for `file` of case `name`: `<function>/<name>.<file>`.
    pub fn file(&self, name: &str, file: &str) -> PathBuf {
        self.dir.join(format!("{name}.{file}"))
    }
}

/// The function folders under `dir`: `dir` itself when it holds
/// `*.input.json` files, else each of its subfolders that does, by name.
pub fn find(dir: &Path) -> anyhow::Result<Vec<Folder>> {
    let unreadable = |dir: &Path| format!("cannot read folder `{}`", dir.display());
    if !input_names(dir)
        .with_context(|| unreadable(dir))?
        .is_empty()
    {
        return Ok(vec![read_folder(dir).with_context(|| unreadable(dir))?]);
    }
    let mut folders = Vec::new();
    for sub in subfolders(dir).with_context(|| unreadable(dir))? {
        let has_cases = input_names(&sub).is_ok_and(|names| !names.is_empty());
        if has_cases {
            folders.push(read_folder(&sub).with_context(|| unreadable(&sub))?);
        }
    }
    if folders.is_empty() {
        anyhow::bail!(
            "no test cases in `{}`: expected `<function>/<case>.input.json` files, \
             or `<case>.input.json` in a folder named after the function",
            dir.display()
        );
    }
    Ok(folders)
}

fn subfolders(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The case names in `dir`, sorted: the stems of its `*.input.json`.
fn input_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let suffix = format!(".{INPUT}");
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(&suffix)
            && !stem.is_empty()
        {
            names.push(stem.to_string());
        }
    }
    names.sort();
    Ok(names)
}

fn read_folder(dir: &Path) -> std::io::Result<Folder> {
    let function = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let folder_config = match dir.join(CONFIG) {
        path if path.is_file() => read_config(&path).map(Some),
        _ => Ok(None),
    };
    let routes = Some(dir.join(ROUTES)).filter(|path| path.is_file());
    let mut folder = Folder {
        function,
        dir: dir.to_path_buf(),
        cases: Vec::new(),
        routes,
    };
    for name in input_names(dir)? {
        let input = fs::read(folder.file(&name, INPUT))
            .map(strip_newline)
            .map_err(|err| format!("cannot read `{name}.{INPUT}`: {err}"));
        let own_config = folder.file(&name, CONFIG);
        let config = if own_config.is_file() {
            read_config(&own_config).map(Some)
        } else {
            folder_config.clone()
        };
        let expected = read_expected(&folder, &name);
        let http = read_mocks(&folder.file(&name, HTTP));
        let kv = read_seed(&folder.file(&name, KV));
        folder.cases.push(Case {
            name,
            input,
            expected,
            config,
            http,
            kv,
        });
    }
    Ok(folder)
}

/// Drops one trailing newline: the one an editor adds is not part of the
/// value (docs/contract.md section 6).
pub fn strip_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    bytes
}

fn read_expected(folder: &Folder, name: &str) -> Expected {
    let output = folder.file(name, OUTPUT);
    let error = folder.file(name, ERROR);
    match (output.is_file(), error.is_file()) {
        (true, true) => Expected::Broken(format!(
            "both `{name}.{OUTPUT}` and `{name}.{ERROR}` exist: keep the one the case expects"
        )),
        (true, false) => match fs::read(&output) {
            Ok(bytes) => Expected::Output(strip_newline(bytes)),
            Err(err) => Expected::Broken(format!("cannot read `{name}.{OUTPUT}`: {err}")),
        },
        (false, true) => read_error_code(&error, name),
        (false, false) => Expected::Missing,
    }
}

/// `{"code": "<code>"}` for a plugin error, as `tests/all/vectors.rs`
/// reads it, or `{"kind": "<kind>"}` for a failure the host reports.
fn read_error_code(path: &Path, name: &str) -> Expected {
    let broken = |why: String| Expected::Broken(format!("`{name}.{ERROR}` {why}"));
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => return broken(format!("cannot be read: {err}")),
    };
    let value = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => value,
        Err(err) => return broken(format!("is not JSON: {err}")),
    };
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    match (field("code"), field("kind")) {
        (Some(code), None | Some("plugin")) => Expected::Error(code.to_string()),
        (None, Some(kind)) if kind != "plugin" => Expected::Failure(kind.to_string()),
        _ => broken(
            r#"must be `{"code": "<plugin error code>"}` or `{"kind": "<host error kind>"}`"#
                .to_string(),
        ),
    }
}

/// `<case>.http.json`, when there is one: `{"<URL>": {"status": <code>,
/// "body": <text>}}` (or `json` or `body_hex` for the body).
fn read_mocks(file: &Path) -> Result<Option<Mocks>, String> {
    if !file.is_file() {
        return Ok(None);
    }
    let table = super::routes::read_table(file).map_err(|err| format!("{err:#}"))?;
    let responses = table
        .into_iter()
        .map(|(url, (status, body))| (url, HttpMock::new(status, body)))
        .collect();
    Ok(Some(Mocks {
        file: file.to_path_buf(),
        responses,
    }))
}

/// `<case>.kv.json`, when there is one: a JSON object of keys and values.
fn read_seed(file: &Path) -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
    if !file.is_file() {
        return Ok(None);
    }
    let shown = file.file_name().unwrap_or_default().to_string_lossy();
    let text = fs::read_to_string(file).map_err(|err| format!("cannot read `{shown}`: {err}"))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|err| format!("`{shown}` must be a JSON object of keys and their values: {err}"))
}

/// A config map: a JSON object whose string values are taken as they are
/// and whose other values become their JSON text, as in `polyplug.toml`.
fn read_config(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let shown = path.file_name().unwrap_or_default().to_string_lossy();
    let text = fs::read_to_string(path).map_err(|err| format!("cannot read `{shown}`: {err}"))?;
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .map_err(|err| format!("`{shown}` must be a JSON object of config values: {err}"))?;
    Ok(map
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (key, text)
        })
        .collect())
}

/// `input` with every `{{base}}` replaced by `base`.
pub fn with_base(input: &[u8], base: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.windows(BASE.len()).position(|w| w == BASE) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(base.as_bytes());
        rest = &rest[at + BASE.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Whether `input` names the local HTTP server.
pub fn uses_base(input: &[u8]) -> bool {
    input.windows(BASE.len()).any(|w| w == BASE)
}
