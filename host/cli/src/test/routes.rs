//! The local HTTP server of a function folder with `routes.json`: what
//! `{{base}}` in its inputs stands for (docs/contract.md section 6). It
//! answers each path with its canned status and body, and anything else
//! with 404, on a loopback port of its own, until the command ends.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use anyhow::Context;

/// One canned response: `body` is the exact text, `json` a JSON value
/// sent as its compact text, or `body_hex` the exact bytes where they are
/// not UTF-8.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    status: u16,
    #[serde(default)]
    body: String,
    #[serde(default)]
    json: Option<serde_json::Value>,
    #[serde(default)]
    body_hex: Option<String>,
    /// A note for the reader: what the response stands for.
    #[serde(default, rename = "why")]
    _why: Option<String>,
}

impl Route {
    fn bytes(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(json) = &self.json {
            anyhow::ensure!(
                self.body.is_empty() && self.body_hex.is_none(),
                "give one of `body`, `json` and `body_hex`"
            );
            return Ok(json.to_string().into_bytes());
        }
        let Some(hex) = &self.body_hex else {
            return Ok(self.body.clone().into_bytes());
        };
        anyhow::ensure!(
            self.body.is_empty(),
            "give one of `body`, `json` and `body_hex`"
        );
        anyhow::ensure!(
            hex.len().is_multiple_of(2),
            "`body_hex` has an odd number of digits"
        );
        (0..hex.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&hex[i..i + 2], 16)
                    .with_context(|| format!("`body_hex` is not hex at digit {i}"))
            })
            .collect()
    }
}

/// A file of canned responses: `{"<path or URL>": {"status": <code>,
/// "body": <text>}, ...}` (or `json`, or `body_hex`, in place of `body`),
/// read into status and body bytes by key.
pub fn read_table(file: &Path) -> anyhow::Result<BTreeMap<String, (u16, Vec<u8>)>> {
    let shown = file.display();
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read `{shown}`"))?;
    let table: BTreeMap<String, Route> = serde_json::from_str(&text).with_context(|| {
        format!("`{shown}` must map each path or URL to `{{\"status\": <code>, \"body\": <text>}}`")
    })?;
    let mut answers = BTreeMap::new();
    for (key, route) in table {
        let body = route
            .bytes()
            .with_context(|| format!("`{shown}`: `{key}`"))?;
        answers.insert(key, (route.status, body));
    }
    Ok(answers)
}

/// A running server: `base` is `http://127.0.0.1:<port>`.
pub struct Server {
    pub base: String,
}

impl Server {
    /// Reads `routes` and starts serving them.
    pub fn start(routes: &Path) -> anyhow::Result<Self> {
        let answers = read_table(routes)?;
        let listener = TcpListener::bind("127.0.0.1:0").context("cannot open a loopback port")?;
        let base = format!("http://{}", listener.local_addr()?);
        std::thread::Builder::new()
            .name("polyplug-test-routes".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    answer(&stream, &answers);
                }
            })
            .context("cannot start the routes server's thread")?;
        Ok(Self { base })
    }

    /// `127.0.0.1:<port>`: the `allowed_hosts` entry admitting this server.
    pub fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

fn answer(stream: &std::net::TcpStream, answers: &BTreeMap<String, (u16, Vec<u8>)>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // The headers do not matter; a request has no body worth reading.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let not_found = (404, b"no such route".to_vec());
    let (status, body) = answers.get(path).unwrap_or(&not_found);
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}
