//! The load generator of the HTTP rows: keep-alive HTTP/1.1 connections
//! that each send one request after another and check every response.
//!
//! It runs in a child process, `polyplug-bench load ADDR PATH CONNECTIONS`,
//! for every server alike: the Node.js server is a process of its own, and
//! so the generator is one too, apart from the servers in the bench process
//! as much as from Node (docs/benchmarks.md says what that changes).
//!
//! A response that is not status 200 with greet's output byte for byte is
//! an error: [`greet`] stops the bench on the first, [`run`] counts them
//! (the live reload rows report every one).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{GREET_INPUT, native_greet};

/// The keep-alive connections of the HTTP rows: each load is measured at
/// both.
pub const CONNECTIONS: [usize; 2] = [16, 64];
/// Requests before the measured ones, from the load child's start.
pub const WARM_UP: Duration = Duration::from_millis(500);
/// How long requests are measured, after the warm-up.
pub const MEASURE: Duration = Duration::from_secs(3);

/// What one load measured: correct answers only, and how many were not.
pub struct Load {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Measured requests that failed: a status other than 200, a body other
    /// than greet's output, or a connection that broke.
    pub errors: u64,
}

impl Load {
    /// How the child reports it: requests/s, p50 and p99 in ns, errors.
    fn to_line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.requests_per_second,
            self.p50.as_nanos(),
            self.p99.as_nanos(),
            self.errors
        )
    }

    fn from_line(line: &str) -> Load {
        let numbers: Vec<f64> = line
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect();
        let [requests_per_second, p50, p99, errors] = numbers[..] else {
            panic!("the load child printed {line:?}, not four numbers");
        };
        Load {
            requests_per_second,
            p50: Duration::from_nanos(p50 as u64),
            p99: Duration::from_nanos(p99 as u64),
            errors: errors as u64,
        }
    }
}

/// `POST path` with greet's input from `connections` connections, run by a
/// child process; panics unless every response was greet's output.
pub fn greet(addr: SocketAddr, path: &str, connections: usize) -> Load {
    let load = run(addr, path, connections);
    assert_eq!(
        load.errors, 0,
        "{addr}{path} answered {} requests wrongly",
        load.errors
    );
    load
}

/// [`greet`]'s load, counting wrong answers instead of stopping at one;
/// the child's notes on them go to stderr.
pub fn run(addr: SocketAddr, path: &str, connections: usize) -> Load {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["load", &addr.to_string(), path, &connections.to_string()])
        .output()
        .expect("the load child runs");
    assert!(
        output.status.success(),
        "the load child failed on {addr}{path}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    Load::from_line(&String::from_utf8_lossy(&output.stdout))
}

/// The child: `load ADDR PATH CONNECTIONS`. One thread, one runtime.
pub fn child(args: &[String]) {
    let [addr, path, connections] = args else {
        panic!("usage: polyplug-bench load ADDR PATH CONNECTIONS");
    };
    let addr: SocketAddr = addr.parse().expect("ADDR is host:port");
    let connections: usize = connections.parse().expect("CONNECTIONS is a number");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let expect = native_greet(GREET_INPUT);
    let load = runtime.block_on(drive(addr, path, GREET_INPUT, &expect, connections));
    println!("{}", load.to_line());
}

/// Drives `POST path` with `body` from `connections` keep-alive
/// connections: a warm-up, then `MEASURE` of counted requests.
async fn drive(
    addr: SocketAddr,
    path: &str,
    body: &[u8],
    expect: &[u8],
    connections: usize,
) -> Load {
    let request: Arc<[u8]> = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes()
    .into_iter()
    .chain(body.iter().copied())
    .collect();
    let expect: Arc<[u8]> = expect.into();
    let started = Instant::now();
    let (measure_from, until) = (started + WARM_UP, started + WARM_UP + MEASURE);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (request, expect) = (request.clone(), expect.clone());
            tokio::spawn(async move {
                let mut connection = Connection::open(addr).await;
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                loop {
                    let sent = Instant::now();
                    if sent >= until {
                        return (latencies, errors);
                    }
                    let wrong = match connection.round_trip(&request).await {
                        Ok((200, body)) if body == *expect => None,
                        Ok((status, body)) => Some(format!(
                            "status {status}: {}",
                            String::from_utf8_lossy(&body)
                        )),
                        Err(err) => {
                            connection = Connection::open(addr).await;
                            Some(format!("connection broke: {err}"))
                        }
                    };
                    if sent < measure_from {
                        continue;
                    }
                    match wrong {
                        None => latencies.push(sent.elapsed()),
                        Some(what) => {
                            if errors == 0 {
                                eprintln!("load: a wrong answer from {addr}: {what}");
                            }
                            errors += 1;
                        }
                    }
                }
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (worker_latencies, worker_errors) = worker.await.expect("a load worker");
        latencies.extend(worker_latencies);
        errors += worker_errors;
    }
    assert!(!latencies.is_empty(), "not one correct answer from {addr}");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Load {
        requests_per_second: latencies.len() as f64 / MEASURE.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors,
    }
}

/// One HTTP/1.1 keep-alive connection that reads `Content-Length` bodies.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Sends `request`, returns the response's status and body. Every
    /// response of polyplug's and the other servers' has a
    /// `Content-Length`; one without it is a broken server and panics.
    async fn round_trip(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        self.stream.write_all(request).await?;
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).to_ascii_lowercase();
                let status: u16 = head
                    .strip_prefix("http/1.1 ")
                    .and_then(|rest| rest.get(..3))
                    .and_then(|code| code.parse().ok())
                    .unwrap_or_else(|| panic!("not an HTTP/1.1 response: {head}"));
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("a Content-Length");
                let total = end + 4 + length;
                while self.buffer.len() < total {
                    self.fill().await?;
                }
                let body = self.buffer[end + 4..total].to_vec();
                self.buffer.drain(..total);
                return Ok((status, body));
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}
