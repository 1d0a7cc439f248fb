//! The size and duration parsers behind every limit in the config.
//!
//! They must never panic; every size prints (`format_size`, used in error
//! messages) as text that parses back to it; and an error says what is
//! actually wrong.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polyplug::format_size;
use polyplug::fuzzing::{parse_duration, parse_size};

fuzz_target!(|data: &[u8]| {
    if let Some(bytes) = data.first_chunk::<8>() {
        let size = u64::from_le_bytes(*bytes);
        assert_eq!(parse_size(&format_size(size)), Ok(size), "{size} bytes");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_size(text) {
        Ok(size) => {
            assert!(text.contains(|c: char| c.is_ascii_digit()), "{text:?}");
            assert_eq!(parse_size(&format_size(size)), Ok(size), "{text:?}");
        }
        Err(reason) if reason == "the number is too large" => {
            let digits: String = text
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '_')
                .filter(|c| *c != '_')
                .collect();
            assert!(
                !digits.is_empty() && digits.parse::<u64>().is_err(),
                "{text:?}: {reason}, but its number is {digits:?}"
            );
        }
        Err(_) => {}
    }
    let _ = parse_duration(text);
});
