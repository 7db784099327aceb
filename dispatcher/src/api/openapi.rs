//! The OpenAPI 3.0 document of `/api/v1`, generated from the same Rust types the handlers
//! use (via schemars), served at `/api/v1/openapi.json`.

use super::admin::{CameraStatus, DutyLevelBody};
use super::auth::{LoginRequest, LoginResponse, Me};
use super::incidents::{
    AckRequest, CloseRequest, DispatchRequest, IncidentDetail, IncidentSummary,
};
use crate::store::{DeskStats, IncidentChange, NewSilence, Silence};
use axum::Json;
use schemars::generate::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};
use xueliang_core::contract::DeskV1;

struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<Value>,
    /// Status and schema of the success response (`None`: no body).
    ok: (u16, Option<Value>),
    public: bool,
}

fn s<T: schemars::JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

fn list<T: schemars::JsonSchema>(g: &mut SchemaGenerator) -> Value {
    json!({ "type": "array", "items": s::<T>(g) })
}

fn ops(g: &mut SchemaGenerator) -> Vec<Op> {
    let op = |method, path, summary, body, ok: (u16, Option<Value>)| Op {
        method,
        path,
        summary,
        body,
        ok,
        public: false,
    };
    vec![
        Op {
            public: true,
            ..op(
                "post",
                "/api/v1/login",
                "Log in; returns a bearer token (also set as an HttpOnly cookie) and the CSRF token",
                Some(s::<LoginRequest>(g)),
                (200, Some(s::<LoginResponse>(g))),
            )
        },
        op(
            "post",
            "/api/v1/logout",
            "End this session",
            None,
            (204, None),
        ),
        op(
            "get",
            "/api/v1/me",
            "The caller, its desk and the duty level",
            None,
            (200, Some(s::<Me>(g))),
        ),
        op(
            "get",
            "/api/v1/desks",
            "Every desk of this node",
            None,
            (200, Some(list::<DeskV1>(g))),
        ),
        op(
            "get",
            "/api/v1/incidents",
            "Incidents the caller may see, most urgent first. Query: state, open, event_type, camera_id, escalated, limit",
            None,
            (200, Some(list::<IncidentSummary>(g))),
        ),
        op(
            "get",
            "/api/v1/incidents/{id}",
            "One incident with its alerts (snapshot URLs), desks and history",
            None,
            (200, Some(s::<IncidentDetail>(g))),
        ),
        op(
            "get",
            "/api/v1/incidents/{id}/alerts/{alert_id}/snapshot",
            "The evidence JPEG of one alert",
            None,
            (200, Some(json!({ "type": "string", "format": "binary" }))),
        ),
        op(
            "post",
            "/api/v1/incidents/{id}/ack",
            "Acknowledge (new → acknowledged)",
            Some(s::<AckRequest>(g)),
            (200, Some(s::<IncidentChange>(g))),
        ),
        op(
            "post",
            "/api/v1/incidents/{id}/dispatch",
            "Dispatch a patrol unit (acknowledged → dispatched)",
            Some(s::<DispatchRequest>(g)),
            (200, Some(s::<IncidentChange>(g))),
        ),
        op(
            "post",
            "/api/v1/incidents/{id}/close",
            "Close with a disposition (from any open state)",
            Some(s::<CloseRequest>(g)),
            (200, Some(s::<IncidentChange>(g))),
        ),
        op(
            "get",
            "/api/v1/cameras",
            "Cameras (the caller's, or all for the centre) with health",
            None,
            (200, Some(list::<CameraStatus>(g))),
        ),
        op(
            "get",
            "/api/v1/map",
            "Jurisdiction polygons (with holes) and camera points, for the desk map",
            None,
            (200, Some(s::<super::map::MapView>(g))),
        ),
        op(
            "get",
            "/api/v1/stats",
            "Per-desk counts and SLA compliance (centre only)",
            None,
            (200, Some(list::<DeskStats>(g))),
        ),
        op(
            "get",
            "/api/v1/duty-level",
            "The duty level",
            None,
            (200, Some(s::<DutyLevelBody>(g))),
        ),
        op(
            "put",
            "/api/v1/duty-level",
            "Set the duty level (centre only); re-prioritises open incidents",
            Some(s::<DutyLevelBody>(g)),
            (200, Some(s::<DutyLevelBody>(g))),
        ),
        op(
            "get",
            "/api/v1/silences",
            "Active and future silences the caller may manage",
            None,
            (200, Some(list::<Silence>(g))),
        ),
        op(
            "post",
            "/api/v1/silences",
            "Add a maintenance window (alerts recorded, not notified)",
            Some(s::<NewSilence>(g)),
            (201, Some(s::<Silence>(g))),
        ),
        op(
            "delete",
            "/api/v1/silences/{id}",
            "End a silence now",
            None,
            (204, None),
        ),
        op(
            "get",
            "/api/v1/events",
            "Live push (text/event-stream): events `hello`, `incident` (IncidentChange), `duty_level`, `resync`",
            None,
            (200, Some(json!({ "type": "string" }))),
        ),
        Op {
            public: true,
            ..op(
                "get",
                "/api/v1/openapi.json",
                "This document",
                None,
                (200, Some(json!({ "type": "object" }))),
            )
        },
    ]
}

/// The whole document.
pub fn document() -> Value {
    let mut g = SchemaSettings::openapi3().into_generator();
    let ops = ops(&mut g);
    let mut paths = serde_json::Map::new();
    for o in ops {
        let mut params = Vec::new();
        for name in ["id", "alert_id"] {
            if o.path.contains(&format!("{{{name}}}")) {
                params.push(json!({
                    "name": name, "in": "path", "required": true,
                    "schema": { "type": "string", "format": "uuid" }
                }));
            }
        }
        let mut responses = serde_json::Map::new();
        let (code, schema) = o.ok;
        responses.insert(
            code.to_string(),
            match schema {
                Some(sc) => json!({ "description": "OK", "content": { "application/json": { "schema": sc } } }),
                None => json!({ "description": "Done" }),
            },
        );
        let err = json!({ "$ref": "#/components/responses/Error" });
        for c in ["400", "401", "403", "404", "409"] {
            responses.insert(c.into(), err.clone());
        }
        let mut op = json!({
            "summary": o.summary,
            "operationId": format!("{}_{}", o.method, o.path.trim_start_matches("/api/v1/").replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "responses": responses,
        });
        if let Some(b) = o.body {
            op["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": b } } });
        }
        if o.public {
            op["security"] = json!([]);
        }
        let entry = paths.entry(o.path.to_owned()).or_insert_with(|| json!({}));
        entry[o.method] = op;
    }
    let schemas = Value::Object(g.take_definitions(true).into_iter().collect());
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "xueliang dispatcher desk API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Incidents for police-station desks (三中心合一) and the district command centre. \
                Authenticate with POST /api/v1/login, then send `Authorization: Bearer TOKEN`; \
                browsers use the session cookie plus `X-CSRF-Token` on writes."
        },
        "paths": paths,
        "security": [ { "bearer": [] }, { "cookie": [] } ],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "cookie": { "type": "apiKey", "in": "cookie", "name": super::auth::COOKIE }
            },
            "responses": {
                "Error": {
                    "description": "What went wrong and what to change",
                    "content": { "application/json": { "schema": {
                        "type": "object", "required": ["error"],
                        "properties": { "error": { "type": "string" } }
                    } } }
                }
            }
        }
    })
}

pub async fn serve() -> Json<Value> {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}
