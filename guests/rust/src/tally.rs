use polyplug_pdk::{Error, SafeInt, kv};
use serde::{Deserialize, Serialize};

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

/// Adds `by` to the counter `key` in the plugin's key-value store, in one
/// atomic operation of the host, and returns the counter's new value.
fn tally(input: Input) -> Result<Output, Error> {
    // `SafeInt` is at most 2^53-1, so it always fits an `i64`.
    let counter = kv::increment(&input.key, input.by.get() as i64)?;
    Ok(Output {
        key: input.key,
        value: counter.value,
    })
}

polyplug_pdk::export!(tally);
