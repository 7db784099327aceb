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
            let value = f.geometry.map(|g| g.value);
            let closed = value
                .as_ref()
                .is_none_or(|v| rings_closed(&key, &id, v, &mut e));
            let shape: Option<MultiPolygon<f64>> = match value {
                // Named above; converting would close it silently.
                Some(_) if !closed => None,
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
                // A bow tie's halves cancel out: name the crossing, not the zero area.
                if !shape_problems(&key, &id, shape, &mut e) && shape.unsigned_area() == 0.0 {
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

/// Every ring of a (Multi)Polygon ends where it starts and has at least four positions
/// (RFC 7946 §3.1.6). Checked on the GeoJSON itself: converting it closes rings silently, and
/// a ring closed by guess is not the boundary its author drew. `false` when a ring is not.
fn rings_closed(key: &str, id: &str, v: &geojson::Value, e: &mut Errors<'_>) -> bool {
    let polygons: Vec<&Vec<Vec<Vec<f64>>>> = match v {
        geojson::Value::Polygon(p) => vec![p],
        geojson::Value::MultiPolygon(m) => m.iter().collect(),
        _ => return true,
    };
    let mut ok = true;
    for (pi, rings) in polygons.iter().enumerate() {
        for (ri, ring) in rings.iter().enumerate() {
            let what = ring_name(pi, ri);
            let (Some(first), Some(last)) = (ring.first(), ring.last()) else {
                e.push(
                    format!("{key}.geometry"),
                    format!("jurisdiction `{id}`: {what} is empty"),
                    "",
                );
                ok = false;
                continue;
            };
            if first != last {
                e.push(
                    format!("{key}.geometry"),
                    format!(
                        "jurisdiction `{id}`: {what} is not closed: it starts at {} and ends at {}",
                        pos(first),
                        pos(last)
                    ),
                    "a GeoJSON ring ends with the position it starts with (RFC 7946 §3.1.6)",
                );
                ok = false;
            } else if ring.len() < 4 {
                e.push(
                    format!("{key}.geometry"),
                    format!(
                        "jurisdiction `{id}`: {what} has {} positions; a ring needs at least 4",
                        ring.len()
                    ),
                    "three corners and the first one repeated",
                );
                ok = false;
            }
        }
    }
    ok
}

fn pos(p: &[f64]) -> String {
    match p {
        [x, y, ..] => format!("[{x}, {y}]"),
        _ => format!("{p:?}"),
    }
}

fn ring_name(polygon: usize, ring: usize) -> String {
    match ring {
        0 => format!("polygon {polygon}'s outer ring"),
        h => format!("polygon {polygon}'s hole {}", h - 1),
    }
}

/// Simple rings and holes inside their polygon (OGC simple features, via geo's validation),
/// each problem named with the feature, the ring and a point where it is. `true` if any.
fn shape_problems(key: &str, id: &str, shape: &MultiPolygon<f64>, e: &mut Errors<'_>) -> bool {
    use geo::CoordinatePosition;
    use geo::algorithm::Validation;
    use geo::algorithm::validation::{InvalidMultiPolygon, InvalidPolygon, RingRole};
    use geo::coordinate_position::CoordPos;
    let ring_of = |p: &geo::Polygon<f64>, role: &RingRole| -> (geo::LineString<f64>, usize) {
        match role {
            RingRole::Exterior => (p.exterior().clone(), 0),
            RingRole::Interior(i) => (p.interiors()[*i].clone(), i + 1),
        }
    };
    // Parts of one MultiPolygon that touch or overlap are not checked: they are sloppy but
    // harmless (a point in either part is in the area), and hand-drawn station areas often
    // share an edge between their parts.
    let problems: Vec<(usize, InvalidPolygon)> = shape
        .validation_errors()
        .into_iter()
        .filter_map(|p| match p {
            InvalidMultiPolygon::InvalidPolygon(pi, inner) => Some((pi.0, inner)),
            _ => None,
        })
        .collect();
    let any = !problems.is_empty();
    for (pi, inner) in problems {
        let p = &shape.0[pi];
        let (what, at) = match &inner {
            InvalidPolygon::SelfIntersection(role) => {
                let (ring, ri) = ring_of(p, role);
                (
                    format!("{} crosses itself", ring_name(pi, ri)),
                    self_crossing(&ring),
                )
            }
            InvalidPolygon::InteriorRingNotContainedInExteriorRing(role) => {
                let (ring, ri) = ring_of(p, role);
                let outer = geo::Polygon::new(p.exterior().clone(), vec![]);
                let out = ring
                    .0
                    .iter()
                    .find(|c| outer.coordinate_position(*c) == CoordPos::Outside)
                    .copied();
                (
                    format!("{} lies outside the outer ring", ring_name(pi, ri)),
                    out,
                )
            }
            other => (format!("polygon {pi}: {other}"), None),
        };
        let at = at.map_or(String::new(), |c| format!(" at [{}, {}]", c.x, c.y));
        e.push(
            format!("{key}.geometry"),
            format!("jurisdiction `{id}`: {what}{at}"),
            "draw each station's area as a simple ring (no crossing edges), holes inside it",
        );
    }
    any
}

/// Where a ring first crosses itself: the intersection of two of its non-adjacent edges.
fn self_crossing(ring: &geo::LineString<f64>) -> Option<geo::Coord<f64>> {
    use geo::line_intersection::{LineIntersection, line_intersection};
    let lines: Vec<geo::Line<f64>> = ring.lines().collect();
    let n = lines.len();
    for i in 0..n {
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue; // the closing edge meets the first one at the start point
            }
            match line_intersection(lines[i], lines[j]) {
                Some(LineIntersection::SinglePoint { intersection, .. }) => {
                    return Some(intersection);
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    return Some(intersection.start);
                }
                None => {}
            }
        }
    }
    None
}
