//! The load generator of the HTTP rows: keep-alive HTTP/1.1 connections
//! that each send one request after another and check every response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Keep-alive connections the generator keeps busy.
const CONNECTIONS: usize = 16;
const WARM_UP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(3);

pub struct Load {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// Drives `POST path` with `body` from `CONNECTIONS` keep-alive
/// connections: a warm-up, then `MEASURE` of counted requests.
pub async fn drive(addr: SocketAddr, path: &str, body: &[u8], expect: &[u8]) -> Load {
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
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (request, expect) = (request.clone(), expect.clone());
            tokio::spawn(async move {
                let mut connection = Connection::open(addr).await;
                let mut latencies = Vec::new();
                loop {
                    let sent = Instant::now();
                    if sent >= until {
                        return latencies;
                    }
                    let body = connection.round_trip(&request).await;
                    assert_eq!(
                        body,
                        &*expect,
                        "unexpected response: {}",
                        String::from_utf8_lossy(&body)
                    );
                    if sent >= measure_from {
                        latencies.push(sent.elapsed());
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a load worker"));
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Load {
        requests_per_second: latencies.len() as f64 / MEASURE.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
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

    /// Sends `request`, returns the response body; panics on a status other
    /// than 200, since a benchmark of failures measures nothing.
    async fn round_trip(&mut self, request: &[u8]) -> Vec<u8> {
        self.stream.write_all(request).await.expect("send");
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("a Content-Length");
                let total = end + 4 + length;
                while self.buffer.len() < total {
                    self.fill().await;
                }
                let body = self.buffer[end + 4..total].to_vec();
                self.buffer.drain(..total);
                return body;
            }
            self.fill().await;
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}
