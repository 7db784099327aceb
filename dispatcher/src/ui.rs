//! The desk web UI (三中心合一 station desk and the centre view), embedded in the binary so the
//! single-node default needs nothing else.
//!
//! Design decision: hand-written ES modules, no framework and no build step — the UI is four
//! small files that the dispatcher serves as they are in `dispatcher/ui/`, so there is no
//! generated bundle to keep in step. Everything it shows comes from `/api/v1`, which enforces
//! authorisation; the UI hides nothing the API would let through. A strict CSP allows only
//! this origin (no inline script, no external host: nothing outside the node is reachable).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const I18N_JS: &str = include_str!("../ui/i18n.js");
const APP_CSS: &str = include_str!("../ui/app.css");

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Assets change with the binary; revalidating is cheap on a LAN.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `/` (the desk), `/ui/*` (its assets).
pub fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route("/index.html", get(|| async { Redirect::permanent("/") }))
        // No icon: answer 204 rather than a 404 in every desk's console.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/i18n.js",
            get(|| async { asset(I18N_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
}
