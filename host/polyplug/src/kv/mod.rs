//! Host-managed key-value state: what a plugin's `polyplug_kv` request
//! means, the errors a guest can get back, and the stores that carry it
//! out (docs/contract.md, "Host-managed state").
//!
//! A request is parsed and checked here, against the plugin's limits,
//! before any store sees it ([`Request::parse`]); a [`Store`] runs the
//! operation on one backend, in one transaction, in the namespace the
//! host chose, and [`render`] writes the answer the guest reads. Every
//! backend gives the same semantics: versions from one store-wide counter,
//! compare-and-swap on versions, atomic increments, quotas per namespace.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | requests, error codes, answers, the [`Store`] handle |
//! | `embedded.rs` | the `redb` backend |

mod embedded;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::{Limits, StoreConfig};
use crate::contract::check_json;

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
/// Items a `list` returns when the request gives no `limit`.
const DEFAULT_LIST_LIMIT: u64 = 100;

/// Bytes a request may carry beyond its key and value (the field names,
/// the operation, a version): more is refused before it is parsed.
const REQUEST_OVERHEAD: u64 = 1024;

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

/// One checked operation. Values are compact JSON text that passed the
/// contract check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    Get {
        key: String,
    },
    Set {
        key: String,
        value: String,
    },
    Delete {
        key: String,
    },
    List {
        prefix: String,
        /// List keys after this one.
        cursor: Option<String>,
        limit: usize,
    },
    Cas {
        key: String,
        /// The version the key must have; 0: it must not exist.
        expected: u64,
        value: String,
    },
    Increment {
        key: String,
        by: i64,
    },
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

/// The request object as sent; which fields each operation takes is
/// checked after.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    op: String,
    key: Option<String>,
    /// Present (even as JSON `null`, a value like any other) or absent.
    #[serde(default, borrow, deserialize_with = "present")]
    value: Option<&'a RawValue>,
    prefix: Option<String>,
    cursor: Option<String>,
    limit: Option<u64>,
    version: Option<u64>,
    by: Option<i64>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

impl Request {
    /// The index of an operation in [`KV_OPERATIONS`].
    pub fn operation(&self) -> usize {
        match self {
            Request::Get { .. } => 0,
            Request::Set { .. } => 1,
            Request::Delete { .. } => 2,
            Request::List { .. } => 3,
            Request::Cas { .. } => 4,
            Request::Increment { .. } => 5,
        }
    }

    /// Reads and checks a request against `limits`. On failure, also the
    /// operation it named, when that could be read.
    pub fn parse(bytes: &[u8], limits: &KvLimits) -> Result<Request, (KvError, Option<usize>)> {
        let most = limits
            .value
            .saturating_add(limits.key)
            .saturating_add(REQUEST_OVERHEAD);
        if bytes.len() as u64 > most {
            let error = KvError::new(
                KvCode::ValueTooLarge,
                format!(
                    "the request is {} bytes; with a key of at most {} and a value of at most {} \
                     bytes, no request is larger than {most}",
                    bytes.len(),
                    limits.key,
                    limits.value
                ),
            );
            return Err((error, None));
        }
        check_json(bytes).map_err(|problem| {
            (
                KvError::invalid(format!("the request is not contract JSON: {problem}")),
                None,
            )
        })?;
        // The bytes passed the check: UTF-8, at most 128 levels deep.
        let text = std::str::from_utf8(bytes).unwrap_or_default();
        let mut deserializer = serde_json::Deserializer::from_str(text);
        deserializer.disable_recursion_limit();
        let wire = Wire::deserialize(&mut deserializer).map_err(|err| {
            let message = format!("the request is not a request object: {err}");
            (KvError::invalid(message), None)
        })?;
        let operation = KV_OPERATIONS[..6].iter().position(|op| *op == wire.op);
        let request = wire.check(limits);
        request.map_err(|error| (error, operation))
    }
}

impl Wire<'_> {
    fn check(self, limits: &KvLimits) -> Result<Request, KvError> {
        let op = self.op.clone();
        let fields: [(&str, bool); 7] = [
            ("key", self.key.is_some()),
            ("value", self.value.is_some()),
            ("prefix", self.prefix.is_some()),
            ("cursor", self.cursor.is_some()),
            ("limit", self.limit.is_some()),
            ("version", self.version.is_some()),
            ("by", self.by.is_some()),
        ];
        let takes: &[&str] = match op.as_str() {
            "get" | "delete" => &["key"],
            "set" => &["key", "value"],
            "list" => &["prefix", "cursor", "limit"],
            "cas" => &["key", "version", "value"],
            "increment" => &["key", "by"],
            other => {
                return Err(KvError::invalid(format!(
                    "unknown operation `{other}`: expected one of `get`, `set`, `delete`, \
                     `list`, `cas`, `increment`"
                )));
            }
        };
        if let Some((field, _)) = fields
            .iter()
            .find(|(f, given)| *given && !takes.contains(f))
        {
            return Err(KvError::invalid(format!(
                "`{op}` takes no `{field}` (it takes {})",
                takes
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let missing = |field: &str| KvError::invalid(format!("`{op}` needs `{field}`"));
        let key = |key: Option<String>| -> Result<String, KvError> {
            let key = key.ok_or_else(|| missing("key"))?;
            check_key(&key, "key", limits)?;
            Ok(key)
        };
        let value = |value: Option<&RawValue>| -> Result<String, KvError> {
            let value = compact(value.ok_or_else(|| missing("value"))?.get());
            if value.len() as u64 > limits.value {
                return Err(KvError::new(
                    KvCode::ValueTooLarge,
                    format!(
                        "the value is {} bytes as compact JSON, over the limit of {}",
                        value.len(),
                        limits.value
                    ),
                ));
            }
            Ok(value)
        };
        Ok(match op.as_str() {
            "get" => Request::Get {
                key: key(self.key)?,
            },
            "delete" => Request::Delete {
                key: key(self.key)?,
            },
            "set" => Request::Set {
                key: key(self.key)?,
                value: value(self.value)?,
            },
            "cas" => Request::Cas {
                key: key(self.key)?,
                expected: self.version.ok_or_else(|| missing("version"))?,
                value: value(self.value)?,
            },
            "increment" => {
                let by = self.by.ok_or_else(|| missing("by"))?;
                if by.unsigned_abs() > MAX_COUNTER as u64 {
                    return Err(KvError::new(
                        KvCode::Overflow,
                        format!("`by` is {by}, outside ±{MAX_COUNTER}"),
                    ));
                }
                Request::Increment {
                    key: key(self.key)?,
                    by,
                }
            }
            _ => {
                let prefix = self.prefix.unwrap_or_default();
                check_key(&prefix, "prefix", limits)?;
                if let Some(cursor) = &self.cursor {
                    check_key(cursor, "cursor", limits)?;
                }
                let limit = self.limit.unwrap_or(DEFAULT_LIST_LIMIT);
                if !(1..=MAX_LIST_LIMIT).contains(&limit) {
                    return Err(KvError::invalid(format!(
                        "`limit` is {limit}: it must be 1 to {MAX_LIST_LIMIT}"
                    )));
                }
                Request::List {
                    prefix,
                    cursor: self.cursor,
                    limit: limit as usize,
                }
            }
        })
    }
}

fn check_key(key: &str, what: &str, limits: &KvLimits) -> Result<(), KvError> {
    if key.len() as u64 > limits.key {
        return Err(KvError::new(
            KvCode::KeyTooLarge,
            format!(
                "the {what} is {} bytes, over the limit of {}",
                key.len(),
                limits.key
            ),
        ));
    }
    Ok(())
}

/// Valid JSON text without the whitespace between its tokens; strings and
/// numbers are kept exactly as written.
pub(crate) fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

/// The integer a stored value holds, for `increment`: JSON text written
/// as an integer (`-?(0|[1-9][0-9]*)`) within ±[`MAX_COUNTER`].
pub(crate) fn stored_integer(json: &str) -> Option<i64> {
    let digits = json.strip_prefix('-').unwrap_or(json);
    let well_formed = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !well_formed || digits.len() > 16 {
        return None;
    }
    let value: i64 = json.parse().ok()?;
    (value.unsigned_abs() <= MAX_COUNTER as u64).then_some(value)
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
/// last handle goes. Each backend is one variant (a Redis one would be
/// another, with the same semantics).
#[derive(Clone)]
pub(crate) enum Store {
    Embedded(Arc<embedded::Embedded>),
}

impl Store {
    /// Opens (or creates) the store `config` describes. A store already
    /// open in this process is shared, not opened twice.
    pub fn open(config: &StoreConfig) -> Result<Store, String> {
        match config {
            StoreConfig::Embedded { path } => embedded::Embedded::open(path).map(Store::Embedded),
        }
    }

    /// Runs `request` in `namespace` on a thread that may block, and waits
    /// for it. The caller's deadline bounds the wait: a call waiting here
    /// is abandoned at its deadline like any call blocked in a host
    /// function (`lane.rs`). Returns also how long the store took.
    pub async fn run(
        &self,
        namespace: Arc<str>,
        request: Request,
        quota: Quota,
    ) -> (Result<Outcome, KvError>, Duration) {
        let started = std::time::Instant::now();
        let result = match self {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> KvLimits {
        KvLimits::from(&Limits::default())
    }

    fn parse(text: &str) -> Result<Request, KvCode> {
        Request::parse(text.as_bytes(), &limits()).map_err(|(e, _)| e.code)
    }

    #[test]
    fn values_are_kept_as_compact_json_text() {
        let request = parse(r#"{"op":"set","key":"k","value":{ "a" : [1.50, 1e3, " x  y "] }}"#);
        assert_eq!(
            request,
            Ok(Request::Set {
                key: "k".into(),
                value: r#"{"a":[1.50,1e3," x  y "]}"#.into()
            })
        );
        let null = parse(r#"{"op":"set","key":"k","value":null}"#);
        assert_eq!(
            null,
            Ok(Request::Set {
                key: "k".into(),
                value: "null".into()
            })
        );
        assert_eq!(compact(r#" "a\" b" "#), r#""a\" b""#);
    }

    #[test]
    fn malformed_requests_are_invalid_requests() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"op":"get"}"#,
            r#"{"op":"fetch","key":"k"}"#,
            r#"{"op":"get","key":"k","key":"k"}"#,
            r#"{"op":"get","key":"k","extra":1}"#,
            r#"{"op":"get","key":"k","by":1}"#,
            r#"{"op":"set","key":"k"}"#,
            r#"{"op":"increment","key":"k","by":1.0}"#,
            r#"{"op":"list","limit":0}"#,
            r#"{"op":"list","limit":1001}"#,
            r#"{"op":"cas","key":"k","value":1}"#,
            r#"{"op":"get","key":"\ud800"}"#,
        ] {
            assert_eq!(parse(bad), Err(KvCode::InvalidRequest), "{bad}");
        }
    }

    #[test]
    fn limits_have_their_own_codes() {
        let long = "k".repeat(257);
        let key = format!(r#"{{"op":"get","key":"{long}"}}"#);
        assert_eq!(parse(&key), Err(KvCode::KeyTooLarge));
        let big = format!(
            r#"{{"op":"set","key":"k","value":"{}"}}"#,
            "v".repeat(1 << 20)
        );
        assert_eq!(parse(&big), Err(KvCode::ValueTooLarge));
        let by = format!(r#"{{"op":"increment","key":"k","by":{}}}"#, MAX_COUNTER + 1);
        assert_eq!(parse(&by), Err(KvCode::Overflow));
    }

    #[test]
    fn only_integer_text_within_the_safe_range_counts() {
        assert_eq!(stored_integer("0"), Some(0));
        assert_eq!(stored_integer("-12"), Some(-12));
        assert_eq!(stored_integer("9007199254740991"), Some(MAX_COUNTER));
        for not in [
            "9007199254740992",
            "1.0",
            "1e3",
            "01",
            "-",
            "\"1\"",
            "true",
            "-0x1",
        ] {
            assert_eq!(stored_integer(not), None, "{not}");
        }
    }

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
