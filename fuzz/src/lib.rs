//! Helpers shared by the fuzz targets in `fuzz_targets/`.

use std::borrow::Cow;

/// Longest `open` plus `close` that [`expand`] repeats, so that one input
/// grows to at most `u16::MAX * 16` bytes (1 MiB).
const MAX_REPEATED: usize = 16;

/// Turns a short input into a long, deeply nested one, so that the fuzzer can
/// try 100k levels without 200 KB inputs (which would slow every mutation).
///
/// An input starting with a zero byte reads as
/// `0, count (u16, little-endian), open, 0, middle, 0, close` and becomes
/// `open` repeated `count` times, then `middle`, then `close` repeated `count`
/// times: `00 50 c3 5b 5b 00 00 5d 5d` is 100,000 `[` then 100,000 `]`.
/// Any other input is used as it is (no JSON, TOML or YAML text starts with
/// a zero byte).
pub fn expand(data: &[u8]) -> Cow<'_, [u8]> {
    let [0, low, high, rest @ ..] = data else {
        return Cow::Borrowed(data);
    };
    let count = usize::from(u16::from_le_bytes([*low, *high]));
    let mut parts = rest.splitn(3, |&b| b == 0);
    let open = parts.next().unwrap_or_default();
    let middle = parts.next().unwrap_or_default();
    let close = parts.next().unwrap_or_default();
    if open.len() + close.len() > MAX_REPEATED {
        return Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(count * (open.len() + close.len()) + middle.len());
    for _ in 0..count {
        out.extend_from_slice(open);
    }
    out.extend_from_slice(middle);
    for _ in 0..count {
        out.extend_from_slice(close);
    }
    Cow::Owned(out)
}

/// The deepest nesting of `[` and `{` in JSON text, skipping strings; text
/// that is not JSON still gets a number (brackets are counted as they come).
pub fn nesting_depth(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &byte in text {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_byte_prefix_expands_to_nesting() {
        let deep = expand(&[0, 0x50, 0xc3, b'[', b'[', 0, 0, b']', b']']);
        assert_eq!(deep.len(), 200_000);
        assert_eq!(nesting_depth(&deep), 100_000);
        let object = expand(b"\x00\x02\x00{\"a\":\x001\x00}");
        assert_eq!(&*object, br#"{"a":{"a":1}}"#);
    }

    #[test]
    fn other_inputs_are_used_as_they_are() {
        assert_eq!(&*expand(b"[1]"), b"[1]");
        assert_eq!(&*expand(&[0, 1]), &[0, 1]);
    }

    #[test]
    fn depth_skips_brackets_in_strings() {
        assert_eq!(nesting_depth(br#"[{"a":"[[[\"["}]"#), 2);
        assert_eq!(nesting_depth(b"42"), 0);
    }
}
