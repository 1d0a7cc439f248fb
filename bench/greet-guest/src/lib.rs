//! `greet` (docs/contract.md, section 5.1) for `just bench`'s HTTP rows,
//! where polyplug, a native handler and a Node.js server on
//! `@extism/extism` serve the same module.
//!
//! The reference Rust guest cannot be that module: polyplug-pdk turns on
//! extism-pdk's `http` feature, whose `http_headers` import the Node.js SDK
//! does not provide, so Node refuses to link it. This crate uses extism-pdk
//! without `http` and does what the SDK's `export!` does for `greet`: the
//! input must be an object with a string `name`, the output is compact JSON
//! written by serde_json, byte for byte the reference guest's, and a bad
//! input is the contract's `invalid_input` error object.
//!
//! It is a benchmark fixture, not a reference guest: `just test` does not
//! run it against `tests/vectors/`, and it reports no panics.

use extism_pdk::Memory;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    greeting: String,
}

#[derive(Serialize)]
struct ContractError {
    code: &'static str,
    message: String,
}

fn greet(input: &[u8]) -> Result<Output, ContractError> {
    let invalid = |message: String| ContractError {
        code: "invalid_input",
        message,
    };
    // serde would also read a struct from an array of its fields
    // (`["Ada"]`); the contract's input is an object.
    if input.trim_ascii_start().first() != Some(&b'{') {
        return Err(invalid("the input must be a JSON object".into()));
    }
    let input: Input = serde_json::from_slice(input).map_err(|err| invalid(err.to_string()))?;
    Ok(Output {
        greeting: format!("Hello, {}!", input.name),
    })
}

#[allow(unsafe_code)] // exporting a symbol is `unsafe` in edition 2024
#[unsafe(export_name = "greet")]
extern "C" fn export_greet() -> i32 {
    match greet(&extism_pdk::input_bytes()) {
        Ok(output) => {
            let json = serde_json::to_vec(&output).expect("two strings serialize");
            extism_pdk::output(json).expect("Extism accepts the output");
            0
        }
        Err(error) => {
            let json = serde_json::to_vec(&error).expect("two strings serialize");
            if let Ok(memory) = Memory::from_bytes(json) {
                // SAFETY: `memory` is a live Extism allocation holding the
                // error object; the host reads it once the call returns.
                #[allow(unsafe_code)]
                unsafe {
                    extism_pdk::extism::error_set(memory.offset());
                }
            }
            1
        }
    }
}
