//! Login, sessions and the [`Caller`] every handler gets.
//!
//! Design decisions:
//! - **Passwords as argon2id PHC strings**; verification runs on the blocking pool (it is
//!   deliberately slow). Unknown users are checked against a dummy hash so the response time
//!   does not reveal which user names exist.
//! - **Opaque random session tokens**, stored only as SHA-256, expiring after
//!   `dispatcher.session_ttl_s`. Programs send `Authorization: Bearer TOKEN`; the browser UI
//!   gets the same token as an `HttpOnly; SameSite=Strict` cookie.
//! - **CSRF**: a request authenticated by the cookie (ambient credentials) must also carry
//!   `X-CSRF-Token`, returned at login, on anything but GET/HEAD. Bearer requests cannot be
//!   forged cross-site, so they need none.
//! - Authorisation lives here and in the handlers, never only in the UI: a station user sees
//!   and acts on incidents routed to its own desk; the centre sees everything.

use super::ApiState;
use super::error::ApiError;
use crate::store::{Actor, User};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use xueliang_core::contract::DeskKind;

pub const COOKIE: &str = "xl_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

const LOGINS_TOTAL: &str = "xueliang_dispatcher_logins_total";
/// Requests refused for a desk: another desk's resource (answered 404) or an action the desk
/// may not take (403). Labels `desk` and `reason`.
pub const REFUSED_TOTAL: &str = "xueliang_dispatcher_api_refused_total";

/// Hashes a password for storage (argon2id, random salt).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of a random password, to spend the same time on unknown users.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("no such user").expect("argon2 with defaults works"))
}

fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The authenticated user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub desk_kind: DeskKind,
    pub from_addr: String,
    token_hash: String,
}

impl Caller {
    pub fn is_centre(&self) -> bool {
        self.desk_kind == DeskKind::Centre
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user.username.clone(),
            from_addr: self.from_addr.clone(),
        }
    }

    /// Whether this caller may see something routed to `desks`.
    pub fn may_see<'a>(&self, mut desks: impl Iterator<Item = &'a xueliang_core::DeskId>) -> bool {
        self.is_centre() || desks.any(|d| *d == self.user.desk_id)
    }

    pub fn require_centre(&self, what: &str) -> Result<(), ApiError> {
        if self.is_centre() {
            Ok(())
        } else {
            self.refused("centre_only", what);
            Err(ApiError::forbidden(format!(
                "only the district command centre may {what}"
            )))
        }
    }

    /// Records a refused request: a WARN naming the user, desk, address and what was asked,
    /// and a count per desk. Probes of other desks' resources leave a trace even though the
    /// answer (404) reveals nothing to the caller.
    pub fn refused(&self, reason: &'static str, what: &str) {
        ::metrics::counter!(REFUSED_TOTAL, "desk" => self.user.desk_id.to_string(), "reason" => reason)
            .increment(1);
        tracing::warn!(
            user = %self.user.username,
            desk = %self.user.desk_id,
            from = %self.from_addr,
            reason,
            what,
            "desk request refused"
        );
    }
}

fn bearer(h: &HeaderMap) -> Option<&str> {
    h.get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie(h: &HeaderMap) -> Option<&str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn peer(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default()
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &ApiState) -> Result<Caller, ApiError> {
        let (token, via_cookie) = match (bearer(&parts.headers), cookie(&parts.headers)) {
            (Some(t), _) => (t.to_owned(), false),
            (None, Some(t)) => (t.to_owned(), true),
            (None, None) => return Err(ApiError::unauthorized()),
        };
        let h = token_hash(&token);
        let Some((user, csrf)) = st.store.session(&h).await? else {
            return Err(ApiError::unauthorized());
        };
        if via_cookie && !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(csrf.as_str()) {
                return Err(ApiError::forbidden(
                    "missing or wrong X-CSRF-Token header (returned by POST /api/v1/login)",
                ));
            }
        }
        let desk_kind = st.desk(&user.desk_id).map(|d| d.kind).ok_or_else(|| {
            ApiError::forbidden(format!(
                "user {:?} belongs to desk {}, which is not in this node's configuration",
                user.username, user.desk_id
            ))
        })?;
        Ok(Caller {
            user,
            desk_kind,
            from_addr: peer(parts),
            token_hash: h,
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer TOKEN` (also set as an HttpOnly cookie).
    pub token: String,
    /// Send as `X-CSRF-Token` on cookie-authenticated POST/PUT/DELETE.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
    pub desk_kind: DeskKind,
}

pub async fn login(
    State(st): State<ApiState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let rec = st.store.get_user(&req.username).await?;
    let phc = rec
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |r| r.password_hash.clone());
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    let Some(rec) = rec.filter(|_| ok) else {
        ::metrics::counter!(LOGINS_TOTAL, "result" => "rejected").increment(1);
        // The user name may be a typo of a password: log neither.
        tracing::warn!(from = %addr.ip(), "login rejected");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password",
        ));
    };
    let Some(desk) = st.desk(&rec.user.desk_id) else {
        return Err(ApiError::forbidden(format!(
            "desk {} of this user is not configured on this node",
            rec.user.desk_id
        )));
    };
    let token = random_token(32);
    let csrf = random_token(16);
    let expires_at = st.clock.now()
        + chrono::Duration::from_std(st.session_ttl).unwrap_or(chrono::Duration::hours(12));
    st.store
        .create_session(
            token_hash(&token),
            rec.user.username.clone(),
            csrf.clone(),
            expires_at,
        )
        .await?;
    ::metrics::counter!(LOGINS_TOTAL, "result" => "ok").increment(1);
    tracing::info!(user = %rec.user.username, desk = %rec.user.desk_id, from = %addr.ip(), "login");
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        st.session_ttl.as_secs()
    );
    let body = LoginResponse {
        token,
        csrf,
        expires_at,
        user: rec.user,
        desk_kind: desk.kind,
    };
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

pub async fn logout(State(st): State<ApiState>, caller: Caller) -> Result<Response, ApiError> {
    st.store.delete_session(&caller.token_hash).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("xl_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(resp)
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Me {
    pub user: User,
    pub desk_kind: DeskKind,
    pub desk_name: String,
    pub duty_level: xueliang_core::contract::DutyLevel,
}

pub async fn me(State(st): State<ApiState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let desk_name = st
        .desk(&caller.user.desk_id)
        .map(|d| d.name.clone())
        .unwrap_or_default();
    Ok(Json(Me {
        duty_level: st.store.duty_level().await?,
        user: caller.user,
        desk_kind: caller.desk_kind,
        desk_name,
    }))
}
