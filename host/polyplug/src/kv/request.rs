//! A `polyplug_kv` request, read and checked before any store sees it:
//! its size first (before parsing), then the contract's JSON check, then a
//! strict shape (each operation takes its own fields and no others), then
//! the plugin's limits on keys and values.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{KV_OPERATIONS, KvCode, KvError, KvLimits, MAX_COUNTER, MAX_LIST_LIMIT};
use crate::contract::check_json;

/// Items a `list` returns when the request gives no `limit`.
const DEFAULT_LIST_LIMIT: u64 = 100;

/// Bytes a request may carry beyond its key and value (the field names,
/// the operation, a version): more is refused before it is parsed.
const REQUEST_OVERHEAD: u64 = 1024;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;

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
}
