//! The `{{name}}` polyplug plugin: one function per `export!`, JSON in and
//! JSON out. `tests/vectors/<function>/` holds the cases `just test` checks.

use polyplug_pdk::Error;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    greeting: String,
}

/// `{"name": "Ada"}` -> `{"greeting": "Hello, Ada!"}`. An input without a
/// string `name` fails with `invalid_input` before this runs.
fn greet(input: Input) -> Result<Output, Error> {
    Ok(Output {
        greeting: format!("Hello, {}!", input.name),
    })
}

polyplug_pdk::export!(greet);
