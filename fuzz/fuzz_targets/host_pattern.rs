//! `allowed_hosts` patterns against the hosts of request URLs.
//!
//! Each line of the input is tried both as a pattern and, read the way a
//! plugin's request URL is read (`url::Url::host_str()`), as a host. An
//! accepted pattern must print and re-parse to itself, `matches` exactly
//! the hosts it claims to allow (`allows`, written out here), and
//! `is_covered_by` must never claim a cover that `matches` does not give.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polyplug::HostPattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.lines().take(16).collect();
    let hosts: Vec<String> = lines.iter().filter_map(|line| request_host(line)).collect();
    let patterns: Vec<HostPattern> = lines
        .iter()
        .filter_map(|line| HostPattern::parse(line).ok())
        .inspect(check_pattern)
        .collect();
    for pattern in &patterns {
        for host in &hosts {
            assert_eq!(
                pattern.matches(host),
                allows(pattern, host),
                "`{pattern}` against the host `{host}`"
            );
        }
    }
    for narrow in &patterns {
        for wide in &patterns {
            if !narrow.is_covered_by(wide) {
                continue;
            }
            for host in hosts.iter().filter(|host| allows(narrow, host)) {
                assert!(
                    wide.matches(host),
                    "`{narrow}` is covered by `{wide}`, but only the first allows `{host}`"
                );
            }
        }
    }
});

/// The invariants of one accepted pattern.
fn check_pattern(pattern: &HostPattern) {
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
    if let HostPattern::Exact(host) = pattern {
        // A pattern whose host no request can have allows nothing: the
        // config should have been refused with a hint instead.
        assert_eq!(
            request_host(host).as_deref(),
            Some(host.as_str()),
            "`{pattern}` can never match: a request to it has another host"
        );
    }
}

/// What the pattern claims to allow: the exact host, or any name ending in
/// `.suffix` with a non-empty label before it.
fn allows(pattern: &HostPattern, host: &str) -> bool {
    match pattern {
        HostPattern::Exact(exact) => host == exact,
        HostPattern::Subdomains(suffix) => host
            .strip_suffix(suffix.as_str())
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
    }
}

/// The host polyplug matches for a request to `http://<text>/`, if any.
fn request_host(text: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://{text}/")).ok()?;
    url.host_str().map(str::to_string)
}
