//! HTTP: tricks against an `allowed_hosts` entry for `127.0.0.1` (or the
//! name `localhost`), through the Rust reference guest's `fetch_json`.
//!
//! Hosts: look-alike names, user info and IPv6-mapped addresses are
//! refused; other spellings of the allowed address reach it (these cases
//! grant every port, so that only the host decides). Ports and schemes: a
//! bare host admits the default port of the request's scheme only, `:port`
//! that port, `:*` any, and `http://` or `https://` that scheme only; a
//! port outside the grant is refused alike whether or not anything listens
//! there. Redirects are not followed: see `findings.rs`.
//!
//! `http://127.0.0.1.:<port>/` is left out: the allowlist's URL parser
//! reads it as `127.0.0.1`, but the HTTP client resolves `127.0.0.1.` as a
//! name, so the result depends on the machine's resolver.

use std::collections::BTreeMap;
use std::net::TcpListener;

use polyplug::{CallError, HostPattern};
use serde_json::json;

use super::harness::{Case, Cost, Expect, Good, check_once};
use crate::support::{RUST, Route, TestServer, host_with};

/// `greet` of the Rust reference guest.
pub const GREET: Good = Good {
    function: "greet",
    input: br#"{"name":"Ada"}"#,
    output: br#"{"greeting":"Hello, Ada!"}"#,
};

/// A Rust guest allowed to reach `allowed` only.
fn granted(allowed: &str) -> polyplug::PluginConfig {
    let mut plugin = RUST.plugin();
    plugin.allowed_hosts = vec![HostPattern::parse(allowed).unwrap()];
    plugin
}

/// `fetch_json` of `url` by a Rust guest allowed to reach `allowed`.
fn fetch(name: &str, allowed: &str, url: &str, expect: Expect) -> Case {
    let input = serde_json::to_vec(&json!({ "url": url })).unwrap();
    Case::new(
        format!("{name}: `{url}` with `{allowed}`"),
        granted(allowed),
        "fetch_json",
        expect,
    )
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

/// A loopback port that nothing listens on (it did a moment ago).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

/// A server answering `/data` with `body`, and its port.
fn data_server(body: &str) -> String {
    let server = TestServer::start(BTreeMap::from([(
        "/data".to_string(),
        Route::json(200, body),
    )]));
    port(&server).to_string()
}

/// Both tables: what `repetitions.rs` repeats.
pub fn cases() -> Vec<Case> {
    [host_cases(), port_and_scheme_cases()].concat()
}

/// Spellings of hosts, under grants of every port of `127.0.0.1` or
/// `localhost`.
fn host_cases() -> Vec<Case> {
    let data = data_server(r#"{"answer":42}"#);
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
            "a file URL",
            ip,
            "file:///etc/passwd",
            Expect::HostNotAllowed(String::new()),
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

/// Ports and schemes of `127.0.0.1`: what each form of entry admits.
fn port_and_scheme_cases() -> Vec<Case> {
    let data = data_server(r#"{"answer":42}"#);
    let other = data_server(r#"{"other":true}"#);
    let closed = closed_port();
    let answer = || fetched(200, r#"{"answer":42}"#);
    let refused = || Expect::HostNotAllowed("127.0.0.1".into());
    let bare = "127.0.0.1";
    let any = "127.0.0.1:*";
    let exact = format!("127.0.0.1:{data}");
    vec![
        fetch(
            "another port of a bare host, where a server listens",
            bare,
            &format!("http://127.0.0.1:{other}/data"),
            refused(),
        ),
        fetch(
            "another port of a bare host, where nothing listens",
            bare,
            &format!("http://127.0.0.1:{closed}/data"),
            refused(),
        ),
        fetch(
            "port 80 written out under a bare host",
            bare,
            "http://127.0.0.1:80/data",
            // Admitted: what answers on port 80 depends on the machine.
            Expect::Admitted,
        ),
        fetch(
            "port 8080 under a bare host",
            bare,
            "http://127.0.0.1:8080/data",
            refused(),
        ),
        fetch(
            "https's default port over http under a bare host",
            bare,
            "http://127.0.0.1:443/data",
            refused(),
        ),
        fetch(
            "a star port, to one server",
            any,
            &format!("http://127.0.0.1:{data}/data"),
            answer(),
        ),
        fetch(
            "a star port, to another server",
            any,
            &format!("http://127.0.0.1:{other}/data"),
            fetched(200, r#"{"other":true}"#),
        ),
        fetch(
            "the granted port",
            &exact,
            &format!("http://127.0.0.1:{data}/data"),
            answer(),
        ),
        fetch(
            "a port other than the granted one",
            &exact,
            &format!("http://127.0.0.1:{other}/data"),
            refused(),
        ),
        fetch(
            "the default port when another is granted",
            &exact,
            "http://127.0.0.1/data",
            refused(),
        ),
        fetch(
            "http under an https grant",
            &format!("https://{exact}"),
            &format!("http://127.0.0.1:{data}/data"),
            refused(),
        ),
        fetch(
            "http under an https grant of every port",
            &format!("https://{any}"),
            &format!("http://127.0.0.1:{data}/data"),
            refused(),
        ),
        fetch(
            "http under an http grant",
            &format!("http://{exact}"),
            &format!("http://127.0.0.1:{data}/data"),
            answer(),
        ),
        fetch(
            "an FTP URL to a granted port",
            any,
            &format!("ftp://127.0.0.1:{data}/data"),
            refused(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_resists_look_alikes_and_says_what_it_allows() {
    check_once(host_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_admits_only_the_ports_and_schemes_it_names() {
    check_once(port_and_scheme_cases()).await;
}

/// A port outside the grant is refused before any connection is tried, so
/// the refusal tells a plugin nothing about what listens there: the error
/// for a port with a listener and for one without differ only in the port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_and_a_closed_port_outside_the_grant_are_refused_alike() {
    // Never accepts: a connection would hang the call until its timeout.
    let open = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let open = open.local_addr().unwrap().port();
    let closed = closed_port();
    let host = host_with("fetcher", granted("127.0.0.1"));
    let mut shapes = Vec::new();
    for port in [open, closed] {
        let url = format!("http://127.0.0.1:{port}/data");
        let input = serde_json::to_vec(&json!({ "url": url })).unwrap();
        let err = host
            .call_json("fetcher", "fetch_json", input)
            .await
            .expect_err("a port outside the grant");
        assert!(
            matches!(&err, CallError::HostNotAllowed { host, .. } if host == "127.0.0.1"),
            "port {port}: {err:?}"
        );
        shapes.push(err.to_string().replace(&port.to_string(), "<port>"));
    }
    assert_eq!(shapes[0], shapes[1]);
}
