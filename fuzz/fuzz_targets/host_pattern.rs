//! `allowed_hosts` entries against request URLs.
//!
//! Each line of the input is tried both as an entry and as the place a
//! plugin's request goes: the line as a URL, and `http://<line>/` and
//! `https://<line>/`. An accepted entry must print and re-parse to itself,
//! `matches` must admit exactly the URLs the printed entry claims
//! (`allows`, written out here from the rule, not from polyplug's code),
//! and `is_covered_by` must never claim a cover that `matches` does not
//! give.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polyplug::HostPattern;
use polyplug::config::HostRule;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.lines().take(16).collect();
    let urls: Vec<Url> = lines.iter().flat_map(|line| request_urls(line)).collect();
    let patterns: Vec<HostPattern> = lines
        .iter()
        .filter_map(|line| HostPattern::parse(line).ok())
        .inspect(check_pattern)
        .collect();
    for pattern in &patterns {
        for url in &urls {
            assert_eq!(
                pattern.matches(url),
                allows(pattern, url),
                "`{pattern}` against `{url}`"
            );
        }
    }
    for narrow in &patterns {
        for wide in &patterns {
            if !narrow.is_covered_by(wide) {
                continue;
            }
            for url in urls.iter().filter(|url| allows(narrow, url)) {
                assert!(
                    wide.matches(url),
                    "`{narrow}` is covered by `{wide}`, but only the first allows `{url}`"
                );
            }
        }
    }
});

/// The invariants of one accepted entry.
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
    if let HostRule::Exact(host) = pattern.host() {
        // An entry whose host no request can have allows nothing: the
        // config should have been refused with a hint instead.
        let url = Url::parse(&format!("http://{host}/")).ok();
        assert_eq!(
            url.as_ref().and_then(Url::host_str),
            Some(host.as_str()),
            "`{pattern}` can never match: a request to it has another host"
        );
    }
}

/// What the printed entry `[scheme://]host[:port]` claims to allow, as
/// browsers read a CSP source expression: the scheme named, or else http
/// and https; the port named, any port for `*`, or else 80 for http and
/// 443 for https; the exact host, or any name ending in `.suffix` with a
/// non-empty label before it.
fn allows(pattern: &HostPattern, url: &Url) -> bool {
    let entry = pattern.to_string();
    let (scheme, rest) = match entry.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, entry.as_str()),
    };
    // The port follows the last `:` outside an IPv6 address's brackets.
    let (host, port) = match rest.rfind(':') {
        Some(colon) if !rest[colon..].contains(']') => (&rest[..colon], Some(&rest[colon + 1..])),
        _ => (rest, None),
    };
    let (Some(url_host), Some(url_port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let url_scheme = url.scheme();
    let scheme_allowed = match scheme {
        Some(scheme) => url_scheme == scheme,
        None => url_scheme == "http" || url_scheme == "https",
    };
    let port_allowed = match port {
        None => matches!((url_scheme, url_port), ("http", 80) | ("https", 443)),
        Some("*") => true,
        Some(port) => port.parse() == Ok(url_port),
    };
    let host_allowed = match host.strip_prefix("*.") {
        Some(suffix) => url_host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => url_host == host,
    };
    scheme_allowed && port_allowed && host_allowed
}

/// Where a request could go for `text`: `text` itself as a URL, and a URL
/// of either scheme whose authority is `text`.
fn request_urls(text: &str) -> Vec<Url> {
    [
        text.to_string(),
        format!("http://{text}/"),
        format!("https://{text}/"),
    ]
    .iter()
    .filter_map(|candidate| Url::parse(candidate).ok())
    .collect()
}
