//! Whether what a plugin gave is what a case expects, and if not, why, in
//! words a plugin author can act on.

use polyplug::CallError;
use serde_json::Value;

use super::cases::Expected;
use super::diff::{Difference, clip, differences};

/// How outputs are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compare {
    /// Byte for byte, as docs/contract.md section 6 requires: key order,
    /// spacing and the spelling of numbers count.
    Bytes,
    /// As JSON values: object key order and spacing do not count, numbers
    /// compare as numbers.
    Json,
}

/// Why a result is not the expected one.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// One line.
    pub problem: String,
    /// Where the two JSON values differ, when both are JSON.
    pub differences: Vec<Difference>,
}

impl Mismatch {
    pub fn new(problem: impl Into<String>) -> Self {
        Self {
            problem: problem.into(),
            differences: Vec::new(),
        }
    }
}

/// Checks `got` against `expected`.
pub fn check(
    expected: &Expected,
    got: &Result<Vec<u8>, CallError>,
    compare: Compare,
) -> Result<(), Mismatch> {
    match (expected, got) {
        (Expected::Output(want), Ok(got)) => same_output(want, got, compare),
        (Expected::Error(want), Err(CallError::Plugin { code, .. })) if want == code => Ok(()),
        (Expected::Error(want), Err(CallError::Plugin { code, message, .. })) => {
            Err(Mismatch::new(format!(
                "expected error `{want}`, got error `{code}`: {message}"
            )))
        }
        (Expected::Failure(want), Err(err))
            if !matches!(err, CallError::Plugin { .. }) && err.kind() == want =>
        {
            Ok(())
        }
        (Expected::Failure(want), Ok(got)) => Err(Mismatch::new(format!(
            "expected error[{want}], got output {}",
            shown(got)
        ))),
        (Expected::Failure(want), Err(err)) => Err(Mismatch::new(format!(
            "expected error[{want}], got {}",
            describe(err)
        ))),
        (Expected::Error(want), Ok(got)) => Err(Mismatch::new(format!(
            "expected error `{want}`, got output {}",
            shown(got)
        ))),
        (Expected::Error(want), Err(err)) => Err(Mismatch::new(format!(
            "expected error `{want}`, got error[{}]: {err}",
            err.kind()
        ))),
        (Expected::Output(_), Err(err)) => Err(Mismatch::new(format!(
            "expected output, got {}",
            describe(err)
        ))),
        (Expected::Missing, _) => Err(Mismatch::new(
            "no expected result yet: add `<case>.output.json` or `<case>.error.json`, \
             or run with `--update` to write what the plugin gives",
        )),
        (Expected::Broken(why), _) => Err(Mismatch::new(why.clone())),
    }
}

/// A call error as one line: its kind, its code for a plugin error.
pub fn describe(err: &CallError) -> String {
    match err {
        CallError::Plugin { code, message, .. } => format!("error `{code}`: {message}"),
        other => format!("error[{}]: {other}", other.kind()),
    }
}

fn same_output(want: &[u8], got: &[u8], compare: Compare) -> Result<(), Mismatch> {
    if compare == Compare::Bytes && want == got {
        return Ok(());
    }
    let values = (
        serde_json::from_slice::<Value>(want),
        serde_json::from_slice::<Value>(got),
    );
    let (want_value, got_value) = match values {
        (Ok(want_value), Ok(got_value)) => (want_value, got_value),
        (Err(err), _) => {
            return Err(Mismatch::new(format!(
                "the expected output is not JSON ({err}): expected {}, got {}",
                shown(want),
                shown(got)
            )));
        }
        // The host checked the output, so this is only JSON nested past
        // what serde_json reads.
        (_, Err(_)) => {
            return Err(Mismatch::new(format!(
                "output differs: expected {}, got {}",
                shown(want),
                shown(got)
            )));
        }
    };
    let found = differences(&want_value, &got_value);
    if found.is_empty() {
        return match compare {
            Compare::Json => Ok(()),
            Compare::Bytes => Err(Mismatch::new(format!(
                "same JSON value, other bytes (the contract compares bytes: key order, \
                 spacing and number spelling count; `--compare json` does not): {}",
                first_difference(want, got)
            ))),
        };
    }
    Err(Mismatch {
        problem: format!(
            "output differs in {} place{}",
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        ),
        differences: found,
    })
}

/// Bytes as text, clipped, in backticks.
fn shown(bytes: &[u8]) -> String {
    format!("`{}`", clip(&String::from_utf8_lossy(bytes), 120))
}

/// Where two byte strings first differ, with some context.
fn first_difference(want: &[u8], got: &[u8]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let start = at.saturating_sub(20);
    let around = |bytes: &[u8]| {
        let end = (at + 20).min(bytes.len());
        let text = String::from_utf8_lossy(&bytes[start.min(end)..end]).into_owned();
        let lead = if start > 0 { "…" } else { "" };
        let tail = if end < bytes.len() { "…" } else { "" };
        format!("`{lead}{text}{tail}`")
    };
    format!(
        "first difference at byte {at}: expected {}, got {}",
        around(want),
        around(got)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(bytes: &str) -> Result<Vec<u8>, CallError> {
        Ok(bytes.as_bytes().to_vec())
    }

    #[test]
    fn bytes_must_match_exactly_by_default() {
        let want = Expected::Output(br#"{"a":1,"b":2}"#.to_vec());
        assert!(check(&want, &output(r#"{"a":1,"b":2}"#), Compare::Bytes).is_ok());
        let err = check(&want, &output(r#"{"b":2,"a":1}"#), Compare::Bytes).unwrap_err();
        assert!(
            err.problem.starts_with("same JSON value, other bytes"),
            "{err:?}"
        );
        assert!(
            err.problem.contains("first difference at byte 2"),
            "{err:?}"
        );
    }

    #[test]
    fn json_comparison_ignores_key_order_and_spacing() {
        let want = Expected::Output(b"{\n  \"a\": 1,\n  \"b\": 2\n}".to_vec());
        assert!(check(&want, &output(r#"{"b":2,"a":1}"#), Compare::Json).is_ok());
    }

    #[test]
    fn a_different_value_lists_its_paths() {
        let want = Expected::Output(br#"{"a":[1,2]}"#.to_vec());
        let err = check(&want, &output(r#"{"a":[1,3]}"#), Compare::Json).unwrap_err();
        assert_eq!(err.problem, "output differs in 1 place");
        assert_eq!(err.differences[0].to_string(), "$.a[1]: expected 2, got 3");
    }

    #[test]
    fn an_error_case_passes_only_with_its_code() {
        let plugin_error = |code: &str| {
            Err(CallError::Plugin {
                plugin: "p".into(),
                function: "f".into(),
                code: code.into(),
                message: "why".into(),
            })
        };
        let want = Expected::Error("invalid_input".into());
        assert!(check(&want, &plugin_error("invalid_input"), Compare::Bytes).is_ok());
        let err = check(&want, &plugin_error("other"), Compare::Bytes).unwrap_err();
        assert_eq!(
            err.problem,
            "expected error `invalid_input`, got error `other`: why"
        );
        let err = check(&want, &output("{}"), Compare::Bytes).unwrap_err();
        assert_eq!(
            err.problem,
            "expected error `invalid_input`, got output `{}`"
        );
    }

    #[test]
    fn a_failure_case_passes_only_with_a_host_error_of_its_kind() {
        let timeout = Err(CallError::Timeout {
            plugin: "p".into(),
            function: "f".into(),
            limit: std::time::Duration::from_secs(1),
        });
        let want = Expected::Failure("timeout".into());
        assert!(check(&want, &timeout, Compare::Bytes).is_ok());
        let err = check(
            &Expected::Failure("out_of_fuel".into()),
            &timeout,
            Compare::Bytes,
        )
        .unwrap_err();
        assert!(
            err.problem
                .starts_with("expected error[out_of_fuel], got error[timeout]"),
            "{err:?}"
        );
        // A plugin error whose code is spelled like a kind is still the
        // plugin's, not the host's.
        let plugin = Err(CallError::Plugin {
            plugin: "p".into(),
            function: "f".into(),
            code: "timeout".into(),
            message: "mine".into(),
        });
        assert!(check(&want, &plugin, Compare::Bytes).is_err());
    }
}
