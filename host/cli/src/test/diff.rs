//! Where two JSON values differ, as paths: `$.discounts[1].amount:
//! expected 50, got 5`. Objects are compared by key, whatever their order;
//! arrays item by item.

use std::fmt;

use serde_json::Value;

/// One place where the values differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// A JSONPath-like location: `$`, `$.key`, `$["odd key"]`, `$[3]`.
    pub path: String,
    /// What was expected there; `None` when the actual value has something
    /// the expected one does not.
    pub expected: Option<Value>,
    /// What the plugin gave there; `None` when it is missing.
    pub actual: Option<Value>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match (&self.expected, &self.actual) {
            (Some(expected), Some(actual)) => write!(
                f,
                "{path}: expected {}, got {}",
                short(expected),
                short(actual)
            ),
            (Some(expected), None) => write!(f, "{path}: missing (expected {})", short(expected)),
            (None, Some(actual)) => write!(f, "{path}: unexpected {}", short(actual)),
            (None, None) => write!(f, "{path}: differs"),
        }
    }
}

/// Every place where `actual` differs from `expected`: object keys in
/// sorted order, array items by index.
pub fn differences(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut found = Vec::new();
    walk("$".to_string(), expected, actual, &mut found);
    found
}

fn walk(path: String, expected: &Value, actual: &Value, found: &mut Vec<Difference>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want_value) in want {
                let at = child(&path, key);
                match got.get(key) {
                    Some(got_value) => walk(at, want_value, got_value, found),
                    None => found.push(Difference {
                        path: at,
                        expected: Some(want_value.clone()),
                        actual: None,
                    }),
                }
            }
            for (key, got_value) in got {
                if !want.contains_key(key) {
                    found.push(Difference {
                        path: child(&path, key),
                        expected: None,
                        actual: Some(got_value.clone()),
                    });
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            for index in 0..want.len().max(got.len()) {
                let at = format!("{path}[{index}]");
                match (want.get(index), got.get(index)) {
                    (Some(w), Some(g)) => walk(at, w, g, found),
                    (w, g) => found.push(Difference {
                        path: at,
                        expected: w.cloned(),
                        actual: g.cloned(),
                    }),
                }
            }
        }
        _ if expected == actual => {}
        _ => found.push(Difference {
            path,
            expected: Some(expected.clone()),
            actual: Some(actual.clone()),
        }),
    }
}

/// `path.key`, or `path["key"]` when the key is not a plain identifier.
fn child(path: &str, key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::from(key))
    }
}

/// A value as compact JSON, cut to a readable length.
pub fn short(value: &Value) -> String {
    clip(&value.to_string(), 80)
}

/// `text` cut to `max` characters, with `…` where it was cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lines(expected: Value, actual: Value) -> Vec<String> {
        differences(&expected, &actual)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn equal_values_have_no_differences_whatever_the_key_order() {
        let expected: Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let actual: Value = serde_json::from_str(r#"{"b":[1,2],"a":1}"#).unwrap();
        assert!(differences(&expected, &actual).is_empty());
    }

    #[test]
    fn a_changed_leaf_is_named_by_its_path() {
        assert_eq!(
            lines(
                json!({"discounts": [{"amount": 10}, {"amount": 50}]}),
                json!({"discounts": [{"amount": 10}, {"amount": 5}]})
            ),
            ["$.discounts[1].amount: expected 50, got 5"]
        );
    }

    #[test]
    fn missing_and_unexpected_keys_and_items_are_listed() {
        assert_eq!(
            lines(
                json!({"a": 1, "odd key": [1, 2]}),
                json!({"odd key": [1], "z": true})
            ),
            [
                "$.a: missing (expected 1)",
                r#"$["odd key"][1]: missing (expected 2)"#,
                "$.z: unexpected true",
            ]
        );
    }

    #[test]
    fn a_different_type_is_one_difference() {
        assert_eq!(
            lines(json!({"a": [1]}), json!({"a": "1"})),
            [r#"$.a: expected [1], got "1""#]
        );
    }

    #[test]
    fn long_values_are_clipped() {
        let long = "x".repeat(200);
        let line = &lines(json!(long), json!(1))[0];
        assert!(line.starts_with("$: expected \"xxx"), "{line}");
        assert!(line.contains("…, got 1"), "{line}");
    }
}
