use super::error::{ConfigError, ConfigErrors, Errors};
use crate::DeskId;
use geo::{Area as _, MultiPolygon};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Whether an area is a police station's jurisdiction (辖区) or a community grid (网格).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaKind {
    Station,
    Grid,
}

/// One jurisdiction polygon, validated.
#[derive(Debug, Clone)]
pub struct Area {
    pub id: String,
    pub name: String,
    pub desk_id: DeskId,
    pub kind: AreaKind,
    /// lon/lat (x/y) WGS-84, holes kept.
    pub shape: MultiPolygon<f64>,
}

/// `jurisdictions.geojson`, validated: a FeatureCollection of Polygon / MultiPolygon features
/// whose properties are exactly `id`, `name`, `desk_id` and optionally `kind`.
#[derive(Debug, Clone)]
pub struct Jurisdictions {
    pub file: PathBuf,
    pub areas: Vec<Area>,
}

const PROPS: [&str; 4] = ["id", "name", "desk_id", "kind"];

impl Jurisdictions {
    pub fn parse(text: &str, file: &Path) -> Result<Jurisdictions, ConfigErrors> {
        let gj: geojson::GeoJson = text.parse().map_err(|err: geojson::Error| {
            ConfigError::new(file, "", format!("not valid GeoJSON: {err}"))
                .hint("the file must be a GeoJSON FeatureCollection of police-station polygons")
        })?;
        let geojson::GeoJson::FeatureCollection(fc) = gj else {
            return Err(ConfigError::new(file, "type", "is not a FeatureCollection")
                .hint("wrap the polygons in {\"type\": \"FeatureCollection\", \"features\": [...]}")
                .into());
        };
        let mut e = Errors::new(file);
        let mut ids = HashSet::new();
        let mut areas = Vec::new();
        for (i, f) in fc.features.into_iter().enumerate() {
            let key = format!("features[{i}]");
            let props = f.properties.unwrap_or_default();
            for k in props.keys() {
                if !PROPS.contains(&k.as_str()) {
                    e.push(
                        format!("{key}.properties.{k}"),
                        format!("unknown property `{k}`"),
                        "allowed properties are id, name, desk_id and kind",
                    );
                }
            }
            let s = |name: &str, e: &mut Errors<'_>| -> String {
                match props.get(name).and_then(|v| v.as_str()) {
                    Some(v) if !v.trim().is_empty() => v.to_string(),
                    _ => {
                        e.push(
                            format!("{key}.properties.{name}"),
                            "is missing or not a non-empty string",
                            "",
                        );
                        String::new()
                    }
                }
            };
            let id = s("id", &mut e);
            let name = s("name", &mut e);
            let desk = s("desk_id", &mut e);
            if !id.is_empty() && !ids.insert(id.clone()) {
                e.push(
                    format!("{key}.properties.id"),
                    format!("jurisdiction id `{id}` appears twice"),
                    "",
                );
            }
            let kind = match props.get("kind").map(|v| v.as_str()) {
                None | Some(Some("station")) => AreaKind::Station,
                Some(Some("grid")) => AreaKind::Grid,
                Some(_) => {
                    e.push(
                        format!("{key}.properties.kind"),
                        "must be \"station\" or \"grid\"",
                        "",
                    );
                    AreaKind::Station
                }
            };
            let desk_id = match DeskId::new(desk.clone()) {
                Ok(d) => Some(d),
                Err(err) => {
                    if !desk.is_empty() {
                        e.push(
                            format!("{key}.properties.desk_id"),
                            format!("{desk:?} {err}"),
                            "",
                        );
                    }
                    None
                }
            };
            let shape: Option<MultiPolygon<f64>> = match f.geometry.map(|g| g.value) {
                Some(geojson::Value::Polygon(p)) => {
                    geo::Polygon::<f64>::try_from(geojson::Value::Polygon(p))
                        .ok()
                        .map(|p| MultiPolygon(vec![p]))
                }
                Some(v @ geojson::Value::MultiPolygon(_)) => MultiPolygon::<f64>::try_from(v).ok(),
                Some(other) => {
                    e.push(
                        format!("{key}.geometry"),
                        format!("is a {}, not a Polygon or MultiPolygon", other.type_name()),
                        "",
                    );
                    None
                }
                None => {
                    e.push(format!("{key}.geometry"), "is missing", "");
                    None
                }
            };
            if let Some(shape) = &shape {
                let bad = shape.0.iter().flat_map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .flat_map(|r| r.0.iter())
                });
                if let Some(c) = bad
                    .into_iter()
                    .find(|c| !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y))
                {
                    e.push(
                        format!("{key}.geometry"),
                        format!("coordinate [{}, {}] is not [lon, lat] in degrees", c.x, c.y),
                        "GeoJSON positions are [longitude, latitude]",
                    );
                }
                if shape.unsigned_area() == 0.0 {
                    e.push(format!("{key}.geometry"), "has zero area", "");
                }
            }
            if let (Some(desk_id), Some(shape)) = (desk_id, shape) {
                areas.push(Area {
                    id,
                    name,
                    desk_id,
                    kind,
                    shape,
                });
            }
        }
        e.finish(Jurisdictions {
            file: file.to_path_buf(),
            areas,
        })
    }
}
