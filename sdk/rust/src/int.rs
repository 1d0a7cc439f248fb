use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// An integer as the polyplug contract defines it: a JSON number written
/// `-?(0|[1-9][0-9]*)` (no fraction, no exponent) whose value is in
/// `0..=2^53-1`, the range every guest language holds exactly. `-0` is 0.
///
/// Deserialize it straight from JSON text (`serde_json::from_slice`/
/// `from_str`, which is what [`export!`](crate::export) and
/// [`config::json`](crate::config::json) do): the check needs the number as
/// written, which a `serde_json::Value` no longer has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SafeInt(u64);

impl SafeInt {
    pub const ZERO: SafeInt = SafeInt(0);
    /// `2^53 - 1`.
    pub const MAX: SafeInt = SafeInt((1 << 53) - 1);

    /// `None` above [`SafeInt::MAX`].
    pub const fn new(value: u64) -> Option<SafeInt> {
        if value <= Self::MAX.0 {
            Some(SafeInt(value))
        } else {
            None
        }
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// The product, or `None` above [`SafeInt::MAX`] (never wraps).
    pub fn checked_mul(self, rhs: SafeInt) -> Option<SafeInt> {
        self.0.checked_mul(rhs.0).and_then(SafeInt::new)
    }

    /// The sum, or `None` above [`SafeInt::MAX`].
    pub fn checked_add(self, rhs: SafeInt) -> Option<SafeInt> {
        SafeInt::new(self.0 + rhs.0) // two values below 2^53 never overflow u64
    }
}

impl From<SafeInt> for u64 {
    fn from(value: SafeInt) -> u64 {
        value.0
    }
}

impl fmt::Display for SafeInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A JSON value that is not a contract integer; shows the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntError {
    found: String,
}

impl fmt::Display for IntError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected an integer in 0..={}, found `{}`",
            SafeInt::MAX,
            self.found
        )
    }
}

impl std::error::Error for IntError {}

impl FromStr for SafeInt {
    type Err = IntError;

    /// Parses one JSON value's text, exactly as written (no surrounding
    /// whitespace).
    fn from_str(text: &str) -> Result<SafeInt, IntError> {
        let error = || IntError {
            found: text.to_owned(),
        };
        let digits = text.strip_prefix('-').unwrap_or(text);
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !well_formed || (text.starts_with('-') && digits != "0") {
            return Err(error());
        }
        // Too many digits for u64 is out of range as well.
        digits.parse().ok().and_then(SafeInt::new).ok_or_else(error)
    }
}

impl<'de> Deserialize<'de> for SafeInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SafeInt, D::Error> {
        // serde_json hands `-0`, `-0.0` and `0e0` all to `visit_f64`, so
        // only the raw text tells an integer from a float.
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        raw.get().parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<u64, String> {
        serde_json::from_str::<SafeInt>(json)
            .map(SafeInt::get)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_integers_in_range() {
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("-0"), Ok(0));
        assert_eq!(parse("1999"), Ok(1999));
        assert_eq!(parse(" 7 "), Ok(7));
        assert_eq!(parse("9007199254740991"), Ok(9007199254740991));
    }

    #[test]
    fn rejects_fractions_exponents_and_signs() {
        for json in ["2.0", "2e0", "2E0", "1.5", "-0.0", "-1", "0e0", "1e2"] {
            assert!(parse(json).is_err(), "{json} was accepted");
        }
    }

    #[test]
    fn rejects_out_of_range() {
        for json in [
            "9007199254740992",
            "18446744073709551616",
            "100000000000000000000",
        ] {
            assert!(parse(json).is_err(), "{json} was accepted");
        }
    }

    #[test]
    fn rejects_other_json_types() {
        for json in [r#""2""#, "null", "true", "[1]", "{}"] {
            assert!(parse(json).is_err(), "{json} was accepted");
        }
    }

    #[test]
    fn error_names_the_value() {
        assert_eq!(
            parse("2.0").unwrap_err(),
            "expected an integer in 0..=9007199254740991, found `2.0`"
        );
    }

    #[test]
    fn from_str_rejects_what_json_would_reject() {
        for text in ["", "-", "01", "-01", "+1", " 1", "1 "] {
            assert!(text.parse::<SafeInt>().is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn arithmetic_stops_at_max() {
        let max = SafeInt::MAX;
        let two = SafeInt::new(2).unwrap();
        assert_eq!(max.checked_add(SafeInt::ZERO), Some(max));
        assert_eq!(max.checked_add(SafeInt::new(1).unwrap()), None);
        assert_eq!(max.checked_mul(two), None);
        assert_eq!(max.checked_mul(max), None, "must not wrap");
        assert_eq!(SafeInt::new(1 << 52).unwrap().checked_mul(two), None);
    }
}
