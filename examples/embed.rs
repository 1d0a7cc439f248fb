//! The smallest useful embedding: load a config, call a plugin, use the JSON.
//!
//! Run it with `cargo run -p polyplug-examples --bin embed` after
//! `just build-guests`.

use polyplug::{CallError, Host};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/polyplug.toml");
    let host = Host::from_config_file(config)?;

    let input = json!({"cart": {"currency": "EUR", "lines": [
        {"sku": "RUN-42", "quantity": 3, "unit_price": 8999, "tags": ["shoes"]},
        {"sku": "SOCK-1", "quantity": 1, "unit_price": 499},
    ]}});
    let out: serde_json::Value = host.call("discounts", "apply_discounts", &input).await?;
    println!("{}", serde_json::to_string_pretty(&out)?);

    // Failures are typed: branch on the variant, not on the message.
    match host
        .call::<_, serde_json::Value>("discounts", "apply_discounts", &json!({}))
        .await
    {
        Err(CallError::Plugin { code, message, .. }) => println!("rejected ({code}): {message}"),
        other => anyhow::bail!("expected a plugin error, got {other:?}"),
    }
    Ok(())
}
