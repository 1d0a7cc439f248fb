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
}

impl StoreConfig {
    /// An embedded store in the file at `path` (created when missing).
    pub fn embedded(path: impl Into<PathBuf>) -> Self {
        Self::Embedded { path: path.into() }
    }
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
            Some("redis") => {
                return Err(self.invalid(
                    &key("type"),
                    "redis",
                    "this polyplug has no Redis backend yet: use `embedded`",
                ));
            }
            Some(other) => {
                return Err(self.invalid(&key("type"), other, "expected `embedded`"));
            }
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
