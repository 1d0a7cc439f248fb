//! HTTP: tricks against an `allowed_hosts` of `127.0.0.1:*` (or the name
//! `localhost:*`), through the Rust reference guest's `fetch_json`.
//! Look-alike names, user info and IPv6-mapped addresses are refused; other
//! spellings of the allowed address reach it. Every port is granted, so
//! that only the host decides. Redirects are not followed: see
//! `findings.rs`.
//!
//! `http://127.0.0.1.:<port>/` is left out: the allowlist's URL parser
//! reads it as `127.0.0.1`, but the HTTP client resolves `127.0.0.1.` as a
//! name, so the result depends on the machine's resolver.

use std::collections::BTreeMap;

use polyplug::HostPattern;
use serde_json::json;

use super::harness::{Case, Cost, Expect, Good, check_once};
use crate::support::{RUST, Route, TestServer};

/// `greet` of the Rust reference guest.
pub const GREET: Good = Good {
    function: "greet",
    input: br#"{"name":"Ada"}"#,
    output: br#"{"greeting":"Hello, Ada!"}"#,
};

/// `fetch_json` of `url` by a Rust guest allowed to reach `allowed`.
fn fetch(name: &str, allowed: &str, url: &str, expect: Expect) -> Case {
    let mut plugin = RUST.plugin();
    plugin.allowed_hosts = vec![HostPattern::parse(allowed).unwrap()];
    let input = serde_json::to_vec(&json!({ "url": url })).unwrap();
    Case::new(format!("{name}: `{url}`"), plugin, "fetch_json", expect)
        .input(input)
        .good(GREET)
        .cost(Cost::Costly(200))
}

/// The guest's output for a fetched body (it keeps the body verbatim).
fn fetched(status: u16, body: &str) -> Expect {
    Expect::Output(format!(r#"{{"status":{status},"json":{body}}}"#).into_bytes())
}

fn port(server: &TestServer) -> &str {
    server.base.rsplit(':').next().unwrap()
}

pub fn cases() -> Vec<Case> {
    let data = TestServer::start(BTreeMap::from([(
        "/data".to_string(),
        Route::json(200, r#"{"answer":42}"#),
    )]));
    let other = TestServer::start(BTreeMap::from([(
        "/data".to_string(),
        Route::json(200, r#"{"other":true}"#),
    )]));
    let (data, other) = (port(&data).to_string(), port(&other).to_string());
    let answer = || fetched(200, r#"{"answer":42}"#);
    let ip = "127.0.0.1:*";
    let name = "localhost:*";
    vec![
        fetch(
            "a look-alike name",
            ip,
            "http://127.0.0.1.evil.example/data",
            Expect::HostNotAllowed("127.0.0.1.evil.example".into()),
        ),
        fetch(
            "a name ending in the address",
            ip,
            "http://evil-127.0.0.1/data",
            // Not even a valid URL: a name whose last label is numeric.
            Expect::Trap("Invalid URL"),
        ),
        fetch(
            "another port on the allowed host",
            ip,
            &format!("http://127.0.0.1:{other}/data"),
            fetched(200, r#"{"other":true}"#),
        ),
        fetch(
            "a file URL",
            ip,
            "file:///etc/passwd",
            Expect::HostNotAllowed(String::new()),
        ),
        fetch(
            "an FTP URL to the allowed host",
            ip,
            &format!("ftp://127.0.0.1:{data}/data"),
            // Only `http` and `https` are ever granted.
            Expect::HostNotAllowed("127.0.0.1".into()),
        ),
        fetch(
            "the allowed host as user info",
            ip,
            "http://127.0.0.1@evil.example/data",
            Expect::HostNotAllowed("evil.example".into()),
        ),
        fetch(
            "user info before the allowed host",
            ip,
            &format!("http://evil.example@127.0.0.1:{data}/data"),
            answer(),
        ),
        fetch(
            "a backslash before user info",
            ip,
            &format!("http://127.0.0.1:{data}\\@evil.example/data"),
            // The `url` crate reads host `127.0.0.1` and path
            // `/@evil.example/data`. polyplug sends the URL as it checked
            // it, so the request goes to the allowed host, which has no such
            // path: the guest reports the 404 page as not JSON.
            Expect::PluginError("upstream_error"),
        ),
        fetch(
            "the address in hex",
            ip,
            &format!("http://0x7f.1:{data}/data"),
            answer(),
        ),
        fetch(
            "the address as one number",
            ip,
            &format!("http://2130706433:{data}/data"),
            answer(),
        ),
        fetch(
            "the address mapped into IPv6",
            ip,
            &format!("http://[::ffff:127.0.0.1]:{data}/data"),
            Expect::HostNotAllowed("[::ffff:7f00:1]".into()),
        ),
        fetch(
            "an upper-case scheme",
            ip,
            &format!("HTTP://127.0.0.1:{data}/data"),
            answer(),
        ),
        fetch(
            "a name for the allowed address",
            ip,
            &format!("http://localhost:{data}/data"),
            Expect::HostNotAllowed("localhost".into()),
        ),
        fetch(
            "the allowed name in upper case",
            name,
            &format!("http://LOCALHOST:{data}/data"),
            answer(),
        ),
        fetch(
            "a trailing dot on the allowed name",
            name,
            &format!("http://localhost.:{data}/data"),
            Expect::HostNotAllowed("localhost.".into()),
        ),
        fetch(
            "a look-alike of the allowed name",
            name,
            "http://localhost.evil.example/data",
            Expect::HostNotAllowed("localhost.evil.example".into()),
        ),
        fetch(
            "the address behind the allowed name",
            name,
            &format!("http://127.0.0.1:{data}/data"),
            Expect::HostNotAllowed("127.0.0.1".into()),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_resists_look_alikes_and_says_what_it_allows() {
    check_once(cases()).await;
}
