//! Write polyplug plugins in Rust as plain functions from a typed input to
//! a typed output.
//!
//! The SDK implements the guest side of polyplug's JSON contract
//! (`docs/contract.md`), so that a plugin is only its logic:
//!
//! - [`export!`] turns `fn(Input) -> Result<Output, Error>` into an Extism
//!   export: input parsed with serde (a mismatch is `invalid_input`; a
//!   struct accepts only an object, never serde's array form), output
//!   written as compact JSON in struct field order, an [`Error`] reported as
//!   the contract's `{"code","message"}` object.
//! - A panic reaches the host as `{"code":"panic","message":...}` with its
//!   message and location, not as a bare "wasm trap: unreachable".
//! - [`SafeInt`]: the contract's integers, `0..=2^53-1`, written without
//!   fraction or exponent.
//! - [`non_null`]: an optional field that may be absent but not `null`.
//! - [`config`]: plugin config values, as text or as typed JSON.
//! - [`http`]: `GET` through the host, and a response body kept verbatim.
//! - [`kv`]: key-value state the host keeps for the plugin: get, set,
//!   delete, list, compare-and-swap, atomic increment.
//!
//! ```ignore
//! use polyplug_pdk::Error;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Input { name: String }
//!
//! #[derive(Serialize)]
//! struct Greeting { greeting: String }
//!
//! fn greet(input: Input) -> Result<Greeting, Error> {
//!     Ok(Greeting { greeting: format!("Hello, {}!", input.name) })
//! }
//!
//! polyplug_pdk::export!(greet);
//! ```

pub mod config;
mod de;
mod error;
pub mod http;
mod int;
pub mod kv;
mod non_null;
mod report;

pub use error::Error;
pub use int::{IntError, SafeInt};
pub use non_null::non_null;
/// A JSON document kept as its exact text; serializing it writes that text.
pub use serde_json::value::RawValue;

/// Exports each named function to the host under its own name.
///
/// A function takes one input type (`serde::Deserialize`) and returns
/// `Result<Output, Error>` with `Output: serde::Serialize`. Put the macro in
/// the module that defines the function:
///
/// ```ignore
/// fn greet(input: Input) -> Result<Greeting, polyplug_pdk::Error> { /* ... */ }
/// polyplug_pdk::export!(greet);
/// ```
#[macro_export]
macro_rules! export {
    ($($function:ident),+ $(,)?) => {
        $(
            // An anonymous scope, so the export symbol does not clash with
            // the Rust function of the same name.
            const _: () = {
                #[unsafe(export_name = stringify!($function))]
                extern "C" fn export() -> i32 {
                    $crate::__private::call($function)
                }
            };
        )+
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::report::call;
}
