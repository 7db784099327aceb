//! Plain HTTP/1.0 GETs on loopback, for tests that probe a process's `/healthz` and
//! `/metrics` from outside, as an orchestrator would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One GET of `path` on `127.0.0.1:port`: `(status, body)`, or `None` if nothing answered.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    get_as(port, path, None)
}

/// [`get`] with `Authorization: Bearer {token}` when a token is given (the desk API).
pub fn get_as(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The value of the first series of the gauge or counter `name` in Prometheus text, with or
/// without labels (`name 3` or `name{node="x"} 3`).
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let value = match rest.strip_prefix('{') {
            Some(labelled) => labelled.split_once("} ")?.1,
            None => rest.strip_prefix(' ')?,
        };
        value.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn metric_reads_labelled_and_bare_series_but_not_prefixes() {
        let text = "# HELP x_total …\nx_total_more 9\nx_total{node=\"a\"} 3\ny 1.5\n";
        assert_eq!(super::metric(text, "x_total"), Some(3.0));
        assert_eq!(super::metric(text, "y"), Some(1.5));
        assert_eq!(super::metric(text, "z"), None);
    }
}
