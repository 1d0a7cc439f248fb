use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A failure the host sees as `{"code": "<code>", "message": "<message>"}`.
///
/// `code` is a short `snake_case` identifier that callers branch on;
/// `message` is for people. The constructors cover the contract's codes;
/// [`Error::new`] takes any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    code: Cow<'static, str>,
    message: String,
}

impl Error {
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Error {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The input does not have the shape the function needs.
    pub fn invalid_input(message: impl fmt::Display) -> Self {
        Error::new("invalid_input", message.to_string())
    }

    /// A config value the function reads is malformed.
    pub fn invalid_config(message: impl fmt::Display) -> Self {
        Error::new("invalid_config", message.to_string())
    }

    /// A response the function fetched is not usable.
    pub fn upstream_error(message: impl fmt::Display) -> Self {
        Error::new("upstream_error", message.to_string())
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The contract's error object, as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("two strings always serialize")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_contract_error_object() {
        let error = Error::invalid_input("missing field `name`");
        assert_eq!(
            error.to_json(),
            r#"{"code":"invalid_input","message":"missing field `name`"}"#
        );
    }

    #[test]
    fn escapes_the_message_like_any_output() {
        let error = Error::new("panic", "bad \"x\"\n</b>\u{1}");
        assert_eq!(
            error.to_json(),
            r#"{"code":"panic","message":"bad \"x\"\n</b>\u0001"}"#
        );
    }
}
