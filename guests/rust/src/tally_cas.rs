use polyplug_pdk::{Error, SafeInt, kv};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Input {
    key: String,
    by: SafeInt,
}

#[derive(Serialize)]
struct Output {
    key: String,
    value: i64,
}

/// `tally` done with a read and a compare-and-swap, retried until no other
/// writer came in between (docs/contract.md, section 5.9).
fn tally_cas(input: Input) -> Result<Output, Error> {
    // `SafeInt` is at most 2^53-1, so it always fits an `i64`.
    let by = input.by.get() as i64;
    loop {
        let (current, version) = match kv::get::<Box<RawValue>>(&input.key)? {
            None => (0, 0),
            Some(entry) => (counter(&input.key, entry.value.get())?, entry.version),
        };
        // Both are within 2^53-1: the sum cannot wrap.
        let next = current + by;
        if next > kv::MAX_COUNTER {
            return Err(Error::new(
                "kv_overflow",
                format!("`{}`: {current} + {by} is past 2^53-1", input.key),
            ));
        }
        if let kv::Swap::Swapped { .. } = kv::compare_and_swap(&input.key, version, &next)? {
            return Ok(Output {
                key: input.key,
                value: next,
            });
        }
    }
}

/// The stored text as the store's `increment` reads it: an integer written
/// `-?(0|[1-9][0-9]*)` within ±(2^53-1), else `kv_not_an_integer`.
fn counter(key: &str, text: &str) -> Result<i64, Error> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let well_formed = digits == "0"
        || (!digits.is_empty()
            && !digits.starts_with('0')
            && digits.len() <= 16
            && digits.bytes().all(|b| b.is_ascii_digit()));
    let magnitude = well_formed
        .then(|| digits.parse::<i64>().ok())
        .flatten()
        .filter(|m| *m <= kv::MAX_COUNTER)
        .ok_or_else(|| {
            Error::new(
                "kv_not_an_integer",
                format!("`{key}` does not hold an integer within ±(2^53-1)"),
            )
        })?;
    Ok(if text.starts_with('-') {
        -magnitude
    } else {
        magnitude
    })
}

polyplug_pdk::export!(tally_cas);
