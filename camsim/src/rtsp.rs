//! RTSP/1.0 request parsing and response writing, as small as the simulator needs.
//!
//! Design decisions:
//! - **Parse from the connection's read buffer in place.** A request is complete at the blank
//!   line plus `Content-Length` bytes; interleaved `$` frames from the client (RTCP receiver
//!   reports) are skipped in the same pass, since both share the TCP stream.
//! - **Bounded.** A request head over [`MAX_REQUEST`] bytes is a protocol error (the connection is
//!   closed after a 400) rather than a buffer that grows with a misbehaving client.

use std::fmt::Write as _;

/// Largest request (head + body) accepted.
pub const MAX_REQUEST: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn cseq(&self) -> Option<&str> {
        self.header("CSeq")
    }
}

/// What the read buffer starts with.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes yet.
    Incomplete,
    /// An interleaved binary frame of this many bytes (header included) to skip.
    Interleaved(usize),
    /// A request, and how many bytes it used.
    Request(Request, usize),
    /// Unparseable input; the connection should answer 400 and close.
    Invalid(&'static str),
}

pub fn parse(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::Incomplete;
    }
    if buf[0] == b'$' {
        if buf.len() < 4 {
            return Parsed::Incomplete;
        }
        let len = 4 + usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        return if buf.len() >= len {
            Parsed::Interleaved(len)
        } else {
            Parsed::Incomplete
        };
    }
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_REQUEST {
            Parsed::Invalid("request head too large")
        } else {
            Parsed::Incomplete
        };
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return Parsed::Invalid("request head is not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_ascii_whitespace();
    let (Some(method), Some(url), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Parsed::Invalid("malformed request line");
    };
    if !version.starts_with("RTSP/") {
        return Parsed::Invalid("not an RTSP request");
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            return Parsed::Invalid("malformed header line");
        };
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let req = Request {
        method: method.to_string(),
        url: url.to_string(),
        headers,
    };
    let body_len = match req.header("Content-Length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) if n <= MAX_REQUEST => n,
        Some(_) => return Parsed::Invalid("bad Content-Length"),
    };
    let total = head_end + 4 + body_len;
    if buf.len() < total {
        return Parsed::Incomplete;
    }
    Parsed::Request(req, total)
}

/// The camera index from `rtsp://host[:port]/cam/{i}[/trackID=n]`; `None` for any other path.
pub fn camera_index(url: &str) -> Option<usize> {
    let path = match url.find("://") {
        Some(p) => {
            let after = &url[p + 3..];
            &after[after.find('/')?..]
        }
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    if segs.next()? != "cam" {
        return None;
    }
    let idx = segs.next()?;
    if !idx.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let idx = idx.parse().ok()?;
    match (segs.next(), segs.next()) {
        (None, _) => Some(idx),
        (Some(t), None) if t.starts_with("trackID=") => Some(idx),
        _ => None,
    }
}

/// Builds one response into `out`.
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    cseq: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "RTSP/1.0 {status} {}\r\n", reason(status));
    if let Some(c) = cseq {
        let _ = write!(s, "CSeq: {c}\r\n");
    }
    s.push_str("Server: xueliang-camsim\r\n");
    for (k, v) in headers {
        let _ = write!(s, "{k}: {v}\r\n");
    }
    match body {
        Some((content_type, body)) => {
            let _ = write!(
                s,
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        None => s.push_str("\r\n"),
    }
    out.extend_from_slice(s.as_bytes());
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        454 => "Session Not Found",
        455 => "Method Not Valid in This State",
        459 => "Aggregate Operation Not Allowed",
        461 => "Unsupported Transport",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// What a client asked for in SETUP's `Transport` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportRequest {
    /// RTP/RTCP interleaved on the RTSP connection, on these channels.
    Tcp { channel: u8 },
    /// RTP/AVP over UDP to the client's RTP port (RTCP on the next one).
    Udp { client_rtp: u16, client_rtcp: u16 },
}

/// The first transport of the offer camsim can serve (TCP interleaved or UDP unicast);
/// `None` (answer 461) otherwise: multicast, SRTP, or a malformed offer.
pub fn transport_request(transport: &str) -> Option<TransportRequest> {
    for option in transport.split(',') {
        let mut parts = option.split(';').map(str::trim);
        let proto = parts.next()?;
        if proto.eq_ignore_ascii_case("RTP/AVP/TCP") {
            return tcp_interleaved_channel(option)
                .map(|channel| TransportRequest::Tcp { channel });
        }
        if proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVP/UDP") {
            let ports = parts.find_map(|p| p.strip_prefix("client_port="))?;
            let (a, b) = match ports.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let a: u16 = ports.parse().ok()?;
                    (a, a.checked_add(1)?)
                }
            };
            return Some(TransportRequest::Udp {
                client_rtp: a,
                client_rtcp: b,
            });
        }
    }
    None
}

pub fn tcp_interleaved_channel(transport: &str) -> Option<u8> {
    // A client may offer several transports separated by commas; take the first TCP one.
    for option in transport.split(',') {
        let mut parts = option.split(';').map(str::trim);
        let proto = parts.next()?;
        if !proto.eq_ignore_ascii_case("RTP/AVP/TCP") {
            continue;
        }
        let mut channel = 0;
        for p in parts {
            if let Some(v) = p.strip_prefix("interleaved=") {
                channel = v.split('-').next()?.parse().ok()?;
            }
        }
        return (channel < 255).then_some(channel);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_offers_are_understood() {
        assert_eq!(
            transport_request("RTP/AVP/UDP;unicast;client_port=5000-5001"),
            Some(TransportRequest::Udp {
                client_rtp: 5000,
                client_rtcp: 5001
            })
        );
        assert_eq!(
            transport_request(
                "RTP/AVP/TCP;unicast;interleaved=2-3, RTP/AVP;unicast;client_port=6000-6001"
            ),
            Some(TransportRequest::Tcp { channel: 2 })
        );
        assert_eq!(transport_request("RTP/SAVP;unicast;client_port=1-2"), None);
        assert_eq!(transport_request("RTP/AVP;multicast"), None);
    }

    #[test]
    fn parses_request_with_body_and_skips_interleaved() {
        let req =
            b"SET_PARAMETER rtsp://h/cam/1 RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 3\r\n\r\nabcREST";
        match parse(req) {
            Parsed::Request(r, used) => {
                assert_eq!(r.method, "SET_PARAMETER");
                assert_eq!(r.cseq(), Some("7"));
                assert_eq!(&req[used..], b"REST");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(&req[..20]), Parsed::Incomplete);
        assert_eq!(parse(b"$\x01\x00\x02ab"), Parsed::Interleaved(6));
        assert_eq!(parse(b"$\x01\x00\x05ab"), Parsed::Incomplete);
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Parsed::Invalid(_)
        ));
    }

    #[test]
    fn camera_paths() {
        assert_eq!(camera_index("rtsp://127.0.0.1:8554/cam/3"), Some(3));
        assert_eq!(camera_index("rtsp://u:p@127.0.0.1:8554/cam/3/"), Some(3));
        assert_eq!(
            camera_index("rtsp://127.0.0.1:8554/cam/12/trackID=0"),
            Some(12)
        );
        assert_eq!(camera_index("rtsp://127.0.0.1/cam/x"), None);
        assert_eq!(camera_index("rtsp://127.0.0.1/cam/+1"), None);
        assert_eq!(camera_index("rtsp://127.0.0.1/live/1"), None);
        assert_eq!(camera_index("rtsp://127.0.0.1/cam/1/a/b"), None);
    }

    #[test]
    fn transports() {
        assert_eq!(
            tcp_interleaved_channel("RTP/AVP/TCP;unicast;interleaved=2-3"),
            Some(2)
        );
        assert_eq!(
            tcp_interleaved_channel("RTP/AVP;unicast;client_port=5000-5001"),
            None
        );
        assert_eq!(
            tcp_interleaved_channel(
                "RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;interleaved=0-1"
            ),
            Some(0)
        );
    }
}
