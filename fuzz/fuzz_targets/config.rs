//! Config parsing: any text, read as TOML, YAML and JSON in turn.
//!
//! Loading must never panic, every error must name the file, and whatever
//! loads must hold what the validator promises: safe, non-zero limits, host
//! patterns that mean what they print, paths that exist, and config values
//! that pass the JSON contract.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use polyplug::JsonProblem;
use polyplug::fuzzing::check_json;
use polyplug::fuzzing::{MAX_MEMORY, WASM_PAGE};
use polyplug::{HostConfig, HostPattern, Limits, PluginConfig, WasmSource};
use polyplug_fuzz::expand;

/// Where the text pretends to live: `fixtures/plugin.wat` exists, so
/// `wasm = "plugin.wat"` and `allowed_paths = [{ host = "." ... }]` load.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

fuzz_target!(|data: &[u8]| {
    let document = expand(data);
    let Ok(text) = std::str::from_utf8(&document) else {
        return;
    };
    for name in ["polyplug.toml", "polyplug.yaml", "polyplug.json"] {
        let file = Path::new(FIXTURES).join(name);
        match HostConfig::from_text(file.clone(), text) {
            Ok(config) => check_loaded(&file, &config),
            Err(err) => {
                let message = err.to_string();
                assert!(
                    message.contains(&*file.to_string_lossy()),
                    "the error does not name the file: {message}"
                );
            }
        }
    }
});

fn check_loaded(file: &Path, config: &HostConfig) {
    assert_eq!(config.file.as_deref(), Some(file));
    assert!(!config.plugins.is_empty(), "loaded without plugins");
    for (name, plugin) in &config.plugins {
        assert!(
            name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'),
            "accepted the plugin name {name:?}"
        );
        check_plugin(name, plugin);
        check_limits(name, &plugin.limits);
    }
    let server = &config.server;
    assert!(server.body_limit > 0, "a zero body limit");
    assert!(!server.shutdown_grace.is_zero(), "a zero shutdown grace");
}

fn check_plugin(name: &str, plugin: &PluginConfig) {
    let WasmSource::File(wasm) = &plugin.wasm else {
        panic!("plugin `{name}`: a config file gave module bytes");
    };
    assert!(wasm.is_file(), "plugin `{name}`: no module at {wasm:?}");
    if let Some(hash) = &plugin.sha256 {
        assert!(
            hash.len() == 64 && hash.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
            "plugin `{name}`: sha256 {hash:?}"
        );
    }
    for (index, pattern) in plugin.allowed_hosts.iter().enumerate() {
        assert_eq!(
            HostPattern::parse(&pattern.to_string()).as_ref(),
            Ok(pattern),
            "plugin `{name}`: `{pattern}` does not re-parse to itself"
        );
        for earlier in &plugin.allowed_hosts[..index] {
            assert!(
                !pattern.is_covered_by(earlier) && !earlier.is_covered_by(pattern),
                "plugin `{name}`: `{earlier}` and `{pattern}` overlap"
            );
        }
    }
    assert!(
        plugin.allowed_paths.is_empty() || plugin.wasi,
        "plugin `{name}`: paths without WASI"
    );
    let mut guests: Vec<&str> = Vec::new();
    for path in &plugin.allowed_paths {
        assert!(path.guest.starts_with('/'), "plugin `{name}`: {path:?}");
        assert!(path.host.is_dir(), "plugin `{name}`: {path:?}");
        assert!(
            !guests.contains(&path.guest.as_str()),
            "plugin `{name}`: guest path {:?} mapped twice",
            path.guest
        );
        guests.push(&path.guest);
    }
    for (key, value) in &plugin.config {
        assert!(
            matches!(
                check_json(value.as_bytes()),
                Ok(()) | Err(JsonProblem::Syntax { .. })
            ),
            "plugin `{name}`: config value `{key}` = {value:?} fails the contract"
        );
    }
}

fn check_limits(name: &str, limits: &Limits) {
    let nonzero = [
        limits.fuel,
        limits.init_fuel,
        limits.max_input,
        limits.max_output,
        limits.max_http_response,
        limits.max_module,
        limits.instances as u64,
    ];
    assert!(
        !limits.timeout.is_zero() && !limits.queue_timeout.is_zero() && !nonzero.contains(&0),
        "plugin `{name}`: a zero limit in {limits:?}"
    );
    assert!(
        (WASM_PAGE..=MAX_MEMORY).contains(&limits.memory),
        "plugin `{name}`: memory {}",
        limits.memory
    );
}
