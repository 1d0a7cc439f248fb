//! Key-value state kept by the host (docs/contract.md, "Host-managed
//! state"): values that outlive the call, the instance and plugin reloads.
//!
//! The operator grants the plugin a store (`kv = "default"` in its
//! config); the host puts every key in the plugin's namespace, so keys are
//! plain names. Values are any JSON (serde types), at most `max_kv_value`
//! bytes as compact JSON. Every write gives the key a new version (a
//! `u64` that never repeats in the store), which [`compare_and_swap`]
//! checks.
//!
//! Every function returns the host's refusals as an [`Error`] whose code
//! is one of the contract's `kv_*` codes (`kv_not_granted`,
//! `kv_key_too_large`, `kv_value_too_large`, `kv_namespace_full`,
//! `kv_too_many_operations`, `kv_not_an_integer`, `kv_overflow`,
//! `kv_unavailable`, `kv_invalid_request`); returned from an export with
//! `?`, it reaches the caller with that code.
//!
//! ```ignore
//! use polyplug_pdk::kv;
//!
//! let visits = kv::increment("visits", 1)?.value;
//! kv::set("last_visitor", &name)?;
//! let last: Option<kv::Entry<String>> = kv::get("last_visitor")?;
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Error;

/// The most items one [`list`] returns.
pub const MAX_LIST_LIMIT: u32 = 1_000;

/// A value and its version.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    pub value: T,
    pub version: u64,
}

/// One key of a [`list`] page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Item {
    pub key: String,
    pub version: u64,
}

/// Keys in key order, and where the next page starts, if there may be one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Page {
    pub items: Vec<Item>,
    /// Pass to the next [`list`] call; `None` on the last page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// How a [`compare_and_swap`] went. A conflict is an expected outcome
/// (another writer got there first), not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// The value was written; this is its new version.
    Swapped { version: u64 },
    /// The key had another version (0: it does not exist); nothing was
    /// written.
    Conflict { current: u64 },
}

/// A counter after [`increment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Counter {
    pub value: i64,
    pub version: u64,
}

/// The largest magnitude a counter reaches: `2^53-1`, which every guest
/// language holds exactly.
pub const MAX_COUNTER: i64 = (1 << 53) - 1;

/// The value of `key` and its version, or `None` when it is not set. A
/// value that does not fit `T` is `kv_invalid_value` (a code of this SDK,
/// not the host's: the stored value is left as it is).
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<Entry<T>>, Error> {
    #[derive(Deserialize)]
    struct Found<'a> {
        #[serde(borrow)]
        value: &'a RawValue,
        version: u64,
    }
    let answer = call(&Request {
        op: "get",
        key: Some(key),
        ..Request::default()
    })?;
    let found: Option<Found<'_>> = decode(&answer)?;
    found
        .map(|found| {
            let value = crate::de::from_slice(found.value.get().as_bytes()).map_err(|e| {
                Error::new("kv_invalid_value", format!("the value of `{key}`: {e}"))
            })?;
            Ok(Entry {
                value,
                version: found.version,
            })
        })
        .transpose()
}

/// Sets `key` to `value`; returns its new version.
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<u64, Error> {
    #[derive(Deserialize)]
    struct Written {
        version: u64,
    }
    let value = to_json(value)?;
    let answer = call(&Request {
        op: "set",
        key: Some(key),
        value: Some(&value),
        ..Request::default()
    })?;
    Ok(decode::<Written>(&answer)?.version)
}

/// Deletes `key`; returns whether it existed.
pub fn delete(key: &str) -> Result<bool, Error> {
    #[derive(Deserialize)]
    struct Deleted {
        deleted: bool,
    }
    let answer = call(&Request {
        op: "delete",
        key: Some(key),
        ..Request::default()
    })?;
    Ok(decode::<Deleted>(&answer)?.deleted)
}

/// Up to `limit` (1 to [`MAX_LIST_LIMIT`]) keys starting with `prefix`, in
/// key order, after `cursor` (the previous page's [`Page::cursor`]).
pub fn list(prefix: &str, cursor: Option<&str>, limit: u32) -> Result<Page, Error> {
    let answer = call(&Request {
        op: "list",
        prefix: Some(prefix),
        cursor,
        limit: Some(limit),
        ..Request::default()
    })?;
    decode(&answer)
}

/// Writes `value` only if `key` still has version `expected` (0: only if
/// it does not exist). A value that changed and changed back has a new
/// version, so this detects it.
pub fn compare_and_swap<T: Serialize + ?Sized>(
    key: &str,
    expected: u64,
    value: &T,
) -> Result<Swap, Error> {
    #[derive(Deserialize)]
    struct Swapped {
        swapped: bool,
        version: u64,
    }
    let value = to_json(value)?;
    let answer = call(&Request {
        op: "cas",
        key: Some(key),
        version: Some(expected),
        value: Some(&value),
        ..Request::default()
    })?;
    let swapped: Swapped = decode(&answer)?;
    Ok(match swapped.swapped {
        true => Swap::Swapped {
            version: swapped.version,
        },
        false => Swap::Conflict {
            current: swapped.version,
        },
    })
}

/// Adds `by` (negative to subtract) to the integer at `key` (absent counts
/// as 0), atomically, and returns the result. A value that is not an
/// integer is `kv_not_an_integer`; a result past ±[`MAX_COUNTER`] is
/// `kv_overflow` and changes nothing.
pub fn increment(key: &str, by: i64) -> Result<Counter, Error> {
    let answer = call(&Request {
        op: "increment",
        key: Some(key),
        by: Some(by),
        ..Request::default()
    })?;
    decode(&answer)
}

/// A request as the host reads it; absent fields are left out.
#[derive(Default, Serialize)]
struct Request<'a> {
    op: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<i64>,
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, Error> {
    serde_json::value::to_raw_value(value).map_err(|e| {
        Error::new(
            "kv_invalid_value",
            format!("the value does not serialize: {e}"),
        )
    })
}

/// The host's answer: `{"ok": <result>}` or `{"error": {"code", "message"}}`.
#[derive(Deserialize)]
struct Answer<'a> {
    /// Present even when it is `null` (`get` of a missing key).
    #[serde(default, borrow, deserialize_with = "present")]
    ok: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<Error>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Reads an answer's result as `T`, or its error.
fn decode<'a, T: Deserialize<'a>>(answer: &'a [u8]) -> Result<T, Error> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::new(
            "kv_invalid_request",
            format!("the host's answer does not read: {e}"),
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(answer);
    deserializer.disable_recursion_limit();
    let answer = Answer::deserialize(&mut deserializer).map_err(|e| unreadable(&e))?;
    match (answer.ok, answer.error) {
        (_, Some(error)) => Err(error),
        (Some(ok), None) => {
            let mut deserializer = serde_json::Deserializer::from_str(ok.get());
            deserializer.disable_recursion_limit();
            T::deserialize(&mut deserializer).map_err(|e| unreadable(&e))
        }
        (None, None) => Err(unreadable(&"neither `ok` nor `error`")),
    }
}

/// Sends one request to the host's `polyplug_kv` and returns its answer.
fn call(request: &Request<'_>) -> Result<Vec<u8>, Error> {
    let json = serde_json::to_vec(request).expect("a request always serializes");
    host::request(&json)
}

#[cfg(target_arch = "wasm32")]
mod host {
    use extism_pdk::Memory;

    use crate::Error;

    #[allow(unsafe_code)]
    #[link(wasm_import_module = "extism:host/user")]
    unsafe extern "C" {
        fn polyplug_kv(request: u64) -> u64;
    }

    /// The request goes in a kernel block the guest frees; the answer
    /// comes back in a new block, read and freed here.
    pub fn request(request: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |e: &dyn std::fmt::Display| {
            Error::new(
                "kv_unavailable",
                format!("cannot reach the host's store: {e}"),
            )
        };
        let memory = Memory::from_bytes(request).map_err(|e| failed(&e))?;
        // SAFETY: `polyplug_kv` reads the block at `memory.offset()`, which
        // is live until freed below, and returns the offset of a new block.
        #[allow(unsafe_code)]
        let answer = unsafe { polyplug_kv(memory.offset()) };
        memory.free();
        let answer = Memory::find(answer).ok_or_else(|| failed(&"no answer"))?;
        let bytes = answer.to_vec();
        answer.free();
        Ok(bytes)
    }
}

/// Natively (`cargo test`) there is no host: every operation is
/// `kv_unavailable`.
#[cfg(not(target_arch = "wasm32"))]
mod host {
    use crate::Error;

    pub fn request(_request: &[u8]) -> Result<Vec<u8>, Error> {
        Err(Error::new("kv_unavailable", "no host outside wasm"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_leave_out_what_they_do_not_use() {
        let value = to_json(&serde_json::json!({"n": 1})).unwrap();
        let request = Request {
            op: "cas",
            key: Some("k"),
            version: Some(0),
            value: Some(&value),
            ..Request::default()
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"op":"cas","key":"k","value":{"n":1},"version":0}"#
        );
    }

    #[test]
    fn answers_read_as_results_or_coded_errors() {
        let counter: Counter = decode(br#"{"ok":{"value":-3,"version":7}}"#).unwrap();
        assert_eq!(
            counter,
            Counter {
                value: -3,
                version: 7
            }
        );
        let missing: Option<Item> = decode(br#"{"ok":null}"#).unwrap();
        assert_eq!(missing, None);
        let error =
            decode::<Counter>(br#"{"error":{"code":"kv_overflow","message":"past 2^53-1"}}"#)
                .unwrap_err();
        assert_eq!(
            (error.code(), error.message()),
            ("kv_overflow", "past 2^53-1")
        );
        let page: Page = decode(br#"{"ok":{"items":[{"key":"a","version":1}]}}"#).unwrap();
        assert_eq!(page.cursor, None);
    }
}
