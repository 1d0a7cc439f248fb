//! Human-friendly sizes (`64MiB`, `512KB`, `1048576`) and durations (`2s`, `250ms`).

use std::time::Duration;

/// The unit in which wasm memory grows.
pub const WASM_PAGE: u64 = 64 << 10;
/// The most a 32-bit wasm memory can address.
pub const MAX_MEMORY: u64 = 4 << 30;

/// Parses a byte size: a bare integer is bytes; a suffix is one of
/// `B`, `KB`/`MB`/`GB` (powers of 1000) or `KiB`/`MiB`/`GiB` (powers of 1024).
/// Suffixes are case-sensitive so that `mb` (millibits?) is not silently read
/// as one of them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (digits, unit) = (&text[..split], text[split..].trim_start());
    // A number starts with a digit: `_MiB` and `_1` are not sizes.
    if !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("expected a number of bytes, optionally with a unit like `64MiB`".into());
    }
    let number: u64 = digits
        .replace('_', "")
        .parse()
        .map_err(|_| "the number is too large".to_string())?;
    let multiplier: u64 = match unit {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit `{other}` (use B, KB, MB, GB, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| "the size is too large".to_string())
}

/// Parses a duration like `2s`, `250ms`, `1m 30s`; a unit is required.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("{err} (expected a duration like `2s` or `250ms`)"))
}

/// Prints a size the way a person would write it in the config.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit && bytes.is_multiple_of(*unit))
        .map(|(unit, name)| format!("{}{name}", bytes / unit))
        .unwrap_or_else(|| format!("{bytes}B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_binary_and_decimal_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2KB"), Ok(2_000));
        assert_eq!(parse_size("1_048_576"), Ok(1 << 20));
        assert_eq!(parse_size("0"), Ok(0));
    }

    /// Found by `cargo fuzz` (fuzz/seeds/units/underscore-only): `_MiB`
    /// was "too large".
    #[test]
    fn a_size_starts_with_a_digit() {
        for text in ["_MiB", "_1", "MiB", ""] {
            assert!(
                parse_size(text)
                    .unwrap_err()
                    .starts_with("expected a number"),
                "{text}"
            );
        }
    }

    #[test]
    fn sizes_reject_unknown_units_and_overflow() {
        assert!(
            parse_size("64mb")
                .unwrap_err()
                .contains("unknown unit `mb`")
        );
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(
            parse_size("99999999999GiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("2").is_err());
    }

    #[test]
    fn sizes_print_in_the_largest_exact_unit() {
        assert_eq!(format_size(64 << 20), "64MiB");
        assert_eq!(format_size(1500), "1500B");
    }
}
