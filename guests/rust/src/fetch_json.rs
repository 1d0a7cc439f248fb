use polyplug_pdk::{Error, RawValue, http};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    url: String,
}

#[derive(Serialize)]
struct Output {
    status: u16,
    /// The body as the server wrote it, so big numbers and escapes survive.
    json: Box<RawValue>,
}

fn fetch_json(input: Input) -> Result<Output, Error> {
    let response = http::get(&input.url)?;
    Ok(Output {
        status: response.status(),
        json: response.json_verbatim()?,
    })
}

polyplug_pdk::export!(fetch_json);
