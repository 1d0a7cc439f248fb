//! The JSON contract boundary: `check_json` sees every input and output a
//! plugin exchanges, `parse_plugin_error` every error a plugin sets.
//!
//! Both must never panic, nor overflow the stack on deep nesting (inputs
//! starting with a zero byte expand to up to 65,535 repetitions: see
//! `polyplug_fuzz::expand`). `check_json` is a strict subset of what
//! serde_json reads: whatever it lets through, a guest using serde_json reads
//! too, and its reasons for refusing are true of the document.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polyplug::fuzzing::{check_json, parse_plugin_error};
use polyplug::{JsonProblem, MAX_DEPTH};
use polyplug_fuzz::{expand, nesting_depth};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let document = expand(data);
    check_document(&document);
    if let Ok(text) = std::str::from_utf8(&document) {
        check_plugin_error(text);
    }
});

fn check_document(bytes: &[u8]) {
    let verdict = check_json(bytes);
    // serde_json's own recursion limit keeps this safe at any depth.
    let reference = serde_json::from_slice::<Value>(bytes);
    match verdict {
        Ok(()) => {
            // serde_json's default reader stops at 127 levels, the host (and
            // the Rust SDK) at 128 (seeds/contract/depth-128.bin, README.md);
            // compare with serde_json's grammar, not its default limit.
            // Safe: what check_json accepted is at most 128 deep.
            let value = reference
                .or_else(|_| unlimited_depth(bytes))
                .unwrap_or_else(|err| panic!("check_json accepted what serde_json rejects: {err}"));
            assert!(
                nesting_depth(bytes) <= MAX_DEPTH,
                "accepted past the depth limit"
            );
            // serde_json reads an object with certain private keys as another
            // value (`$serde_json::private::RawValue` with `raw_value`): a
            // document must read as the kind of value it spells.
            let first = bytes.iter().find(|b| !b" \t\n\r".contains(b));
            assert_eq!(
                first == Some(&b'{'),
                value.is_object(),
                "the document reads as {value}"
            );
            let reprinted = serde_json::to_vec(&value).expect("a Value always prints");
            assert_eq!(
                check_json(&reprinted),
                Ok(()),
                "rejected serde_json's reprint of an accepted document"
            );
        }
        Err(JsonProblem::NotUtf8 { offset }) => {
            let err = std::str::from_utf8(bytes).expect_err("rejected valid UTF-8 as not UTF-8");
            assert_eq!(err.valid_up_to(), offset, "wrong offset for invalid UTF-8");
        }
        Err(JsonProblem::TooDeep { limit }) => {
            assert_eq!(limit, MAX_DEPTH);
            assert!(nesting_depth(bytes) > MAX_DEPTH, "too deep, but it is not");
        }
        Err(JsonProblem::Syntax { message }) => {
            assert!(
                reference.is_err(),
                "check_json found a syntax error ({message}) that serde_json does not"
            );
        }
        // serde_json keeps the last of duplicate keys, so it may accept the
        // document or not: nothing to compare.
        Err(JsonProblem::DuplicateKey { .. }) => {}
        Err(JsonProblem::ReservedKey { key }) => {
            assert!(
                key.starts_with("$serde_json::private::"),
                "refused `{key}` as reserved"
            );
        }
    }
}

fn unlimited_depth(bytes: &[u8]) -> serde_json::Result<Value> {
    use serde::Deserialize;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let value = Value::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

fn check_plugin_error(text: &str) {
    let Some((code, message)) = parse_plugin_error(text) else {
        return;
    };
    assert!(
        !code.is_empty()
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "accepted the code {code:?}"
    );
    // The error channel is held to the same contract as output.
    assert_eq!(
        check_json(text.as_bytes()),
        Ok(()),
        "accepted ({code:?}, {message:?}) from a document that breaks the contract"
    );
    let value: Value = serde_json::from_str(text).expect("a plugin error is JSON");
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("accepted {value} as a plugin error, which is no object"));
    assert_eq!(object.get("code"), Some(&Value::String(code)));
    assert_eq!(object.get("message"), Some(&Value::String(message)));
}
