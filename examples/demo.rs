//! `just demo`: calls every reference function in every guest language
//! through one host and prints what each returned, so the byte-for-byte
//! agreement (and the sandbox saying no) can be seen at a glance.

use std::time::Instant;

use polyplug::{CallError, Host};

const LANGUAGES: [(&str, &str); 4] = [
    ("rust", "reference_rust"),
    ("go", "reference_go"),
    ("assemblyscript", "reference_as"),
    ("js", "reference_js"),
];

const CALLS: &[(&str, &str)] = &[
    ("greet", r#"{"name":"Ada"}"#),
    ("greet", r#"{"name":"Zoë 👋"}"#),
    ("greet", r#"{"name":42}"#),
    (
        "apply_discounts",
        r#"{"cart":{"currency":"EUR","lines":[{"sku":"RUN-42","quantity":3,"unit_price":8999,"tags":["shoes"]},{"sku":"SOCK-1","quantity":1,"unit_price":499}]}}"#,
    ),
    (
        "analyze_text",
        r#"{"text":"Grüße aus Köln 🎉 — naïve café"}"#,
    ),
    (
        "normalize_cart",
        r#"{"cart":{"currency":" eur","lines":[{"sku":" sock-1 ","quantity":2,"unit_price":499,"tags":["Wool","wool"]}]}}"#,
    ),
    (
        "add_tax",
        r#"{"currency":"EUR","lines":[{"sku":"SOCK-1","subtotal":998,"discount":0,"total":998,"applied":[]}],"subtotal":998,"discount":0,"total":998}"#,
    ),
    (
        "format_receipt",
        r#"{"currency":"JPY","lines":[{"sku":"お茶","subtotal":300,"discount":0,"total":300,"applied":[]}],"subtotal":300,"discount":0,"total":300,"tax_rate_bp":1000,"tax":30,"total_with_tax":330}"#,
    ),
    // example.com is not in `allowed_hosts`: the host refuses the request.
    ("fetch_json", r#"{"url":"https://example.com/data.json"}"#),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/polyplug.toml");
    let started = Instant::now();
    let host = tokio::task::spawn_blocking(move || Host::from_config_file(config)).await??;
    println!(
        "loaded {} plugins from examples/polyplug.toml in {:.0?}\n",
        host.plugins().count(),
        started.elapsed()
    );

    let mut disagreements = 0;
    for (function, input) in CALLS {
        println!("{function} {input}");
        let mut first: Option<String> = None;
        for (language, plugin) in LANGUAGES {
            let started = Instant::now();
            let result = host.call_json(plugin, function, *input).await;
            let elapsed = started.elapsed();
            let shown = match result {
                Ok(output) => String::from_utf8_lossy(&output).into_owned(),
                Err(err) => describe(&err),
            };
            let same = first.as_ref().is_some_and(|f| *f == shown);
            disagreements += usize::from(first.is_some() && !same);
            let text = if same { "(identical)" } else { &shown };
            println!(
                "  {language:<15} {:>9.3} ms  {text}",
                elapsed.as_secs_f64() * 1e3
            );
            first.get_or_insert(shown);
        }
        println!();
    }
    if disagreements > 0 {
        anyhow::bail!("{disagreements} results differ between languages");
    }
    println!("every language returned identical results\n");
    checkout(&host).await?;
    counter(&host).await
}

/// Key-value state: the four plugins share the namespace `counters`, so
/// each language in turn bumps the same counter, by one `increment`
/// (`tally`) or a compare-and-swap loop (`tally_cas`).
async fn counter(host: &Host) -> anyhow::Result<()> {
    println!(
        "\ncounter `demo_visits` in examples/.polyplug/state/ (it carries on from the last run)"
    );
    let functions = ["tally", "tally_cas"].into_iter().cycle();
    for ((language, plugin), function) in LANGUAGES.into_iter().zip(functions) {
        let output = host
            .call_json(plugin, function, r#"{"key":"demo_visits","by":1}"#)
            .await?;
        println!(
            "  {language:<15} {function:<9}  {}",
            String::from_utf8_lossy(&output)
        );
    }
    Ok(())
}

/// The `checkout` pipeline: a cart through four plugins in four languages.
async fn checkout(host: &Host) -> anyhow::Result<()> {
    let input = include_str!("pipelines/checkout/shop_front_cart.input.json").trim_end();
    println!("pipeline checkout {input}");
    let started = Instant::now();
    let run = host.call_pipeline_traced("checkout", input).await?;
    let steps = &host.pipelines()["checkout"].steps;
    for (step, output) in steps.iter().zip(&run.trace) {
        let text = String::from_utf8_lossy(&output.output);
        println!(
            "  {:<15} {:>9.3} ms  {}: {}",
            step.plugin,
            output.elapsed.as_secs_f64() * 1e3,
            step.function,
            if text.len() > 100 {
                format!("{}…", &text[..text.floor_char_boundary(100)])
            } else {
                text.into_owned()
            }
        );
    }
    let receipt: serde_json::Value = serde_json::from_slice(&run.output)?;
    println!(
        "  the whole run took {:.3} ms; the receipt:\n",
        started.elapsed().as_secs_f64() * 1e3
    );
    for line in receipt["receipt"].as_str().unwrap_or_default().lines() {
        println!("    {line}");
    }
    Ok(())
}

fn describe(err: &CallError) -> String {
    match err {
        CallError::Plugin { code, .. } => format!("plugin error `{code}`"),
        CallError::HostNotAllowed { host, .. } => format!("refused: `{host}` is not allowed"),
        other => format!("error [{}]: {other}", other.kind()),
    }
}
