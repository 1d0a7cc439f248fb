//! The host's side of the JSON contract (docs/contract.md): what may cross
//! into and out of a plugin.
//!
//! Guests in different languages disagree on questionable JSON (duplicate
//! keys, lone surrogates, absurd nesting), so the host lets none of it
//! through in either direction. The check streams over the document once and
//! builds nothing but the set of keys of the object it is in.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 128;

/// What is wrong with a JSON document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonProblem {
    #[error("not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("not JSON: {message}")]
    Syntax { message: String },
    #[error("duplicate key `{key}` in one object")]
    DuplicateKey { key: String },
    #[error("nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    /// serde_json (with its `raw_value` feature, which the host's build
    /// turns on) reads an object with this key as raw JSON text: a string
    /// would turn into a document that was never checked.
    #[error("key `{key}` is reserved by serde_json")]
    ReservedKey { key: String },
}

/// Keys serde_json gives a meaning of its own (`RawValue`, arbitrary
/// precision numbers); never valid contract JSON.
const SERDE_RESERVED_PREFIX: &str = "$serde_json::private::";

/// Checks that `bytes` is exactly one JSON document that every guest
/// language reads the same way.
pub fn check_json(bytes: &[u8]) -> Result<(), JsonProblem> {
    let text = std::str::from_utf8(bytes).map_err(|e| JsonProblem::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // Our own depth limit below replaces serde_json's (which stops at 127).
    deserializer.disable_recursion_limit();
    let found = Cell::new(None);
    let checked = Node {
        depth: 0,
        found: &found,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match (checked, found.take()) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(problem)) => Err(problem),
        (Err(err), None) => Err(JsonProblem::Syntax {
            message: err.to_string(),
        }),
    }
}

/// Reads the contract error object `{"code": "...", "message": "..."}` a
/// plugin sets through Extism's error channel; `None` if `text` is not one:
/// it must be strict contract JSON (see [`check_json`]) and an object (a
/// derived struct would also take `["code", "message"]`).
pub fn parse_plugin_error(text: &str) -> Option<(String, String)> {
    check_json(text.as_bytes()).ok()?;
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    let field = |name: &str| object.get(name)?.as_str().map(str::to_string);
    let (code, message) = (field("code")?, field("message")?);
    let valid_code = !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    valid_code.then_some((code, message))
}

/// One JSON value at a given depth; records the first contract problem in
/// `found` (serde errors can only carry text).
struct Node<'a> {
    depth: usize,
    found: &'a Cell<Option<JsonProblem>>,
}

impl Node<'_> {
    fn child(&self) -> Self {
        Node {
            depth: self.depth + 1,
            found: self.found,
        }
    }

    fn fail<E: de::Error>(&self, problem: JsonProblem) -> E {
        let error = E::custom(&problem);
        self.found.set(Some(problem));
        error
    }

    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth >= MAX_DEPTH {
            return Err(self.fail(JsonProblem::TooDeep { limit: MAX_DEPTH }));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    // serde_json hands strings over only once they decoded to valid Unicode,
    // so a lone surrogate escape is already a syntax error by now.
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.enter()?;
        while seq.next_element_seed(self.child())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.enter()?;
        let mut keys: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(Key(key)) = map.next_key()? {
            if key.starts_with(SERDE_RESERVED_PREFIX) {
                return Err(self.fail(JsonProblem::ReservedKey {
                    key: key.into_owned(),
                }));
            }
            if keys.contains(&key) {
                return Err(self.fail(JsonProblem::DuplicateKey {
                    key: key.into_owned(),
                }));
            }
            keys.insert(key);
            map.next_value_seed(self.child())?;
        }
        Ok(())
    }
}

/// An object key, borrowed from the input unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo fuzz` (fuzz/seeds/contract/raw-value-key.json): with
    /// serde_json's `raw_value` feature this string became an unchecked
    /// array holding a duplicate key.
    #[test]
    fn serde_json_reserved_keys_are_refused() {
        for text in [
            r#"{"$serde_json::private::RawValue":"[{\"a\":1,\"a\":2}]"}"#,
            r#"{"\u0024serde_json::private::RawValue":"[]"}"#,
            r#"[{"x":{"$serde_json::private::Number":"1"}}]"#,
        ] {
            assert!(
                matches!(
                    check_json(text.as_bytes()),
                    Err(JsonProblem::ReservedKey { .. })
                ),
                "{text}"
            );
        }
    }

    /// Found by `cargo fuzz`: an array and a lone surrogate in a field
    /// nobody reads passed as contract error objects.
    #[test]
    fn plugin_errors_are_strict_objects() {
        assert_eq!(
            parse_plugin_error(r#"{"code":"bad","message":"m"}"#),
            Some(("bad".into(), "m".into()))
        );
        for text in [
            r#"["invalid_input","no name"]"#,
            r#"{"code":"bad","message":"m","x":"\ud800"}"#,
            r#"{"code":"bad","message":"m","code":"other"}"#,
            r#"{"code":1,"message":"m"}"#,
        ] {
            assert_eq!(parse_plugin_error(text), None, "{text}");
        }
    }

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn accepts_ordinary_documents() {
        for ok in [
            r#"{"a":1,"b":[true,null,"x"],"c":{"a":2}}"#,
            " 42 ",
            r#""\ud83d\ude00""#,
            r#"{"a":{"a":{"a":1}}}"#,
        ] {
            assert_eq!(check_json(ok.as_bytes()), Ok(()), "{ok}");
        }
        assert_eq!(check_json(nested(MAX_DEPTH).as_bytes()), Ok(()));
    }

    #[test]
    fn rejects_duplicate_keys_even_when_escaped_differently() {
        assert_eq!(
            check_json(br#"{"a":1,"b":{"x":1,"x":2}}"#),
            Err(JsonProblem::DuplicateKey { key: "x".into() })
        );
        assert_eq!(
            check_json(br#"{"a":1,"\u0061":2}"#),
            Err(JsonProblem::DuplicateKey { key: "a".into() })
        );
    }

    #[test]
    fn rejects_lone_surrogates() {
        for bad in [r#""\ud800""#, r#""\udc00x""#, r#"{"\ud800":1}"#] {
            assert!(
                matches!(check_json(bad.as_bytes()), Err(JsonProblem::Syntax { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_nesting_past_the_limit() {
        assert_eq!(
            check_json(nested(MAX_DEPTH + 1).as_bytes()),
            Err(JsonProblem::TooDeep { limit: MAX_DEPTH })
        );
        // 100k levels must fail fast, not overflow the stack.
        assert_eq!(
            check_json(nested(100_000).as_bytes()),
            Err(JsonProblem::TooDeep { limit: MAX_DEPTH })
        );
    }

    #[test]
    fn rejects_non_utf8_trailing_data_and_emptiness() {
        assert_eq!(
            check_json(b"\"\xff\""),
            Err(JsonProblem::NotUtf8 { offset: 1 })
        );
        for bad in ["", "{} {}", "{", "nul", "[1,]"] {
            assert!(
                matches!(check_json(bad.as_bytes()), Err(JsonProblem::Syntax { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn plugin_errors_need_a_code_and_a_message() {
        assert_eq!(
            parse_plugin_error(r#"{"code":"invalid_input","message":"no name"}"#),
            Some(("invalid_input".into(), "no name".into()))
        );
        assert_eq!(parse_plugin_error("invalid_input"), None);
        assert_eq!(parse_plugin_error(r#"{"code":"x"}"#), None);
        assert_eq!(
            parse_plugin_error(r#"{"code":"Bad Code","message":""}"#),
            None
        );
    }
}
