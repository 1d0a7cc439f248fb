//! The key-value state a case starts from: its plugin's namespace emptied,
//! then holding what `<case>.kv.json` lists, written through `Host::kv`
//! under the plugin's own limits.

use polyplug::Host;
use serde_json::{Map, Value, json};

/// Empties `plugin`'s namespace and writes `seed` into it.
pub async fn prepare(
    host: &Host,
    plugin: &str,
    seed: Option<&Map<String, Value>>,
) -> Result<(), String> {
    loop {
        let listed = request(host, plugin, json!({"op": "list", "limit": 1000})).await?;
        let items = listed["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for item in items {
            let key = item["key"].clone();
            request(host, plugin, json!({"op": "delete", "key": key})).await?;
        }
    }
    for (key, value) in seed.into_iter().flatten() {
        request(
            host,
            plugin,
            json!({"op": "set", "key": key, "value": value}),
        )
        .await
        .map_err(|why| format!("cannot seed key `{key}`: {why}"))?;
    }
    Ok(())
}

/// One request's `ok` answer, or its error as text.
async fn request(host: &Host, plugin: &str, request: Value) -> Result<Value, String> {
    let answer = host
        .kv(plugin, request.to_string().as_bytes())
        .await
        .map_err(|err| err.to_string())?;
    let mut answer: Value = serde_json::from_slice(&answer)
        .map_err(|err| format!("the store answered badly: {err}"))?;
    match answer.get_mut("ok") {
        Some(ok) => Ok(ok.take()),
        None => Err(format!(
            "error `{}`: {}",
            answer["error"]["code"].as_str().unwrap_or("?"),
            answer["error"]["message"].as_str().unwrap_or("")
        )),
    }
}
