//! The desk web UI (三中心合一 station desk and the centre view), embedded in the binary so the
//! single-node default needs nothing else.
//!
//! Design decision: hand-written ES modules, no framework and no build step — the UI is a few
//! small files, one module per view (`queue.js`, `detail.js`, `map.js`, `overview.js`) around
//! a small state store (`state.js`), the API client (`api.js`) and the entry point
//! (`main.js`), which the dispatcher serves as they are in `dispatcher/ui/` (the `ASSETS`
//! table), so there is no generated bundle to keep in step. Everything it shows comes from
//! `/api/v1`, which enforces authorisation; the UI hides nothing the API would let through. A
//! strict CSP allows only this origin (no inline script, no external host: nothing outside the
//! node is reachable). `tests/ui` lints and format-checks these files (`npm run lint`).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../ui/index.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Everything served under `/ui/NAME`: (NAME, body, content type). A new file in
/// `dispatcher/ui/` needs its line here (a test fails otherwise).
const ASSETS: &[(&str, &str, &str)] = &[
    ("main.js", include_str!("../ui/main.js"), JS),
    ("state.js", include_str!("../ui/state.js"), JS),
    ("api.js", include_str!("../ui/api.js"), JS),
    ("dom.js", include_str!("../ui/dom.js"), JS),
    ("i18n.js", include_str!("../ui/i18n.js"), JS),
    ("queue.js", include_str!("../ui/queue.js"), JS),
    ("detail.js", include_str!("../ui/detail.js"), JS),
    ("map.js", include_str!("../ui/map.js"), JS),
    ("overview.js", include_str!("../ui/overview.js"), JS),
    ("app.css", include_str!("../ui/app.css"), CSS),
];

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

async fn ui_asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some(&(_, body, content_type)) => asset(body, content_type),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `/` (the desk), `/ui/{name}` (its assets).
pub fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route("/index.html", get(|| async { Redirect::permanent("/") }))
        // No icon: answer 204 rather than a 404 in every desk's console.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/ui/{name}", get(ui_asset))
}

#[cfg(test)]
mod tests {
    use super::{ASSETS, INDEX};

    /// The `/ui/NAME` paths a text refers to (`src="/ui/…"`, `import … from "/ui/…"`).
    fn referenced(text: &str) -> Vec<&str> {
        text.split("\"/ui/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect()
    }

    #[test]
    fn every_file_in_ui_is_served_and_every_reference_resolves() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "index.html")
            .collect();
        files.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|(n, _, _)| n.to_string()).collect();
        served.sort();
        assert_eq!(files, served, "dispatcher/ui/ and ui::ASSETS differ");

        let mut texts = vec![("index.html", INDEX)];
        texts.extend(ASSETS.iter().map(|&(n, body, _)| (n, body)));
        for (from, text) in texts {
            for name in referenced(text) {
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == name),
                    "{from} refers to /ui/{name}, which is not served"
                );
            }
        }
    }
}
