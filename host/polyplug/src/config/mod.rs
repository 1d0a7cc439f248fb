//! The host's configuration: which plugins to load and what each may do.
//!
//! [`HostConfig::from_file`] reads a TOML (or YAML/JSON) file with the
//! `config` crate, applies `POLYPLUG__...` environment overrides, and checks
//! every value before anything is loaded; [`HostConfig::from_text`] does the
//! same for text already in memory. Code that embeds polyplug can also build
//! a [`HostConfig`] directly.

mod hosts;
mod http_mock;
mod pipeline;
mod raw;
mod stores;
pub(crate) mod units;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use hosts::{HostPattern, HostRule, PortRule, Scheme};
pub use http_mock::HttpMock;
pub use pipeline::{MAX_PIPELINE_STEPS, PipelineConfig, PipelineStep};
pub use stores::{DEFAULT_STORE, KvGrant, KvNamespace, RedisUrl, StoreConfig, default_store_path};
pub(crate) use stores::{check_redis_url, stores_for};

use crate::contract::{JsonProblem, check_json};
use crate::error::LoadError;

use crate::signature::TrustedKey;
use raw::{
    RawAdmin, RawAllowedPath, RawFile, RawLimits, RawPlugin, RawServer, RawSignatures, RawSmoke,
    Scalar,
};

/// Prefix of environment variables that override config keys, with `__`
/// between key segments: `POLYPLUG__PLUGINS__DISCOUNTS__TIMEOUT=500ms`.
pub const ENV_PREFIX: &str = "POLYPLUG";

/// Everything the host loads. Build one from a file
/// ([`HostConfig::from_file`]), from text, or in code with
/// [`HostConfig::new`] and field assignments.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HostConfig {
    /// The file this came from, if any (named in error messages).
    pub file: Option<PathBuf>,
    pub plugins: BTreeMap<String, PluginConfig>,
    pub server: ServerConfig,
    pub admin: AdminConfig,
    /// Plugins called one after another (`[pipelines.<name>]`).
    pub pipelines: BTreeMap<String, PipelineConfig>,
    /// Key-value stores plugins may be granted (`[stores.<name>]`). From a
    /// file, this also holds the implicit embedded `default` when a plugin
    /// is granted it; in code, [`Host::new`](crate::Host::new) adds that
    /// one (relative to the current directory) when a grant needs it.
    pub stores: BTreeMap<String, StoreConfig>,
}

/// Where `polyplug serve`'s admin API listens and keeps uploaded versions
/// (`[admin]` in the file). The API is on only when a token is configured:
/// `tokens_file`, or the `POLYPLUG_ADMIN_TOKEN` environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Default `127.0.0.1:8081`: loopback only unless the config says so.
    pub listen: SocketAddr,
    /// One bearer token per line.
    pub tokens_file: Option<PathBuf>,
    /// Where uploaded modules and the record of active versions live;
    /// default `.polyplug/store` beside the config file.
    pub store: PathBuf,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            tokens_file: None,
            store: PathBuf::from(".polyplug/store"),
        }
    }
}

/// How `polyplug serve` listens and logs (`[server]` in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Default `127.0.0.1:8080`: loopback only unless the config says so.
    pub listen: SocketAddr,
    /// Largest request body; default the largest `max_input` of any plugin,
    /// so that a plugin's own limit gives the precise error.
    pub body_limit: u64,
    pub log_format: LogFormat,
    /// After a shutdown signal, how long in-flight requests may take.
    pub shutdown_grace: Duration,
    /// Reload when the config file or a plugin's module changes on disk.
    pub watch: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: Limits::default().max_input,
            log_format: LogFormat::Plain,
            shutdown_grace: Duration::from_secs(30),
            watch: false,
        }
    }
}

/// Log lines as text for people or JSON for collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    Plain,
    Json,
}

/// One plugin: its module, what it is granted, and its limits.
///
/// Two configs are equal when a plugin loaded from one would behave as
/// loaded from the other, module bytes aside (a file source compares by
/// path): a reload restages a plugin only when its config or its bytes
/// changed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PluginConfig {
    pub wasm: WasmSource,
    /// Expected sha256 of the module, lowercase hex; loading fails on mismatch.
    pub sha256: Option<String>,
    /// Whether the module gets WASI (needed by Go and JS guests). Even then
    /// it sees no environment variables, arguments or host files beyond
    /// `allowed_paths`.
    pub wasi: bool,
    pub allowed_hosts: Vec<HostPattern>,
    pub allowed_paths: Vec<AllowedPath>,
    pub limits: Limits,
    /// Values the plugin reads with Extism's `config_get`.
    pub config: BTreeMap<String, String>,
    /// Calls a new version must answer before it serves.
    pub smoke: Vec<SmokeCall>,
    /// The public keys whose signatures this plugin accepts (`signature.rs`):
    /// those of `[signatures]` and its own, several during a key rotation.
    pub trusted_keys: Vec<TrustedKey>,
    /// Whether the module must come with a signature by one of
    /// `trusted_keys` to load. Even when it need not, a signature that
    /// comes with it is checked when the plugin trusts any key.
    pub signature_required: bool,
    /// The module's signature (minisign signature text) when it comes with
    /// the module rather than from a file: for a module given as bytes,
    /// such as an upload. When `None`, the signature of a module file is
    /// `<module file>.minisig` beside it, if that exists.
    pub signature: Option<Arc<str>>,
    /// The key-value store it may use, and which namespace of it; `None`
    /// (the default) leaves every store call refused with `kv_not_granted`.
    pub kv: Option<KvGrant>,
    /// Canned responses by URL in place of the network, for a test
    /// runner's local emulation (never read from a config file). When set,
    /// every request `allowed_hosts` admits is answered from here, the
    /// body capped by `max_http_response` as a real one is, and a URL with
    /// no entry fails the call naming it; nothing leaves the machine.
    /// `None` (the default): the network.
    pub http_mocks: Option<BTreeMap<String, HttpMock>>,
}

/// A call staging makes before a plugin's new version may serve: it must
/// succeed and, when `expect` is given, answer a JSON value equal to it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SmokeCall {
    pub function: String,
    /// The input, as the JSON bytes the call gets.
    pub input: Vec<u8>,
    pub expect: Option<serde_json::Value>,
}

impl SmokeCall {
    /// A call of `function` with `input` that must succeed, and answer
    /// `expect` if that is given.
    pub fn new(
        function: impl Into<String>,
        input: &serde_json::Value,
        expect: Option<serde_json::Value>,
    ) -> Self {
        Self {
            function: function.into(),
            input: input.to_string().into_bytes(),
            expect,
        }
    }
}

impl PluginConfig {
    /// A plugin with no capabilities and the default limits.
    pub fn new(wasm: WasmSource) -> Self {
        Self {
            wasm,
            sha256: None,
            wasi: false,
            allowed_hosts: Vec::new(),
            allowed_paths: Vec::new(),
            limits: Limits::default(),
            config: BTreeMap::new(),
            smoke: Vec::new(),
            trusted_keys: Vec::new(),
            signature_required: false,
            signature: None,
            kv: None,
            http_mocks: None,
        }
    }
}

/// Where a plugin's module comes from.
#[derive(Clone)]
#[non_exhaustive]
pub enum WasmSource {
    File(PathBuf),
    /// Module bytes held in memory (binary `.wasm`, or WAT text).
    Bytes(Arc<[u8]>),
}

impl PartialEq for WasmSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::File(a), Self::File(b)) => a == b,
            (Self::Bytes(a), Self::Bytes(b)) => a == b,
            _ => false,
        }
    }
}

impl std::fmt::Debug for WasmSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "File({})", path.display()),
            Self::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
        }
    }
}

impl std::fmt::Display for WasmSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Bytes(bytes) => write!(f, "<{} bytes in memory>", bytes.len()),
        }
    }
}

/// A host directory the plugin may see (WASI only).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllowedPath {
    pub host: PathBuf,
    /// Absolute path inside the guest.
    pub guest: String,
    pub writable: bool,
}

impl AllowedPath {
    /// `host` seen by the plugin at `guest` (an absolute path), read-only
    /// unless `writable`.
    pub fn new(host: impl Into<PathBuf>, guest: impl Into<String>, writable: bool) -> Self {
        Self {
            host: host.into(),
            guest: guest.into(),
            writable,
        }
    }
}

/// Hard limits on every call. The defaults are deliberately modest; raise
/// them per plugin where a plugin needs more.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Wall-clock limit of one call.
    pub timeout: Duration,
    /// Ceiling on the plugin's linear memory and its kernel memory (the
    /// blocks that carry input, output and host-function data) together,
    /// in bytes; at least 1 MiB is allowed for both.
    pub memory: u64,
    /// Fuel (roughly, wasm instructions) one call may use.
    pub fuel: u64,
    /// Fuel for instantiating the module and running its start-up code
    /// (which the call `timeout` bounds too).
    pub init_fuel: u64,
    pub max_input: u64,
    pub max_output: u64,
    pub max_http_response: u64,
    /// Largest module file accepted at load.
    pub max_module: u64,
    /// The most calls of this plugin that run at once, each in an instance
    /// of its own (the plugin's instances share one engine and its code).
    pub instances: usize,
    /// How long a call waits for a free instance before it fails as busy.
    pub queue_timeout: Duration,
    /// Largest key-value store key, in UTF-8 bytes.
    pub max_kv_key: u64,
    /// Largest value, as its compact JSON text.
    pub max_kv_value: u64,
    /// Bytes (keys plus values) the plugin's namespace may hold: a write
    /// that would take it past this fails with `kv_namespace_full`.
    pub max_kv_namespace_bytes: u64,
    /// Keys the plugin's namespace may hold.
    pub max_kv_namespace_keys: u64,
    /// Store operations one call may make.
    pub max_kv_operations: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            memory: 64 << 20,
            fuel: 1_000_000_000,
            init_fuel: 1_000_000_000,
            max_input: 1 << 20,
            max_output: 1 << 20,
            max_http_response: 1 << 20,
            max_module: 64 << 20,
            instances: std::thread::available_parallelism().map_or(1, usize::from),
            queue_timeout: Duration::from_secs(1),
            max_kv_key: 256,
            max_kv_value: 1 << 20,
            max_kv_namespace_bytes: 64 << 20,
            max_kv_namespace_keys: 100_000,
            max_kv_operations: 1_000,
        }
    }
}

impl HostConfig {
    /// A config of these plugins, with the default server settings.
    pub fn new(plugins: impl IntoIterator<Item = (String, PluginConfig)>) -> Self {
        Self {
            plugins: plugins.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Reads and checks a config file; its format follows the extension
    /// (`.toml`, `.yaml`/`.yml`, `.json`). Relative paths inside it are
    /// relative to the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let file = path.as_ref().to_path_buf();
        let format = file_format(&file)?;
        let text = std::fs::read_to_string(&file).map_err(|source| LoadError::ConfigRead {
            file: file.clone(),
            source,
        })?;
        Self::parse(file, &text, format)
    }

    /// Checks config text as though it had been read from `file`: the format
    /// follows the extension of `file`, relative paths inside are relative to
    /// its folder, errors name it, and environment overrides apply, all as in
    /// [`HostConfig::from_file`]. `file` itself is never read, but the module
    /// files and directories the text names must exist.
    pub fn from_text(file: impl Into<PathBuf>, text: &str) -> Result<Self, LoadError> {
        let file = file.into();
        let format = file_format(&file)?;
        Self::parse(file, text, format)
    }

    fn parse(file: PathBuf, text: &str, format: config::FileFormat) -> Result<Self, LoadError> {
        if format == config::FileFormat::Yaml && yaml_nesting_bound(text) > MAX_YAML_NESTING {
            // The YAML reader recurses once per level, without a limit:
            // 10,000 levels of `- ` overflowed the stack and aborted.
            return Err(LoadError::ConfigSyntax {
                file,
                message: format!(
                    "the YAML nests deeper than the {MAX_YAML_NESTING} levels polyplug reads \
                     (indentation counts as nesting)"
                ),
            });
        }
        let raw: RawFile = config::Config::builder()
            .add_source(config::File::from_str(text, format))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|source| LoadError::ConfigSyntax {
                file: file.clone(),
                message: source.to_string().trim_end().to_string(),
            })?;
        let base = file.parent().unwrap_or(Path::new("")).to_path_buf();
        Validator { file: &file, base }.host(raw)
    }
}

/// The largest `max_kv_key` a config may set.
pub const MAX_KV_KEY: u64 = 64 << 10;
/// The largest `max_kv_value` a config may set.
pub const MAX_KV_VALUE: u64 = 1 << 30;

/// How deeply a YAML config may nest, as [`yaml_nesting_bound`] counts.
const MAX_YAML_NESTING: usize = 256;

/// An upper bound on how deeply YAML text nests: the deepest nesting of
/// flow brackets (`[`, `{`, counted anywhere, strings included), plus,
/// on the worst line, its indentation and every `- `, `? ` and `: ` on it
/// outside brackets (a block collection nests deeper only by indenting
/// more, or by starting on the same line as its parent's indicator). It
/// over-counts, which is harmless at a limit far above any real config.
fn yaml_nesting_bound(text: &str) -> usize {
    let (mut flow, mut deepest_flow, mut worst_line) = (0usize, 0usize, 0usize);
    for line in text.lines() {
        let bytes = line.as_bytes();
        let mut depth = bytes
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        for (at, &byte) in bytes.iter().enumerate() {
            match byte {
                b'[' | b'{' => {
                    flow += 1;
                    deepest_flow = deepest_flow.max(flow);
                }
                b']' | b'}' => flow = flow.saturating_sub(1),
                b'-' | b'?' | b':' if flow == 0 => {
                    let next = bytes.get(at + 1);
                    if next.is_none_or(|next| *next == b' ') {
                        depth += 1;
                    }
                }
                _ => {}
            }
        }
        worst_line = worst_line.max(depth);
    }
    deepest_flow + worst_line
}

/// The format of a config file, from its extension.
fn file_format(file: &Path) -> Result<config::FileFormat, LoadError> {
    match file.extension().and_then(|e| e.to_str()) {
        Some("toml") => Ok(config::FileFormat::Toml),
        Some("yaml" | "yml") => Ok(config::FileFormat::Yaml),
        Some("json") => Ok(config::FileFormat::Json),
        _ => Err(LoadError::ConfigFormat {
            file: file.to_path_buf(),
        }),
    }
}

/// `[signatures]`, checked: what every plugin trusts, and whether every
/// plugin must be signed.
struct Signatures {
    trusted_keys: Vec<TrustedKey>,
    required: bool,
}

/// Turns the raw file into checked config, naming the file, key and value
/// of the first problem.
struct Validator<'a> {
    file: &'a Path,
    base: PathBuf,
}

impl Validator<'_> {
    fn host(&self, raw: RawFile) -> Result<HostConfig, LoadError> {
        if raw.plugins.is_empty() {
            return Err(LoadError::NoPlugins {
                file: self.file.to_path_buf(),
            });
        }
        let defaults = self.limits("defaults", &raw.defaults, Limits::default())?;
        let signatures = self.signatures(&raw.signatures)?;
        let declared = raw
            .stores
            .iter()
            .map(|(name, store)| Ok((name.clone(), self.store(name, store)?)))
            .collect::<Result<BTreeMap<_, _>, LoadError>>()?;
        let plugins: BTreeMap<_, _> = raw
            .plugins
            .into_iter()
            .map(|(name, plugin)| {
                let config = self.plugin(&name, plugin, &defaults, &signatures, &declared)?;
                Ok((name, config))
            })
            .collect::<Result<_, LoadError>>()?;
        let stores = stores_for(&declared, &self.base, &plugins);
        let largest_input = plugins.values().map(|p| p.limits.max_input).max();
        let server = self.server(&raw.server, largest_input.unwrap_or_default())?;
        let pipelines = raw
            .pipelines
            .iter()
            .map(|(name, pipeline)| Ok((name.clone(), self.pipeline(name, pipeline, &plugins)?)))
            .collect::<Result<_, LoadError>>()?;
        Ok(HostConfig {
            file: Some(self.file.to_path_buf()),
            plugins,
            server,
            admin: self.admin(&raw.admin)?,
            pipelines,
            stores,
        })
    }

    fn admin(&self, raw: &RawAdmin) -> Result<AdminConfig, LoadError> {
        let defaults = AdminConfig::default();
        let listen = match &raw.listen {
            None => defaults.listen,
            Some(text) => text.parse().map_err(|_| {
                self.invalid(
                    "admin.listen",
                    text,
                    "expected an address and port, like `127.0.0.1:8081`",
                )
            })?,
        };
        let tokens_file = match &raw.tokens_file {
            None => None,
            Some(name) => {
                let path = self.base.join(name);
                if !path.is_file() {
                    return Err(self.invalid(
                        "admin.tokens_file",
                        name,
                        &format!(
                            "no such file `{}` (paths are relative to the config file)",
                            path.display()
                        ),
                    ));
                }
                Some(path)
            }
        };
        let store = self.base.join(
            raw.store
                .as_deref()
                .map_or(defaults.store.as_path(), Path::new),
        );
        Ok(AdminConfig {
            listen,
            tokens_file,
            store,
        })
    }

    fn server(&self, raw: &RawServer, largest_input: u64) -> Result<ServerConfig, LoadError> {
        let defaults = ServerConfig::default();
        let listen = match &raw.listen {
            None => defaults.listen,
            Some(text) => text.parse().map_err(|_| {
                self.invalid(
                    "server.listen",
                    text,
                    "expected an address and port, like `127.0.0.1:8080` or `[::]:8080`",
                )
            })?,
        };
        let log_format = match raw.log_format.as_deref() {
            None | Some("plain") => LogFormat::Plain,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(self.invalid("server.log_format", other, "expected `plain` or `json`"));
            }
        };
        Ok(ServerConfig {
            listen,
            body_limit: match &raw.body_limit {
                None => largest_input.max(defaults.body_limit),
                Some(value) => self.size("server.body_limit", value)?,
            },
            log_format,
            shutdown_grace: match &raw.shutdown_grace {
                None => defaults.shutdown_grace,
                Some(value) => self.duration("server.shutdown_grace", value)?,
            },
            watch: match &raw.watch {
                None => defaults.watch,
                Some(value) => self.boolean("server.watch", value)?,
            },
        })
    }

    fn signatures(&self, raw: &RawSignatures) -> Result<Signatures, LoadError> {
        Ok(Signatures {
            trusted_keys: self.trusted_keys("signatures.trusted_keys", &raw.trusted_keys)?,
            required: match &raw.required {
                None => false,
                Some(value) => self.boolean("signatures.required", value)?,
            },
        })
    }

    /// Each entry is a public key (its base64 line, or a `.pub` file's
    /// text) or else the path of a `.pub` file, relative to the config.
    fn trusted_keys(&self, key: &str, entries: &[String]) -> Result<Vec<TrustedKey>, LoadError> {
        let mut keys = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let key = format!("{key}[{index}]");
            let parsed = match TrustedKey::parse(entry) {
                Ok(parsed) => parsed,
                Err(not_a_key) => self.key_file(&key, entry, not_a_key)?,
            };
            if !keys.contains(&parsed) {
                keys.push(parsed);
            }
        }
        Ok(keys)
    }

    fn key_file(
        &self,
        key: &str,
        entry: &str,
        not_a_key: crate::signature::InvalidKey,
    ) -> Result<TrustedKey, LoadError> {
        let path = self.base.join(entry.trim());
        if !path.is_file() {
            // Key lines start `RW` (base64 of `Ed`); a path ending `.pub` is
            // a path.
            let reason = if entry.trim().starts_with("RW") && !entry.trim().ends_with(".pub") {
                format!("{not_a_key}")
            } else {
                format!(
                    "neither a minisign public key (`RW...`) nor a `.pub` file: no such file `{}` \
                     (paths are relative to the config file)",
                    path.display()
                )
            };
            return Err(self.invalid(key, entry, &reason));
        }
        let text = std::fs::read_to_string(&path).map_err(|err| {
            self.invalid(
                key,
                entry,
                &format!("cannot read `{}`: {err}", path.display()),
            )
        })?;
        TrustedKey::parse(&text)
            .map_err(|err| self.invalid(key, entry, &format!("`{}`: {err}", path.display())))
    }

    fn plugin(
        &self,
        name: &str,
        raw: RawPlugin,
        defaults: &Limits,
        signatures: &Signatures,
        stores: &BTreeMap<String, StoreConfig>,
    ) -> Result<PluginConfig, LoadError> {
        let key = |field: &str| format!("plugins.{name}.{field}");
        if !valid_plugin_name(name) {
            return Err(self.invalid(
                &format!("plugins.{name}"),
                name,
                "plugin names are lowercase letters, digits, `_` and `-`, starting with a letter or digit",
            ));
        }
        let wasm = self.base.join(&raw.wasm);
        if !wasm.is_file() {
            return Err(self.invalid(
                &key("wasm"),
                &raw.wasm,
                &format!(
                    "no such file `{}` (paths are relative to the config file)",
                    wasm.display()
                ),
            ));
        }
        let sha256 = raw
            .sha256
            .as_deref()
            .map(|hash| {
                let normal = hash.trim().to_ascii_lowercase();
                let valid = normal.len() == 64 && normal.chars().all(|c| c.is_ascii_hexdigit());
                valid.then_some(normal).ok_or_else(|| {
                    self.invalid(&key("sha256"), hash, "expected 64 hexadecimal digits")
                })
            })
            .transpose()?;
        let wasi = match &raw.wasi {
            None => false,
            Some(value) => self.boolean(&key("wasi"), value)?,
        };
        let allowed_hosts = hosts::parse_list(&raw.allowed_hosts).map_err(|(index, reason)| {
            self.invalid(
                &format!("{}[{index}]", key("allowed_hosts")),
                &raw.allowed_hosts[index],
                &reason,
            )
        })?;
        let allowed_paths = raw
            .allowed_paths
            .iter()
            .enumerate()
            .map(|(index, path)| {
                self.allowed_path(&format!("{}[{index}]", key("allowed_paths")), path)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !allowed_paths.is_empty() && !wasi {
            return Err(self.invalid(
                &key("wasi"),
                "false",
                "`allowed_paths` needs WASI, since file access goes through it: set `wasi = true`",
            ));
        }
        for (index, path) in allowed_paths.iter().enumerate() {
            if allowed_paths[..index].iter().any(|p| p.guest == path.guest) {
                return Err(self.invalid(
                    &format!("{}[{index}].guest", key("allowed_paths")),
                    &path.guest,
                    "this guest path is already mapped",
                ));
            }
        }
        let config = raw
            .config
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                self.config_value(&format!("{}.{k}", key("config")), &text)?;
                Ok((k.clone(), text))
            })
            .collect::<Result<_, LoadError>>()?;
        let smoke = raw
            .smoke
            .iter()
            .enumerate()
            .map(|(index, call)| self.smoke_call(&format!("{}[{index}]", key("smoke")), call))
            .collect::<Result<_, _>>()?;
        let own_keys = self.trusted_keys(&key("trusted_keys"), &raw.trusted_keys)?;
        let signature_required = signatures.required || !own_keys.is_empty();
        let mut trusted_keys = signatures.trusted_keys.clone();
        for own in own_keys {
            if !trusted_keys.contains(&own) {
                trusted_keys.push(own);
            }
        }
        if signature_required && trusted_keys.is_empty() {
            return Err(self.invalid(
                "signatures.required",
                "true",
                &format!(
                    "plugin `{name}` trusts no key, so it could never load: list public keys in \
                     `signatures.trusted_keys` or `{}`",
                    key("trusted_keys")
                ),
            ));
        }
        Ok(PluginConfig {
            wasm: WasmSource::File(wasm),
            sha256,
            wasi,
            allowed_hosts,
            allowed_paths,
            limits: self.limits(&format!("plugins.{name}"), &raw.limits(), defaults.clone())?,
            config,
            smoke,
            trusted_keys,
            signature_required,
            signature: None,
            kv: (raw.kv.as_ref())
                .map(|kv| self.kv_grant(name, kv, stores))
                .transpose()?,
            http_mocks: None,
        })
    }

    fn smoke_call(&self, key: &str, raw: &RawSmoke) -> Result<SmokeCall, LoadError> {
        if raw.function.is_empty() {
            return Err(self.invalid(&format!("{key}.function"), "", "name a function"));
        }
        let input = raw.input.to_string();
        if let Err(problem) = check_json(input.as_bytes()) {
            return Err(self.invalid(
                &format!("{key}.input"),
                &input,
                &format!("this input would break the contract: {problem}"),
            ));
        }
        Ok(SmokeCall::new(
            &raw.function,
            &raw.input,
            raw.expect.clone(),
        ))
    }

    /// Config values are text, but guests read some as JSON, and guests
    /// disagree on questionable JSON just as they do for input. A value that
    /// parses as JSON must therefore pass the same contract check; text that
    /// is not JSON at all is left alone.
    fn config_value(&self, key: &str, text: &str) -> Result<(), LoadError> {
        match check_json(text.as_bytes()) {
            Ok(()) | Err(JsonProblem::Syntax { .. }) => Ok(()),
            Err(problem) => Err(self.invalid(
                key,
                text,
                &format!("this JSON value would reach the plugin with a defect: {problem}"),
            )),
        }
    }

    fn allowed_path(&self, key: &str, raw: &RawAllowedPath) -> Result<AllowedPath, LoadError> {
        let host = self.base.join(&raw.host);
        if !host.is_dir() {
            return Err(self.invalid(
                &format!("{key}.host"),
                &raw.host,
                &format!("no such directory `{}`", host.display()),
            ));
        }
        if !raw.guest.starts_with('/') {
            return Err(self.invalid(
                &format!("{key}.guest"),
                &raw.guest,
                "the guest path must be absolute",
            ));
        }
        let writable = match &raw.writable {
            None => false,
            Some(value) => self.boolean(&format!("{key}.writable"), value)?,
        };
        Ok(AllowedPath {
            host,
            guest: raw.guest.clone(),
            writable,
        })
    }

    /// Applies the limits set in `raw` (at `section`) over `base`.
    fn limits(&self, section: &str, raw: &RawLimits, base: Limits) -> Result<Limits, LoadError> {
        let key = |field: &str| format!("{section}.{field}");
        let size = |field: &str, value: &Option<Scalar>, current: u64| match value {
            None => Ok(current),
            Some(value) => self.size(&key(field), value),
        };
        let count = |field: &str, value: &Option<Scalar>, current: u64| match value {
            None => Ok(current),
            Some(value) => self.count(&key(field), value),
        };
        let duration = |field: &str, value: &Option<Scalar>, current: Duration| match value {
            None => Ok(current),
            Some(value) => self.duration(&key(field), value),
        };
        let limits = Limits {
            timeout: duration("timeout", &raw.timeout, base.timeout)?,
            queue_timeout: duration("queue_timeout", &raw.queue_timeout, base.queue_timeout)?,
            instances: count("instances", &raw.instances, base.instances as u64)? as usize,
            memory: size("memory", &raw.memory, base.memory)?,
            fuel: count("fuel", &raw.fuel, base.fuel)?,
            init_fuel: count("init_fuel", &raw.init_fuel, base.init_fuel)?,
            max_input: size("max_input", &raw.max_input, base.max_input)?,
            max_output: size("max_output", &raw.max_output, base.max_output)?,
            max_http_response: size(
                "max_http_response",
                &raw.max_http_response,
                base.max_http_response,
            )?,
            max_module: size("max_module", &raw.max_module, base.max_module)?,
            max_kv_key: size("max_kv_key", &raw.max_kv_key, base.max_kv_key)?,
            max_kv_value: size("max_kv_value", &raw.max_kv_value, base.max_kv_value)?,
            max_kv_namespace_bytes: size(
                "max_kv_namespace_bytes",
                &raw.max_kv_namespace_bytes,
                base.max_kv_namespace_bytes,
            )?,
            max_kv_namespace_keys: count(
                "max_kv_namespace_keys",
                &raw.max_kv_namespace_keys,
                base.max_kv_namespace_keys,
            )?,
            max_kv_operations: count(
                "max_kv_operations",
                &raw.max_kv_operations,
                base.max_kv_operations,
            )?,
        };
        if limits.max_kv_key > MAX_KV_KEY {
            return Err(self.invalid(
                &key("max_kv_key"),
                &units::format_size(limits.max_kv_key),
                &format!(
                    "must be at most {}: keys are names, and one page of a listing carries up to 1,000 of them",
                    units::format_size(MAX_KV_KEY)
                ),
            ));
        }
        if limits.max_kv_value > MAX_KV_VALUE {
            return Err(self.invalid(
                &key("max_kv_value"),
                &units::format_size(limits.max_kv_value),
                &format!(
                    "must be at most {}: a value is read and written whole, through the plugin's memory",
                    units::format_size(MAX_KV_VALUE)
                ),
            ));
        }
        if limits.memory < units::WASM_PAGE || limits.memory > units::MAX_MEMORY {
            return Err(self.invalid(
                &key("memory"),
                &units::format_size(limits.memory),
                "must be between 64KiB and 4GiB",
            ));
        }
        Ok(limits)
    }

    fn size(&self, key: &str, value: &Scalar) -> Result<u64, LoadError> {
        let bytes = match value {
            Scalar::Integer(n) => Ok(*n),
            Scalar::Text(text) => units::parse_size(text),
            Scalar::Bool(_) => Err("expected a size like `64MiB`".to_string()),
        };
        match bytes {
            Ok(0) => Err(self.invalid(key, &value.to_string(), "must be greater than zero")),
            Ok(n) => Ok(n),
            Err(reason) => Err(self.invalid(key, &value.to_string(), &reason)),
        }
    }

    fn count(&self, key: &str, value: &Scalar) -> Result<u64, LoadError> {
        let n = match value {
            Scalar::Integer(n) => Some(*n),
            Scalar::Text(text) => text.trim().replace('_', "").parse().ok(),
            Scalar::Bool(_) => None,
        };
        match n {
            Some(0) => Err(self.invalid(key, &value.to_string(), "must be greater than zero")),
            Some(n) => Ok(n),
            None => Err(self.invalid(key, &value.to_string(), "expected a whole number")),
        }
    }

    fn duration(&self, key: &str, value: &Scalar) -> Result<Duration, LoadError> {
        let parsed = match value {
            Scalar::Text(text) => units::parse_duration(text),
            _ => Err("expected a duration with a unit, like `2s` or `250ms`".to_string()),
        };
        match parsed {
            Ok(d) if d.is_zero() => {
                Err(self.invalid(key, &value.to_string(), "must be greater than zero"))
            }
            Ok(d) => Ok(d),
            Err(reason) => Err(self.invalid(key, &value.to_string(), &reason)),
        }
    }

    fn boolean(&self, key: &str, value: &Scalar) -> Result<bool, LoadError> {
        match value {
            Scalar::Bool(b) => Ok(*b),
            Scalar::Text(t) if t == "true" => Ok(true),
            Scalar::Text(t) if t == "false" => Ok(false),
            _ => Err(self.invalid(key, &value.to_string(), "expected `true` or `false`")),
        }
    }

    fn invalid(&self, key: &str, value: &str, reason: &str) -> LoadError {
        let env_var = format!("{ENV_PREFIX}__{}", key.replace('.', "__")).to_ascii_uppercase();
        let origin = std::env::var_os(&env_var).map(|_| env_var);
        LoadError::InvalidValue {
            file: self.file.to_path_buf(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
            origin,
        }
    }
}

/// Whether `name` may name a plugin: lowercase letters, digits, `_` and
/// `-`, starting with a letter or digit.
pub fn valid_plugin_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo fuzz` (fuzz/seeds/config/yaml-block-nesting.bin):
    /// 10,000 levels of `- ` overflowed the YAML reader's stack.
    #[test]
    fn deeply_nested_yaml_is_an_error_not_a_stack_overflow() {
        for text in [
            "- ".repeat(10_000),
            "[".repeat(10_000),
            " ".repeat(300) + "a: 1",
        ] {
            let err = HostConfig::from_text("polyplug.yaml", &text).unwrap_err();
            assert!(
                err.to_string().contains("nests deeper than the 256 levels"),
                "{err}"
            );
        }
    }

    #[test]
    fn ordinary_yaml_is_well_under_the_nesting_bound() {
        let text = "defaults:\n  timeout: 2s\nplugins:\n  a:\n    config:\n      rules: [{id: x, tags: [a, b]}]\n";
        assert!(
            yaml_nesting_bound(text) < 16,
            "{}",
            yaml_nesting_bound(text)
        );
        assert_eq!(yaml_nesting_bound(&"- ".repeat(5)), 5);
        // A long flow mapping on one line is one level, not one per key.
        let wide = format!("rules: [{{{}}}]", vec!["k: 1"; 1000].join(", "));
        assert_eq!(yaml_nesting_bound(&wide), 3);
        // Right under the bound the reader copes (on a test thread's 2 MiB
        // stack), and the config is merely wrong.
        let deep = "- ".repeat(MAX_YAML_NESTING - 1) + "x";
        let err = HostConfig::from_text("polyplug.yaml", &deep).unwrap_err();
        assert!(!err.to_string().contains("nests deeper"), "{err}");
    }
}
