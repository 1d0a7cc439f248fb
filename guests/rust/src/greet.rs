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

fn greet(input: Input) -> Result<Output, Error> {
    Ok(Output {
        greeting: format!("Hello, {}!", input.name),
    })
}

polyplug_pdk::export!(greet);
