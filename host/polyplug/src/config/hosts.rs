//! `allowed_hosts` patterns: what a plugin may reach over HTTP.
//!
//! polyplug's `http_request` (`imports.rs`) matches a request URL's host,
//! as the `url` crate writes it (never its port or scheme), against each
//! pattern. Only two forms are accepted, normalised:
//!
//! - an exact host: a DNS name (`api.example.com`), an IPv4 address
//!   (`127.0.0.1`) or a bracketed IPv6 address (`[::1]`);
//! - `*.` followed by a DNS name: any subdomain of it, at any depth, but not
//!   the name itself.
//!
//! (Extism's own matcher, which polyplug replaces, reads each pattern as a
//! glob: `*` alone allows everything and `[` opens a character class.)

use std::net::{Ipv4Addr, Ipv6Addr};

/// A validated `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// `*.suffix`: holds the suffix, without the leading `*.`.
    Subdomains(String),
}

impl HostPattern {
    /// Parses one entry; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let pattern = Self::parse_form(text)?;
        // A request's host is compared as the `url` crate writes it (`[::0]`
        // becomes `[::]`, `0x7f.0.0.1` becomes `127.0.0.1`): a pattern
        // written any other way would never match.
        let (host, example) = match &pattern {
            Self::Exact(host) => (host, host.clone()),
            Self::Subdomains(suffix) => (suffix, format!("a.{suffix}")),
        };
        let requested = url::Url::parse(&format!("http://{example}/"))
            .ok()
            .and_then(|url| url.host_str().map(str::to_string));
        match requested {
            Some(requested) if requested == example => Ok(pattern),
            Some(requested) => Err(format!(
                "requests to `{host}` carry the host `{}`, so this pattern would never match; write it that way",
                requested
                    .strip_prefix("a.")
                    .filter(|_| matches!(pattern, Self::Subdomains(_)))
                    .unwrap_or(&requested)
            )),
            None => Err(format!("`{host}` is not a host a URL can name")),
        }
    }

    /// The two accepted forms, normalised, before the URL check.
    fn parse_form(text: &str) -> Result<Self, String> {
        let pattern = text.trim().to_ascii_lowercase();
        if pattern.is_empty() {
            return Err("a host pattern cannot be empty".into());
        }
        if pattern == "*" {
            return Err("`*` would allow every host, including the host's own network; list the hosts the plugin needs".into());
        }
        if pattern.contains("://") {
            return Err("write only the host, without a scheme (ports and schemes are not restricted by `allowed_hosts`)".into());
        }
        if let Some(suffix) = pattern.strip_prefix("*.") {
            check_dns_name(suffix)?;
            return Ok(Self::Subdomains(suffix.to_string()));
        }
        if pattern.contains('*') {
            return Err(
                "`*` is only allowed as the whole first label, as in `*.example.com`".into(),
            );
        }
        if let Some(inner) = pattern.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
            inner
                .parse::<Ipv6Addr>()
                .map_err(|_| format!("`{inner}` is not an IPv6 address"))?;
            return Ok(Self::Exact(pattern));
        }
        if pattern.parse::<Ipv6Addr>().is_ok() {
            return Err("write IPv6 addresses in brackets, as in `[::1]`".into());
        }
        if looks_like_ipv4(&pattern) {
            pattern
                .parse::<Ipv4Addr>()
                .map_err(|_| format!("`{pattern}` is not an IPv4 address"))?;
            return Ok(Self::Exact(pattern));
        }
        check_dns_name(&pattern)?;
        Ok(Self::Exact(pattern))
    }

    /// Whether every host this pattern allows is also allowed by `other`.
    pub fn is_covered_by(&self, other: &HostPattern) -> bool {
        let Self::Subdomains(suffix) = other else {
            return self == other;
        };
        let host = match self {
            Self::Exact(host) | Self::Subdomains(host) => host,
        };
        host.strip_suffix(suffix.as_str())
            .is_some_and(|rest| rest.ends_with('.'))
            || matches!(self, Self::Subdomains(own) if own == suffix)
    }

    /// Whether a request to `host`, as the `url` crate writes a URL's
    /// host, is allowed by this pattern.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(exact) => host == exact,
            Self::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty()),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(host) => f.write_str(host),
            Self::Subdomains(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// Parses a whole list, rejecting entries that repeat or overlap: an overlap
/// is always a mistake (one of the two entries does nothing) and often a
/// sign that the author meant something narrower.
pub fn parse_list(entries: &[String]) -> Result<Vec<HostPattern>, (usize, String)> {
    let mut patterns: Vec<HostPattern> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let pattern = HostPattern::parse(entry).map_err(|reason| (index, reason))?;
        for earlier in &patterns {
            if pattern.is_covered_by(earlier) || earlier.is_covered_by(&pattern) {
                return Err((
                    index,
                    format!("overlaps with `{earlier}`: keep only the one you mean"),
                ));
            }
        }
        patterns.push(pattern);
    }
    Ok(patterns)
}

fn looks_like_ipv4(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_digit() || c == '.')
}

fn check_dns_name(name: &str) -> Result<(), String> {
    if !name.is_ascii() {
        return Err(format!(
            "`{name}` is not ASCII: write internationalised names in their `xn--` form"
        ));
    }
    if name.ends_with('.') {
        return Err(format!("remove the trailing dot from `{name}`"));
    }
    if name.len() > 253 {
        return Err("a host name is at most 253 characters".into());
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "`{name}` is not a host name (labels are letters, digits and inner `-`; no ports, paths, user info or spaces)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HostPattern, String> {
        HostPattern::parse(text)
    }

    #[test]
    fn accepts_names_addresses_and_subdomain_wildcards() {
        assert_eq!(
            parse("API.Example.com"),
            Ok(HostPattern::Exact("api.example.com".into()))
        );
        assert_eq!(
            parse("127.0.0.1"),
            Ok(HostPattern::Exact("127.0.0.1".into()))
        );
        assert_eq!(parse("[::1]"), Ok(HostPattern::Exact("[::1]".into())));
        assert_eq!(
            parse("*.example.com"),
            Ok(HostPattern::Subdomains("example.com".into()))
        );
    }

    #[test]
    fn rejects_what_a_glob_would_misread() {
        for bad in [
            "",
            "*",
            "http://example.com",
            "example.com:8080",
            "example.com/path",
            "user@example.com",
            "exa*mple.com",
            "*example.com",
            "example.com.",
            "ex ample.com",
            "[example.com]",
            "::1",
            "999.0.0.1",
            "exa?ple.com",
            "bücher.de",
            "a..b",
            "-a.com",
        ] {
            assert!(parse(bad).is_err(), "`{bad}` should be rejected");
        }
    }

    #[test]
    fn overlapping_entries_are_rejected() {
        let list =
            |items: &[&str]| parse_list(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(list(&["a.example.com", "b.example.com", "*.other.org"]).is_ok());
        assert_eq!(list(&["example.com", "Example.com"]).unwrap_err().0, 1);
        assert_eq!(list(&["*.example.com", "a.example.com"]).unwrap_err().0, 1);
        assert_eq!(
            list(&["a.b.example.com", "*.example.com"]).unwrap_err().0,
            1
        );
        assert_eq!(
            list(&["*.b.example.com", "*.example.com"]).unwrap_err().0,
            1
        );
        // The name itself is not covered by its wildcard, nor a look-alike suffix.
        assert!(list(&["example.com", "*.example.com"]).is_ok());
        assert!(list(&["notexample.com", "*.example.com"]).is_ok());
    }

    #[test]
    fn patterns_match_exact_hosts_and_subdomains_only() {
        let exact = parse("[::1]").unwrap();
        assert!(exact.matches("[::1]"));
        assert!(!exact.matches("[::2]"));
        let sub = parse("*.example.com").unwrap();
        assert!(sub.matches("a.example.com"));
        assert!(sub.matches("a.b.example.com"));
        for host in [
            "example.com",
            ".example.com",
            "notexample.com",
            "example.com.evil",
            "a.example.com.",
        ] {
            assert!(!sub.matches(host), "{host}");
        }
    }

    /// Found by `cargo fuzz` (fuzz/seeds/host_pattern/ipv6-not-canonical.txt):
    /// these parsed, but the `url` crate rewrites a request's host before
    /// Extism compares it, so they could never match.
    #[test]
    fn patterns_must_be_written_as_urls_write_hosts() {
        for (pattern, hint) in [
            ("[::0]", "`[::]`"),
            ("[0:0::1]", "`[::1]`"),
            ("0x7f.0.0.1", "`127.0.0.1`"),
            ("a.09", ""),
        ] {
            let err = parse(pattern).unwrap_err();
            assert!(err.contains(hint), "{pattern}: {err}");
        }
        for ok in ["[::1]", "127.0.0.1", "api.example.com", "*.example.com"] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }
}
