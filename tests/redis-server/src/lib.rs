//! A `redis-server` of a test's own: on a free loopback port, with its
//! files in a temporary directory, stopped when the handle drops. Shared
//! by the library's tests (`tests/all`), the CLI's process tests
//! (`host/cli/tests`) and the Redis rows of `just bench`.
//!
//! A missing `redis-server` fails the test that asked for one, loudly:
//! `just setup` installs it, and CI runs `just setup` first, so a skip
//! would only hide a broken machine.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer `PING` after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `redis-server`; dropping it kills the server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// The TLS port, when the server also speaks TLS.
    tls_port: Option<u16>,
    appendonly: bool,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server with the append-only file on (`appendfsync
    /// everysec`, Redis's default): what it acknowledged survives a
    /// restart of it.
    pub fn start() -> RedisServer {
        Self::start_with(true)
    }

    /// Starts a server, with or without its append-only file.
    pub fn start_with(appendonly: bool) -> RedisServer {
        let dir = tempfile::tempdir().expect("a temporary directory for redis-server");
        let port = free_port();
        let mut server = RedisServer {
            child: None,
            port,
            tls_port: None,
            appendonly,
            dir,
        };
        server.launch_on_free_ports();
        server
    }

    /// Starts a server that also speaks TLS, on a port of its own, with a
    /// certificate for `localhost` and `127.0.0.1` from a certificate
    /// authority made for it ([`RedisServer::ca_file`]). Clients need no
    /// certificate.
    pub fn start_tls() -> RedisServer {
        let dir = tempfile::tempdir().expect("a temporary directory for redis-server");
        write_certificates(dir.path());
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            tls_port: Some(free_port()),
            appendonly: false,
            dir,
        };
        server.launch_on_free_ports();
        server
    }

    /// `rediss://localhost:<TLS port>`; panics for a server without TLS.
    pub fn tls_url(&self) -> String {
        let port = self.tls_port.expect("a server started with start_tls");
        format!("rediss://localhost:{port}")
    }

    /// The PEM file of the certificate authority of a TLS server.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of its files (the append-only file, its log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the server, on fresh ports when another process took the
    /// ones chosen (a race between choosing a free port and binding it).
    fn launch_on_free_ports(&mut self) {
        for _ in 0..5 {
            match self.launch() {
                Ok(()) => return,
                Err(problem) if problem.contains("Address already in use") => {
                    self.port = free_port();
                    self.tls_port = self.tls_port.map(|_| free_port());
                }
                Err(problem) => panic!("{problem}"),
            }
        }
        panic!("redis-server found no free port in 5 tries");
    }

    fn launch(&mut self) -> Result<(), String> {
        let yes_no = |on: bool| if on { "yes" } else { "no" };
        let log = std::fs::File::create(self.dir.path().join("redis.log"))
            .expect("a log file for redis-server");
        let mut command = Command::new("redis-server");
        if let Some(tls_port) = self.tls_port {
            let file = |name: &str| self.dir.path().join(name);
            command
                .args([
                    "--tls-port",
                    &tls_port.to_string(),
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(file("server.pem"))
                .arg("--tls-key-file")
                .arg(file("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(file("ca.pem"));
        }
        let child = command
            .args(["--port", &self.port.to_string()])
            .args([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--protected-mode",
                "no",
            ])
            .args(["--appendonly", yes_no(self.appendonly)])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start `redis-server` ({err}): the Redis tests need it on PATH; \
                     `just setup` installs it (Debian package `redis-server`)"
                )
            });
        let pid = child.id();
        self.child = Some(child);
        let started = Instant::now();
        // Ready when the server on the port is this one: a port taken by
        // another test's server in between answers too, with its pid.
        while !(self.answers_ping() && self.info("process_id") == pid.to_string()) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                return Err(format!(
                    "redis-server on port {} exited ({status}) before it answered; its log:\n{log}",
                    self.port
                ));
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "redis-server on port {} did not answer PING within {START_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Whether the server answers `PING` with `PONG` now.
    pub fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Sends one inline command (words split at spaces, as `redis-cli`
    /// would without quotes) as the default user, and returns the reply:
    /// its first line (`+OK`, `:3`, `-ERR ...`), or a bulk string's text.
    pub fn command(&self, command: &str) -> String {
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).expect("redis-server accepts");
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .expect("redis-server reads");
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            stream.read_exact(&mut byte).expect("redis-server answers");
            reply.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&reply).trim_end().to_string();
        match line.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
            Some(length) => {
                let mut bulk = vec![0; length + 2];
                stream.read_exact(&mut bulk).expect("redis-server answers");
                String::from_utf8_lossy(&bulk[..length]).into_owned()
            }
            None => line,
        }
    }

    /// A field of `INFO`, like `connected_clients`.
    pub fn info(&self, field: &str) -> String {
        let info = self.command("INFO");
        info.lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("INFO has no `{field}`"))
            .trim()
            .to_string()
    }

    /// How many keys the server holds (`DBSIZE`).
    pub fn dbsize(&self) -> u64 {
        let reply = self.command("DBSIZE");
        reply
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("DBSIZE answered `{reply}`"))
    }

    /// Kills the server (SIGKILL: no last save, no clean close) and waits
    /// for it to go.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (its
    /// append-only file, if on, brings back what it had).
    pub fn restart(&mut self) {
        self.stop();
        if let Err(problem) = self.launch() {
            panic!("{problem}");
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing
    /// answers, like a server that hangs.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server is running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success(), "kill {signal} redis-server failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL ends a paused server too.
        self.stop();
    }
}

/// Writes `ca.pem`, and `server.pem` with `server.key` signed by it for
/// `localhost` and `127.0.0.1`, into `dir`.
fn write_certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "polyplug test CA");
    let ca_certificate = ca.self_signed(&ca_key).expect("a CA certificate");
    let key = KeyPair::generate().expect("a server key");
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let server = CertificateParams::new(names).expect("server parameters");
    let issuer = Issuer::from_params(&ca, &ca_key);
    let certificate = server
        .signed_by(&key, &issuer)
        .expect("a server certificate");
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).expect("a certificate file");
    };
    write("ca.pem", ca_certificate.pem());
    write("server.pem", certificate.pem());
    write("server.key", key.serialize_pem());
}

/// A loopback port no one listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("its address").port()
}
