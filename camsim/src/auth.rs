//! RTSP authentication as cameras do it: HTTP Basic or Digest (RFC 2617, MD5), one scheme per
//! server.
//!
//! Design decisions:
//! - **One challenge header.** retina (like most clients) reads only the first
//!   `WWW-Authenticate`, so the server offers exactly the configured scheme.
//! - **One nonce per server run.** Real cameras vary; a fixed nonce keeps retries on a new
//!   connection working and is irrelevant to what the simulator tests (client behaviour).
//! - Both the RFC 2069 form (no `qop`) and `qop=auth` responses are accepted.
//! - Passwords never reach a log line; failures are counted, not printed.

use base64::Engine as _;
use md5::{Digest as _, Md5};

/// The realm every challenge names.
pub const REALM: &str = "xueliang-camsim";

/// Which scheme the server demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthScheme {
    #[default]
    Digest,
    Basic,
}

impl std::str::FromStr for AuthScheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "digest" => Ok(AuthScheme::Digest),
            "basic" => Ok(AuthScheme::Basic),
            _ => Err(format!(
                "unknown auth scheme {s:?}; expected digest or basic"
            )),
        }
    }
}

/// Credentials the server requires. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    pub username: String,
    pub password: String,
    pub scheme: AuthScheme,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl Auth {
    /// Parses `user:pass` (the password may contain colons) with the Digest scheme.
    pub fn parse_user_pass(s: &str) -> Result<Self, String> {
        let (username, password) = s
            .split_once(':')
            .ok_or_else(|| "expected user:password".to_string())?;
        if username.is_empty() {
            return Err("the user name in user:password is empty".into());
        }
        Ok(Auth {
            username: username.into(),
            password: password.into(),
            scheme: AuthScheme::Digest,
        })
    }

    /// The `WWW-Authenticate` value of a 401.
    pub(crate) fn challenge(&self, nonce: &str) -> String {
        match self.scheme {
            AuthScheme::Digest => format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\""),
            AuthScheme::Basic => format!("Basic realm=\"{REALM}\""),
        }
    }

    /// Checks an `Authorization` header for `method`.
    pub(crate) fn verify(&self, header: Option<&str>, method: &str, nonce: &str) -> bool {
        let Some(header) = header.map(str::trim) else {
            return false;
        };
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        match self.scheme {
            AuthScheme::Basic if scheme.eq_ignore_ascii_case("basic") => {
                let expected = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", self.username, self.password));
                constant_time_eq(rest.trim().as_bytes(), expected.as_bytes())
            }
            AuthScheme::Digest if scheme.eq_ignore_ascii_case("digest") => {
                self.verify_digest(rest, method, nonce)
            }
            _ => false,
        }
    }

    fn verify_digest(&self, params: &str, method: &str, nonce: &str) -> bool {
        let p = parse_params(params);
        let get = |k: &str| {
            p.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let (Some(user), Some(uri), Some(response), Some(got_nonce)) =
            (get("username"), get("uri"), get("response"), get("nonce"))
        else {
            return false;
        };
        if user != self.username || got_nonce != nonce || get("realm").is_some_and(|r| r != REALM) {
            return false;
        }
        if get("algorithm").is_some_and(|a| !a.eq_ignore_ascii_case("md5")) {
            return false;
        }
        let ha1 = md5_hex(&format!("{}:{REALM}:{}", self.username, self.password));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let expected = match get("qop") {
            Some(qop) => {
                let (Some(nc), Some(cnonce)) = (get("nc"), get("cnonce")) else {
                    return false;
                };
                md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
            }
            None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
        };
        constant_time_eq(
            response.to_ascii_lowercase().as_bytes(),
            expected.as_bytes(),
        )
    }
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses `k="v", k2=v2` (quoted values may contain commas).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            value = r[..end].to_string();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_auth() -> Auth {
        Auth {
            username: "admin".into(),
            password: "s3cr:et".into(),
            scheme: AuthScheme::Digest,
        }
    }

    #[test]
    fn rfc2617_digest_example() {
        // The worked example of RFC 2617 section 3.5 (realm differs, so recompute HA1 there).
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let resp = md5_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(resp, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn digest_right_and_wrong() {
        let a = digest_auth();
        let nonce = "abc123";
        let ha1 = md5_hex(&format!("admin:{REALM}:s3cr:et"));
        let ha2 = md5_hex("DESCRIBE:rtsp://127.0.0.1:1/cam/0");
        let good = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        let hdr = |resp: &str, nonce: &str| {
            format!(
                "Digest username=\"admin\", realm=\"{REALM}\", nonce=\"{nonce}\", \
                 uri=\"rtsp://127.0.0.1:1/cam/0\", response=\"{resp}\""
            )
        };
        assert!(a.verify(Some(&hdr(&good, nonce)), "DESCRIBE", nonce));
        assert!(
            !a.verify(Some(&hdr(&good, nonce)), "SETUP", nonce),
            "method is hashed"
        );
        assert!(
            !a.verify(Some(&hdr(&good, "other")), "DESCRIBE", nonce),
            "stale nonce"
        );
        assert!(!a.verify(Some(&hdr(&"0".repeat(32), nonce)), "DESCRIBE", nonce));
        assert!(!a.verify(None, "DESCRIBE", nonce));
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin:s3cr:et")
        );
        assert!(
            !a.verify(Some(&basic), "DESCRIBE", nonce),
            "digest server refuses basic"
        );
        let b = Auth {
            scheme: AuthScheme::Basic,
            ..digest_auth()
        };
        assert!(b.verify(Some(&basic), "DESCRIBE", nonce));
    }

    #[test]
    fn debug_hides_the_password() {
        let s = format!("{:?}", digest_auth());
        assert!(!s.contains("s3cr"), "{s}");
    }

    #[test]
    fn parses_user_pass() {
        let a = Auth::parse_user_pass("u:p:q").unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p:q"));
        assert!(Auth::parse_user_pass("nocolon").is_err());
    }
}
