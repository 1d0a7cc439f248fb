//! The Node.js server of the HTTP rows, `bench/node/server.mjs`, run as a
//! child process for as long as its handle lives.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The major version of Node.js the row is about.
const NODE_MAJOR: u32 = 20;

pub struct NodeServer {
    child: Child,
    pub addr: SocketAddr,
}

impl NodeServer {
    /// Starts the server on `wasm` and waits until it listens. The error
    /// says why the Node.js rows cannot run, for the table.
    pub fn start(wasm: &Path) -> Result<Self, String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
        let version = Command::new("node")
            .arg("--version")
            .output()
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::NotFound => "no `node` on PATH".to_string(),
                _ => format!("`node --version` failed: {err}"),
            })?;
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        let major: Option<u32> = version
            .strip_prefix('v')
            .and_then(|v| v.split('.').next())
            .and_then(|major| major.parse().ok());
        if major.is_none_or(|major| major < NODE_MAJOR) {
            return Err(format!(
                "`node --version` is `{version}`, not {NODE_MAJOR} or later"
            ));
        }
        if !dir.join("node_modules/@extism/extism").is_dir() {
            return Err("no bench/node/node_modules: `npm ci` there installs them".into());
        }
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg(wasm)
            .arg("0")
            // Node warns that WASI is experimental: the SDK imports it.
            .env("NODE_NO_WARNINGS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("`node` did not start: {err}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        let port = BufReader::new(stdout)
            .read_line(&mut line)
            .ok()
            .and_then(|_| line.trim().parse::<u16>().ok());
        let server = NodeServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0))),
        };
        match port {
            Some(_) => Ok(server),
            // Dropping `server` stops the child.
            None => Err(format!(
                "bench/node/server.mjs printed {line:?}, not its port (its error is above)"
            )),
        }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
