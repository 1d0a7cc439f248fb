//! `[stores.<name>]` and a plugin's `kv` grant: which key-value stores
//! exist, and which one (and which namespace in it) each plugin reaches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::raw::RawStore;
use super::{PluginConfig, Validator, valid_plugin_name};
use crate::error::LoadError;

/// The store a `kv = "default"` grant reaches when the config declares no
/// `[stores.default]`.
pub const DEFAULT_STORE: &str = "default";

/// Where an embedded store lives when its table gives no `path`, relative
/// to the config file: `.polyplug/state/<name>.redb`.
pub fn default_store_path(base: &Path, name: &str) -> PathBuf {
    base.join(".polyplug/state").join(format!("{name}.redb"))
}

/// One key-value store (`[stores.<name>]`). Every backend gives the same
/// semantics (docs/contract.md, "Host-managed state").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreConfig {
    /// A `redb` file on this machine: needs no setup, and outlives plugin
    /// reloads and host restarts. Only one process opens a file at a time.
    Embedded { path: PathBuf },
    /// A Redis server (`redis://[user:password@]host[:port][/db]`, or
    /// `rediss://` for TLS) that any number of hosts share: versions,
    /// increments and quotas are exact across them. Connects at the first
    /// operation, not at load. `ca`: a PEM file of the certificate
    /// authorities a `rediss://` server's certificate must chain to,
    /// instead of the system's.
    Redis { url: RedisUrl, ca: Option<PathBuf> },
}

impl StoreConfig {
    /// An embedded store in the file at `path` (created when missing).
    pub fn embedded(path: impl Into<PathBuf>) -> Self {
        Self::Embedded { path: path.into() }
    }

    /// A Redis store at `url`; loading refuses a URL that is not
    /// `redis://` (a config file's `url` is checked when it is read).
    pub fn redis(url: impl Into<String>) -> Self {
        Self::Redis {
            url: RedisUrl(url.into()),
            ca: None,
        }
    }

    /// A Redis store at a `rediss://` `url` whose certificate must chain
    /// to a certificate authority in the PEM file `ca`.
    pub fn redis_tls(url: impl Into<String>, ca: impl Into<PathBuf>) -> Self {
        Self::Redis {
            url: RedisUrl(url.into()),
            ca: Some(ca.into()),
        }
    }
}

/// A Redis URL, which may hold a password: `Debug` and `Display` show it
/// with the password as `***`, so a config printed or logged keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL as written, password included: for connecting, not showing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::kv::redacted_url(&self.0))
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// Why `url` cannot name a Redis store, if it cannot.
pub(crate) fn check_redis_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|err| {
        format!(
            "not a URL ({err}): expected `redis://host:6379` or `redis://:password@host:6379/0`"
        )
    })?;
    match parsed.scheme() {
        "redis" | "rediss" => {}
        other => {
            return Err(format!(
                "the scheme is `{other}`: expected `redis://host:6379`, or `rediss://` for TLS"
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it names no host: expected `redis://host:6379`".to_string());
    }
    let db = parsed.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(format!(
            "the path `/{db}` is not a database number: expected `/0`, `/1`, ... or none"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("take out the `?` or `#` part: polyplug reads no URL options".to_string());
    }
    redis::Client::open(url).map_err(|err| err.to_string())?;
    Ok(())
}

/// What a plugin may reach of a key-value store (`kv = ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KvGrant {
    /// The name of a `[stores.<name>]` table.
    pub store: String,
    pub namespace: KvNamespace,
}

/// Which keys of the store a plugin sees. The guest never names its
/// namespace: the host puts every key it writes in the one it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KvNamespace {
    /// The plugin's own namespace, which no other plugin can reach (it is
    /// named after the plugin: a renamed plugin starts empty).
    Own,
    /// A namespace that every plugin granted the same name shares. It is
    /// apart from every plugin's own namespace, whatever the names.
    Shared(String),
}

impl KvGrant {
    /// The plugin's own namespace of `store`.
    pub fn own(store: impl Into<String>) -> Self {
        Self {
            store: store.into(),
            namespace: KvNamespace::Own,
        }
    }

    /// The namespace `namespace` of `store`, shared with every plugin
    /// granted it.
    pub fn shared(store: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            store: store.into(),
            namespace: KvNamespace::Shared(namespace.into()),
        }
    }

    /// The namespace the host stores `plugin`'s keys under. Own and shared
    /// namespaces have different prefixes, so a shared namespace named
    /// like a plugin never reaches that plugin's own keys.
    pub(crate) fn namespace_id(&self, plugin: &str) -> String {
        match &self.namespace {
            KvNamespace::Own => format!("plugin:{plugin}"),
            KvNamespace::Shared(name) => format!("shared:{name}"),
        }
    }
}

/// The stores `plugins` reach: those `declared`, plus the implicit
/// embedded `default` (in `base`) when a grant names it and it is not
/// declared. A grant of any other undeclared store is left for loading
/// to refuse.
pub(crate) fn stores_for<'a>(
    declared: &BTreeMap<String, StoreConfig>,
    base: &Path,
    plugins: impl IntoIterator<Item = (&'a String, &'a PluginConfig)>,
) -> BTreeMap<String, StoreConfig> {
    let mut stores = declared.clone();
    let wants_default = plugins
        .into_iter()
        .any(|(_, plugin)| plugin.kv.as_ref().is_some_and(|g| g.store == DEFAULT_STORE));
    if wants_default && !stores.contains_key(DEFAULT_STORE) {
        let path = default_store_path(base, DEFAULT_STORE);
        stores.insert(DEFAULT_STORE.to_string(), StoreConfig::embedded(path));
    }
    stores
}

impl Validator<'_> {
    pub(super) fn store(&self, name: &str, raw: &RawStore) -> Result<StoreConfig, LoadError> {
        let key = |field: &str| format!("stores.{name}.{field}");
        if !valid_plugin_name(name) {
            return Err(self.invalid(
                &format!("stores.{name}"),
                name,
                "store names are lowercase letters, digits, `_` and `-`, starting with a letter or digit",
            ));
        }
        match raw.r#type.as_deref() {
            None | Some("embedded") => {}
            Some("redis") => return self.redis_store(name, raw),
            Some(other) => {
                return Err(self.invalid(&key("type"), other, "expected `embedded` or `redis`"));
            }
        }
        if let Some(url) = &raw.url {
            return Err(self.invalid(
                &key("url"),
                &crate::kv::redacted_url(url),
                "`url` is for `type = \"redis\"` stores; an embedded store takes `path`",
            ));
        }
        if let Some(ca) = &raw.ca {
            return Err(self.invalid(
                &key("ca"),
                ca,
                "`ca` is for `type = \"redis\"` stores with a `rediss://` URL",
            ));
        }
        let path = match &raw.path {
            None => default_store_path(&self.base, name),
            Some(path) if path.trim().is_empty() => {
                return Err(self.invalid(&key("path"), path, "name a file"));
            }
            Some(path) => self.base.join(path),
        };
        if path.is_dir() {
            return Err(self.invalid(
                &key("path"),
                raw.path.as_deref().unwrap_or_default(),
                &format!(
                    "`{}` is a directory; name the store's file, like `state/{name}.redb`",
                    path.display()
                ),
            ));
        }
        Ok(StoreConfig::embedded(path))
    }

    fn redis_store(&self, name: &str, raw: &RawStore) -> Result<StoreConfig, LoadError> {
        let key = |field: &str| format!("stores.{name}.{field}");
        if let Some(path) = &raw.path {
            return Err(self.invalid(
                &key("path"),
                path,
                "a Redis store has no file: give its `url`, like `redis://127.0.0.1:6379`",
            ));
        }
        let Some(url) = &raw.url else {
            return Err(self.invalid(
                &format!("stores.{name}"),
                "type = \"redis\"",
                "a Redis store needs `url`, like `url = \"redis://127.0.0.1:6379\"`",
            ));
        };
        check_redis_url(url)
            .map_err(|reason| self.invalid(&key("url"), &crate::kv::redacted_url(url), &reason))?;
        let Some(ca) = &raw.ca else {
            return Ok(StoreConfig::redis(url.clone()));
        };
        if !url.starts_with("rediss://") {
            return Err(self.invalid(
                &key("ca"),
                ca,
                "`ca` is for TLS: the `url` must start with `rediss://`",
            ));
        }
        let path = self.base.join(ca);
        if !path.is_file() {
            return Err(self.invalid(
                &key("ca"),
                ca,
                &format!(
                    "`{}` is not a file: name a PEM file of certificate authorities",
                    path.display()
                ),
            ));
        }
        Ok(StoreConfig::redis_tls(url.clone(), path))
    }

    /// `kv = "<store>"` or `kv = { store = "<store>", namespace = "<name>" }`,
    /// checked against the stores the file declares (`default` is always
    /// there).
    pub(super) fn kv_grant(
        &self,
        plugin: &str,
        raw: &serde_json::Value,
        stores: &BTreeMap<String, StoreConfig>,
    ) -> Result<KvGrant, LoadError> {
        use serde_json::Value;
        let key = format!("plugins.{plugin}.kv");
        let shown = |value: &Value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let (store, store_key, namespace) = match raw {
            Value::String(store) => (store, key.clone(), None),
            Value::Object(table) => {
                if let Some(field) = table
                    .keys()
                    .find(|k| !["store", "namespace"].contains(&k.as_str()))
                {
                    return Err(self.invalid(
                        &format!("{key}.{field}"),
                        &shown(&table[field]),
                        "unknown key: a `kv` table has `store` and `namespace`",
                    ));
                }
                let store = match table.get("store") {
                    Some(Value::String(store)) => store,
                    Some(other) => {
                        return Err(self.invalid(
                            &format!("{key}.store"),
                            &shown(other),
                            "expected a store name, like `default`",
                        ));
                    }
                    None => {
                        return Err(self.invalid(
                            &key,
                            &raw.to_string(),
                            "name the store: `{ store = \"default\", namespace = \"...\" }`",
                        ));
                    }
                };
                let namespace = match table.get("namespace") {
                    None => None,
                    Some(Value::String(name)) => Some(name),
                    Some(other) => {
                        return Err(self.invalid(
                            &format!("{key}.namespace"),
                            &shown(other),
                            "expected a namespace name",
                        ));
                    }
                };
                (store, format!("{key}.store"), namespace)
            }
            other => {
                return Err(self.invalid(
                    &key,
                    &shown(other),
                    "expected a store name, like `kv = \"default\"`, or a table \
                     `kv = { store = \"default\", namespace = \"...\" }`",
                ));
            }
        };
        if store != DEFAULT_STORE && !stores.contains_key(store) {
            let declared: Vec<String> = stores
                .keys()
                .filter(|name| *name != DEFAULT_STORE)
                .map(|name| format!("`{name}`"))
                .collect();
            let known = match declared.is_empty() {
                true => "`default`".to_string(),
                false => format!("`default`, {}", declared.join(", ")),
            };
            return Err(self.invalid(
                &store_key,
                store,
                &format!("no such store: declare `[stores.{store}]`, or use one of {known}"),
            ));
        }
        let namespace = match namespace {
            None => KvNamespace::Own,
            Some(name) if valid_plugin_name(name) && name.len() <= MAX_NAMESPACE_NAME => {
                KvNamespace::Shared(name.clone())
            }
            Some(name) => {
                return Err(self.invalid(
                    &format!("{key}.namespace"),
                    name,
                    &format!(
                        "namespace names are at most {MAX_NAMESPACE_NAME} lowercase letters, \
                         digits, `_` and `-`, starting with a letter or digit"
                    ),
                ));
            }
        };
        Ok(KvGrant {
            store: store.clone(),
            namespace,
        })
    }
}

/// The longest shared namespace name.
const MAX_NAMESPACE_NAME: usize = 64;
