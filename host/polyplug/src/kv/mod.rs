//! Host-managed key-value state: what a plugin's `polyplug_kv` request
//! means, the errors a guest can get back, and the stores that carry it
//! out (docs/contract.md, "Host-managed state").
//!
//! A request is parsed and checked (`request.rs`), against the plugin's limits,
//! before any store sees it ([`Request::parse`]); a [`Store`] runs the
//! operation on one backend, in one transaction, in the namespace the
//! host chose, and [`render`] writes the answer the guest reads. Every
//! backend gives the same semantics: versions from one store-wide counter,
//! compare-and-swap on versions, atomic increments, quotas per namespace.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | error codes, limits, answers, the [`Store`] handle |
//! | `request.rs` | a request read and checked against the plugin's limits |
//! | `embedded.rs` | the `redb` backend |
//! | `redis.rs` | the Redis backend |

mod embedded;
mod redis;
mod request;

pub(crate) use request::{Request, stored_integer};

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Limits, StoreConfig};

/// The operations of the ABI, as their `op` names, and `invalid` for a
/// request whose operation could not be read (metrics label them so).
pub const KV_OPERATIONS: [&str; 7] = [
    "get",
    "set",
    "delete",
    "list",
    "cas",
    "increment",
    "invalid",
];

/// The largest and smallest integer an increment reads, adds or leaves:
/// `±(2^53-1)`, which every guest language (JavaScript too) holds exactly.
pub(crate) const MAX_COUNTER: i64 = (1 << 53) - 1;

/// The most items one `list` returns.
pub(crate) const MAX_LIST_LIMIT: u64 = 1_000;
/// Why an operation did not succeed: the stable `code` a guest's SDK
/// returns as its error's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvCode {
    NotGranted,
    InvalidRequest,
    KeyTooLarge,
    ValueTooLarge,
    NamespaceFull,
    TooManyOperations,
    NotAnInteger,
    Overflow,
    Unavailable,
}

impl KvCode {
    /// Every code, in a fixed order.
    pub const ALL: [KvCode; 9] = [
        KvCode::NotGranted,
        KvCode::InvalidRequest,
        KvCode::KeyTooLarge,
        KvCode::ValueTooLarge,
        KvCode::NamespaceFull,
        KvCode::TooManyOperations,
        KvCode::NotAnInteger,
        KvCode::Overflow,
        KvCode::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KvCode::NotGranted => "kv_not_granted",
            KvCode::InvalidRequest => "kv_invalid_request",
            KvCode::KeyTooLarge => "kv_key_too_large",
            KvCode::ValueTooLarge => "kv_value_too_large",
            KvCode::NamespaceFull => "kv_namespace_full",
            KvCode::TooManyOperations => "kv_too_many_operations",
            KvCode::NotAnInteger => "kv_not_an_integer",
            KvCode::Overflow => "kv_overflow",
            KvCode::Unavailable => "kv_unavailable",
        }
    }

    pub(crate) fn index(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// An operation that failed, as the guest sees it.
#[derive(Debug, Clone)]
pub(crate) struct KvError {
    pub code: KvCode,
    pub message: String,
}

impl KvError {
    pub fn new(code: KvCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(KvCode::InvalidRequest, message)
    }

    /// A write refused because the namespace holds `keys` keys, its limit.
    pub fn full_of_keys(keys: u64) -> Self {
        Self::new(
            KvCode::NamespaceFull,
            format!("the namespace holds {keys} keys, its limit"),
        )
    }

    /// A write refused because it would take the namespace from `bytes` to
    /// `new_bytes`, past `limit`.
    pub fn full_of_bytes(bytes: u64, new_bytes: u64, limit: u64) -> Self {
        Self::new(
            KvCode::NamespaceFull,
            format!(
                "the namespace holds {bytes} bytes; this write would make it \
                 {new_bytes}, over its limit of {limit}"
            ),
        )
    }
}

/// The limits a request and a write are held to, from the plugin's
/// [`Limits`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct KvLimits {
    pub key: u64,
    pub value: u64,
    pub namespace_bytes: u64,
    pub namespace_keys: u64,
    pub operations: u64,
}

impl From<&Limits> for KvLimits {
    fn from(limits: &Limits) -> Self {
        Self {
            key: limits.max_kv_key,
            value: limits.max_kv_value,
            namespace_bytes: limits.max_kv_namespace_bytes,
            namespace_keys: limits.max_kv_namespace_keys,
            operations: limits.max_kv_operations,
        }
    }
}

/// What a successful operation gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `get`: the value's JSON text and its version, if the key exists.
    Found(Option<(String, u64)>),
    /// `set`: the new version.
    Written(u64),
    /// `delete`: whether the key existed.
    Deleted(bool),
    /// `list`: keys and versions in key order; a cursor when more may follow.
    Listed {
        items: Vec<(String, u64)>,
        cursor: Option<String>,
    },
    /// `cas`: whether it swapped; the new version, or the current one (0:
    /// no such key).
    Swapped { swapped: bool, version: u64 },
    /// `increment`: the value after it, and its version.
    Counted { value: i64, version: u64 },
}

/// The answer the guest reads: `{"ok": ...}` or `{"error": {"code",
/// "message"}}`, compact JSON.
pub(crate) fn render(result: &Result<Outcome, KvError>) -> Vec<u8> {
    let string = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let ok = match result {
        Err(error) => {
            return format!(
                r#"{{"error":{{"code":"{}","message":{}}}}}"#,
                error.code.as_str(),
                string(&error.message)
            )
            .into_bytes();
        }
        Ok(Outcome::Found(None)) => "null".to_string(),
        Ok(Outcome::Found(Some((value, version)))) => {
            format!(r#"{{"value":{value},"version":{version}}}"#)
        }
        Ok(Outcome::Written(version)) => format!(r#"{{"version":{version}}}"#),
        Ok(Outcome::Deleted(deleted)) => format!(r#"{{"deleted":{deleted}}}"#),
        Ok(Outcome::Listed { items, cursor }) => {
            let items: Vec<String> = items
                .iter()
                .map(|(key, version)| format!(r#"{{"key":{},"version":{version}}}"#, string(key)))
                .collect();
            let cursor = match cursor {
                Some(cursor) => format!(r#","cursor":{}"#, string(cursor)),
                None => String::new(),
            };
            format!(r#"{{"items":[{}]{cursor}}}"#, items.join(","))
        }
        Ok(Outcome::Swapped { swapped, version }) => {
            format!(r#"{{"swapped":{swapped},"version":{version}}}"#)
        }
        Ok(Outcome::Counted { value, version }) => {
            format!(r#"{{"value":{value},"version":{version}}}"#)
        }
    };
    format!(r#"{{"ok":{ok}}}"#).into_bytes()
}

/// Quotas a write is held to in its namespace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quota {
    pub bytes: u64,
    pub keys: u64,
}

/// A handle on one open store, cheap to clone; the store closes when the
/// last handle goes. Each backend is one variant, with the same semantics.
#[derive(Clone)]
pub(crate) enum Store {
    Embedded(Arc<embedded::Embedded>),
    Redis(Arc<redis::Redis>),
}

impl Store {
    /// Opens (or creates) the store `name` that `config` describes. An
    /// embedded store already open in this process is shared, not opened
    /// twice; a Redis store connects at its first operation, not here.
    pub fn open(name: &str, config: &StoreConfig) -> Result<Store, String> {
        match config {
            StoreConfig::Embedded { path } => embedded::Embedded::open(path).map(Store::Embedded),
            StoreConfig::Redis { url, ca } => {
                redis::Redis::open(name, url.expose(), ca.as_deref()).map(Store::Redis)
            }
        }
    }

    /// Runs `request` in `namespace` and waits for it: the embedded store
    /// on a thread that may block, Redis on this task until `deadline` at
    /// most. The caller's deadline bounds the wait: a call waiting here
    /// is abandoned at its deadline like any call blocked in a host
    /// function (`lane.rs`). Returns also how long the store took.
    pub async fn run(
        &self,
        namespace: Arc<str>,
        request: Request,
        quota: Quota,
        deadline: Instant,
    ) -> (Result<Outcome, KvError>, Duration) {
        let started = Instant::now();
        let result = match self {
            Store::Redis(store) => store.clone().run(namespace, request, quota, deadline).await,
            Store::Embedded(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.run(&namespace, request, quota))
                    .await
                    .unwrap_or_else(|err| {
                        Err(KvError::new(
                            KvCode::Unavailable,
                            format!("the store's thread failed: {err}"),
                        ))
                    })
            }
        };
        (result, started.elapsed())
    }
}

/// `url` without its password, for messages and logs.
pub(crate) fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) if url.contains('@') => {
            "(a URL that does not parse, not shown: it may hold a password)".to_string()
        }
        Err(_) => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_compact_json() {
        let listed = Outcome::Listed {
            items: vec![("a\"b".into(), 3)],
            cursor: Some("a\"b".into()),
        };
        assert_eq!(
            String::from_utf8(render(&Ok(listed))).unwrap(),
            r#"{"ok":{"items":[{"key":"a\"b","version":3}],"cursor":"a\"b"}}"#
        );
        let error = KvError::new(KvCode::NamespaceFull, "full");
        assert_eq!(
            String::from_utf8(render(&Err(error))).unwrap(),
            r#"{"error":{"code":"kv_namespace_full","message":"full"}}"#
        );
        assert_eq!(render(&Ok(Outcome::Found(None))), br#"{"ok":null}"#);
    }
}
