//! The config file exactly as written: the serde shape `config` reads into.
//! Nothing here is validated yet; `super::validate` turns it into
//! [`super::HostConfig`].

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub defaults: RawLimits,
    #[serde(default)]
    pub plugins: BTreeMap<String, RawPlugin>,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub signatures: RawSignatures,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub pipelines: BTreeMap<String, RawPipeline>,
    #[serde(default)]
    pub stores: BTreeMap<String, RawStore>,
}

/// `[stores.<name>]`: a key-value store plugins may be granted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub r#type: Option<String>,
    pub path: Option<String>,
    pub url: Option<String>,
    pub ca: Option<String>,
}

/// `[pipelines.<name>]`: steps, and the whole run's timeout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub steps: Vec<RawStep>,
    pub timeout: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub plugin: String,
    pub function: String,
}

/// `[admin]`: the admin API of `polyplug serve`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<String>,
    pub tokens_file: Option<String>,
    pub store: Option<String>,
}

/// `[signatures]`: the keys every plugin trusts, and whether every plugin
/// must be signed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignatures {
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    pub required: Option<Scalar>,
}

/// `[server]`: how `polyplug serve` listens and logs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub body_limit: Option<Scalar>,
    pub log_format: Option<String>,
    pub shutdown_grace: Option<Scalar>,
    pub watch: Option<Scalar>,
}

/// Limits can be set in `[defaults]` and per plugin.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub timeout: Option<Scalar>,
    pub memory: Option<Scalar>,
    pub fuel: Option<Scalar>,
    pub init_fuel: Option<Scalar>,
    pub max_input: Option<Scalar>,
    pub max_output: Option<Scalar>,
    pub max_http_response: Option<Scalar>,
    pub max_module: Option<Scalar>,
    pub instances: Option<Scalar>,
    pub queue_timeout: Option<Scalar>,
    pub max_kv_key: Option<Scalar>,
    pub max_kv_value: Option<Scalar>,
    pub max_kv_namespace_bytes: Option<Scalar>,
    pub max_kv_namespace_keys: Option<Scalar>,
    pub max_kv_operations: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugin {
    pub wasm: String,
    pub sha256: Option<String>,
    #[serde(default)]
    pub wasi: Option<Scalar>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_paths: Vec<RawAllowedPath>,
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub smoke: Vec<RawSmoke>,
    /// Keys this plugin trusts besides `[signatures] trusted_keys`.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// A key-value store grant: a store name, or `{ store, namespace }`;
    /// its shape is checked in `stores.rs`, naming the key.
    pub kv: Option<serde_json::Value>,
    // The same keys as `RawLimits`, spelled out because serde cannot combine
    // `flatten` with `deny_unknown_fields`.
    pub timeout: Option<Scalar>,
    pub memory: Option<Scalar>,
    pub fuel: Option<Scalar>,
    pub init_fuel: Option<Scalar>,
    pub max_input: Option<Scalar>,
    pub max_output: Option<Scalar>,
    pub max_http_response: Option<Scalar>,
    pub max_module: Option<Scalar>,
    pub instances: Option<Scalar>,
    pub queue_timeout: Option<Scalar>,
    pub max_kv_key: Option<Scalar>,
    pub max_kv_value: Option<Scalar>,
    pub max_kv_namespace_bytes: Option<Scalar>,
    pub max_kv_namespace_keys: Option<Scalar>,
    pub max_kv_operations: Option<Scalar>,
}

impl RawPlugin {
    pub fn limits(&self) -> RawLimits {
        RawLimits {
            timeout: self.timeout.clone(),
            memory: self.memory.clone(),
            fuel: self.fuel.clone(),
            init_fuel: self.init_fuel.clone(),
            max_input: self.max_input.clone(),
            max_output: self.max_output.clone(),
            max_http_response: self.max_http_response.clone(),
            max_module: self.max_module.clone(),
            instances: self.instances.clone(),
            queue_timeout: self.queue_timeout.clone(),
            max_kv_key: self.max_kv_key.clone(),
            max_kv_value: self.max_kv_value.clone(),
            max_kv_namespace_bytes: self.max_kv_namespace_bytes.clone(),
            max_kv_namespace_keys: self.max_kv_namespace_keys.clone(),
            max_kv_operations: self.max_kv_operations.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAllowedPath {
    pub host: String,
    pub guest: String,
    #[serde(default)]
    pub writable: Option<Scalar>,
}

/// `smoke = [{ function = "greet", input = {...}, expect = {...} }]`: a call
/// a new version must answer before it serves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmoke {
    pub function: String,
    pub input: serde_json::Value,
    pub expect: Option<serde_json::Value>,
}

/// A number, boolean or string as it came from the file or the environment
/// (environment overrides always arrive as strings); validation decides what
/// it may mean for each key.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Integer(u64),
    Bool(bool),
    Text(String),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Integer(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}
