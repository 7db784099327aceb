//! `GET /api/v1/map`: the jurisdiction polygons and camera points, so the desk can draw its
//! map itself — no tile server (nothing outside the node is reachable at a police desk).

use super::auth::Caller;
use super::{ApiState, CameraEntry};
use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use xueliang_core::DeskId;
use xueliang_core::config::{Area, AreaKind};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MapArea {
    pub id: String,
    pub name: String,
    pub desk_id: DeskId,
    /// `station` or `grid`.
    pub kind: String,
    /// Polygons; each is rings of `[lon, lat]`, the exterior first, then holes.
    pub polygons: Vec<Vec<Vec<[f64; 2]>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MapCamera {
    pub id: String,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    pub desk_id: DeskId,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MapView {
    pub areas: Vec<MapArea>,
    pub cameras: Vec<MapCamera>,
}

impl MapView {
    pub fn new(areas: &[Area], cameras: &[CameraEntry]) -> MapView {
        let ring = |r: &geo::LineString<f64>| r.0.iter().map(|c| [c.x, c.y]).collect::<Vec<_>>();
        MapView {
            areas: areas
                .iter()
                .map(|a| MapArea {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    desk_id: a.desk_id.clone(),
                    kind: match a.kind {
                        AreaKind::Station => "station",
                        AreaKind::Grid => "grid",
                    }
                    .into(),
                    polygons: a
                        .shape
                        .0
                        .iter()
                        .map(|p| {
                            std::iter::once(ring(p.exterior()))
                                .chain(p.interiors().iter().map(ring))
                                .collect()
                        })
                        .collect(),
                })
                .collect(),
            cameras: cameras
                .iter()
                .map(|c| MapCamera {
                    id: c.config.id.to_string(),
                    name: c.config.name.clone(),
                    lon: c.config.location.lon,
                    lat: c.config.location.lat,
                    desk_id: c.desk_id.clone(),
                })
                .collect(),
        }
    }
}

pub async fn serve(State(st): State<ApiState>, caller: Caller) -> Json<MapView> {
    // Areas are public knowledge; cameras are limited to the caller's desk (centre: all).
    let mut v = st.catalog.snapshot().map.clone();
    if !caller.is_centre() {
        v.cameras.retain(|c| c.desk_id == caller.user.desk_id);
    }
    Json(v)
}
