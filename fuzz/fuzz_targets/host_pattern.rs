//! `allowed_hosts` patterns against what Extism does with them.
//!
//! Each line of the input is tried both as a pattern and, read the way a
//! plugin's request URL is read, as a host. Extism 1.41 compiles each
//! pattern's `to_extism_glob()` with the `glob` crate and matches it against
//! `url::Url::host_str()` (falling back to plain string equality when the
//! glob does not compile). An accepted pattern must print and re-parse to
//! itself, compile as a glob, match exactly the hosts it claims to allow,
//! and `is_covered_by` must never claim a cover that the globs do not give.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polyplug::HostPattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.lines().take(16).collect();
    let hosts: Vec<String> = lines.iter().filter_map(|line| request_host(line)).collect();
    let patterns: Vec<(HostPattern, glob::Pattern)> = lines
        .iter()
        .filter_map(|line| HostPattern::parse(line).ok())
        .map(|pattern| {
            let glob = check_pattern(&pattern);
            (pattern, glob)
        })
        .collect();
    for (pattern, glob) in &patterns {
        for host in &hosts {
            assert_eq!(
                glob.matches(host),
                allows(pattern, host),
                "`{pattern}` (glob `{glob}`) against the host `{host}`"
            );
        }
    }
    for (narrow, _) in &patterns {
        for (wide, wide_glob) in &patterns {
            if !narrow.is_covered_by(wide) {
                continue;
            }
            for host in hosts.iter().filter(|host| allows(narrow, host)) {
                assert!(
                    wide_glob.matches(host),
                    "`{narrow}` is covered by `{wide}`, but only the first allows `{host}`"
                );
            }
        }
    }
});

/// The invariants of one accepted pattern; returns the glob Extism builds.
fn check_pattern(pattern: &HostPattern) -> glob::Pattern {
    let printed = pattern.to_string();
    assert_eq!(
        HostPattern::parse(&printed).as_ref(),
        Ok(pattern),
        "`{printed}` does not re-parse to itself"
    );
    assert!(
        pattern.is_covered_by(pattern),
        "`{pattern}` does not cover itself"
    );
    let glob = glob::Pattern::new(&pattern.to_extism_glob()).unwrap_or_else(|err| {
        panic!("`{pattern}`: Extism cannot compile the glob: {err}");
    });
    if let HostPattern::Exact(host) = pattern {
        // A pattern whose host no request can have allows nothing: the
        // config should have been refused with a hint instead.
        assert_eq!(
            request_host(host).as_deref(),
            Some(host.as_str()),
            "`{pattern}` can never match: a request to it has another host"
        );
    }
    glob
}

/// What the pattern claims to allow: the exact host, or any name ending in
/// `.suffix`.
fn allows(pattern: &HostPattern, host: &str) -> bool {
    match pattern {
        HostPattern::Exact(exact) => host == exact,
        HostPattern::Subdomains(suffix) => host
            .strip_suffix(suffix.as_str())
            .is_some_and(|rest| rest.ends_with('.')),
    }
}

/// The host Extism matches for a request to `http://<text>/`, if any.
fn request_host(text: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://{text}/")).ok()?;
    url.host_str().map(str::to_string)
}
