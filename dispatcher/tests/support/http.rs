//! HTTP for the API tests. Requests go to the router in memory (`Router::oneshot`, with the
//! client address that a real server records inserted as `ConnectInfo`); the one test over a
//! real socket uses the minimal HTTP/1.1 client here (one request per connection, no client
//! crate to build). Server-Sent Events are read from either.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use futures::{Stream, StreamExt as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tower::ServiceExt as _;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request as a desk's browser sends it, from `peer`.
fn build(
    peer: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let body = match body {
        Some(j) => {
            b = b.header("Content-Type", "application/json");
            Body::from(j.to_string())
        }
        None => Body::empty(),
    };
    let mut req = b.body(body).expect("valid test request");
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

/// One request to `app` in memory, as if from `peer`; the whole body is read.
pub async fn oneshot(
    app: &Router,
    peer: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Resp {
    let res = app
        .clone()
        .oneshot(build(peer, method, path, headers, body))
        .await
        .expect("the router never fails");
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = tokio::time::timeout(
        Duration::from_secs(10),
        axum::body::to_bytes(res.into_body(), usize::MAX),
    )
    .await
    .expect("response within 10 s")
    .expect("read body")
    .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// One request to a real server on 127.0.0.1:`port`.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("response within 10 s")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

/// A live `GET /api/v1/events` subscription (`text/event-stream`).
pub struct Sse {
    chunks: Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>,
    buf: Vec<u8>,
}

impl Sse {
    /// Subscribes in memory as `token`, from `peer`; returns once the `hello` event arrived.
    pub async fn open(app: &Router, peer: SocketAddr, token: &str) -> Sse {
        let auth = format!("Bearer {token}");
        let headers = [("Accept", "text/event-stream"), ("Authorization", &auth)];
        let res = app
            .clone()
            .oneshot(build(peer, "GET", "/api/v1/events", &headers, None))
            .await
            .expect("the router never fails");
        assert_eq!(res.status(), 200, "GET /api/v1/events");
        let ct = res.headers().get("content-type").map(|v| v.as_bytes());
        assert_eq!(ct, Some(&b"text/event-stream"[..]), "GET /api/v1/events");
        let chunks =
            futures::stream::unfold(res.into_body().into_data_stream(), |mut s| async move {
                match s.next().await {
                    Some(Ok(b)) => Some((b.to_vec(), s)),
                    _ => None,
                }
            });
        let mut sse = Sse::new(Box::pin(chunks));
        sse.hello().await;
        sse
    }

    /// Subscribes through a real server on 127.0.0.1:`port` as `token`; returns once the
    /// `hello` event arrived.
    pub async fn open_socket(port: u16, token: &str) -> Sse {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let req = format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Accept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let chunks = futures::stream::unfold(s, |mut s| async move {
            let mut b = vec![0; 8192];
            match s.read(&mut b).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    b.truncate(n);
                    Some((b, s))
                }
            }
        });
        let mut sse = Sse::new(Box::pin(chunks));
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = sse.line(deadline).await.expect("status line");
        assert!(
            status.starts_with("HTTP/1.1 200 "),
            "GET /api/v1/events: {status}"
        );
        sse.hello().await;
        sse
    }

    fn new(chunks: Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>) -> Sse {
        Sse {
            chunks,
            buf: Vec::new(),
        }
    }

    /// The stream is live once its first event, `hello`, arrived.
    async fn hello(&mut self) {
        let (ev, _) = self
            .next(Duration::from_secs(5))
            .await
            .expect("hello event");
        assert_eq!(ev, "hello");
    }

    /// The next line without its end, or `None` at the end of the stream or the deadline.
    async fn line(&mut self, deadline: Instant) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let line = String::from_utf8_lossy(&line);
                return Some(line.trim_end_matches(['\r', '\n']).to_owned());
            }
            let chunk = tokio::time::timeout_at(deadline, self.chunks.next())
                .await
                .ok()??;
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Whether the server ends the stream within `limit` (anything sent before is skipped).
    pub async fn ends_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        self.buf.clear();
        loop {
            match tokio::time::timeout_at(deadline, self.chunks.next()).await {
                Ok(Some(_)) => {}
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The next event (name, data), or `None` if none arrives within `limit` (or the stream
    /// ended).
    pub async fn next(&mut self, limit: Duration) -> Option<(String, String)> {
        let deadline = Instant::now() + limit;
        let (mut event, mut data) = (String::new(), String::new());
        loop {
            let line = self.line(deadline).await?;
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_owned();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
            } else if line.is_empty() && !event.is_empty() {
                return Some((event, data));
            }
            // Anything else: HTTP headers and chunk sizes (over a socket), keep-alive comments.
        }
    }
}
