//! Config files that must fail to load, each beside a golden `.err` file
//! holding the exact message (Spin's `tests/ui/invalid` style). Run with
//! `POLYPLUG_BLESS=1` to rewrite the golden files after an intended change.

use std::fs;
use std::path::Path;

use polyplug::HostConfig;

#[test]
fn every_bad_config_fails_with_its_golden_message() {
    // Paths in messages are relative to tests/, where cargo runs this binary.
    let dir = Path::new("cases/config");
    let bless = std::env::var_os("POLYPLUG_BLESS").is_some();
    let mut cases: Vec<_> = fs::read_dir(dir)
        .expect("tests/cases/config exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "only {} config cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let got = match HostConfig::from_file(case) {
            Ok(_) => "<loaded without error>".to_string(),
            Err(err) => err.to_string(),
        };
        let golden = case.with_extension("err");
        if bless {
            fs::write(&golden, format!("{got}\n")).unwrap();
            continue;
        }
        let want = fs::read_to_string(&golden).unwrap_or_default();
        if want.trim_end() != got {
            failures.push(format!(
                "{}:\n  want {}\n  got  {got}",
                case.display(),
                want.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_example_config_loads_with_its_documented_values() {
    let config = HostConfig::from_file("../examples/polyplug.toml").expect("example config loads");
    let discounts = &config.plugins["discounts"];
    assert_eq!(
        discounts.limits.timeout,
        std::time::Duration::from_millis(250)
    );
    assert_eq!(discounts.limits.memory, 64 << 20);
    let rules: serde_json::Value = serde_json::from_str(&discounts.config["rules"]).unwrap();
    assert_eq!(rules[0]["id"], "shoes10");
    assert!(config.plugins["reference_go"].wasi);
    assert!(!config.plugins["reference_rust"].wasi);
}
