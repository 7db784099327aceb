//! Point → jurisdiction lookup over the polygons of `jurisdictions.geojson`.
//!
//! Design decisions:
//! - **R-tree of bounding boxes, then an exact test.** Each polygon (each part of a
//!   MultiPolygon separately, so a station with a far-away exclave does not get a bounding box
//!   covering half the district) goes into an `rstar` tree; a lookup tests only the few polygons
//!   whose box holds the point. Stations and grids have separate trees because they answer
//!   different questions (who owns the camera / which grid it is in).
//! - **Boundary-inclusive, per polygon.** The exact test is geo's `CoordinatePosition` on each
//!   polygon (holes honoured: a point inside a hole is outside that polygon; a point on a hole's
//!   ring is on its boundary). We do *not* ask the MultiPolygon as a whole: geo applies OGC's
//!   mod-2 boundary rule there, which puts a point on an edge shared by two parts of the same
//!   MultiPolygon *outside* it, and hand-drawn jurisdictions often have such parts.
//! - **Deterministic tie-break** when several areas of a kind hold the point (a shared border,
//!   or overlapping data): an area whose interior holds the point beats one that only touches
//!   it with its boundary; then the smaller area wins (the more specific one, e.g. an enclave
//!   drawn on top of a station without a hole); then the one earlier in the file. So a camera
//!   exactly on the border between two stations goes to one of them, never to the centre, and
//!   always the same one.
//! - Areas are compared in planar lon/lat degrees²: only their order matters, and at a
//!   district's scale the distortion is far below any real difference in size.

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{Area as _, BoundingRect, Coord};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use std::cmp::Ordering;
use xueliang_core::config::{Area, AreaKind, Jurisdictions};
use xueliang_core::contract::GeoPoint;

/// One polygon's box; `data` = (index into `areas`, index of the polygon in its MultiPolygon).
type Entry = GeomWithData<Rectangle<[f64; 2]>, (u32, u32)>;

/// Where a point lies: the station area that owns it and the grid it is in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Location<'a> {
    /// The station area (kind = station) chosen for the point, if any holds it.
    pub station: Option<&'a Area>,
    /// The grid area (kind = grid) chosen for the point, if any holds it.
    pub grid: Option<&'a Area>,
}

/// Spatial index over the areas of a [`Jurisdictions`] file.
#[derive(Debug)]
pub struct JurisdictionIndex {
    areas: Vec<Area>,
    /// Planar size of each area, for the tie-break.
    sizes: Vec<f64>,
    stations: RTree<Entry>,
    grids: RTree<Entry>,
}

impl JurisdictionIndex {
    pub fn new(j: &Jurisdictions) -> JurisdictionIndex {
        let mut stations = Vec::new();
        let mut grids = Vec::new();
        for (ai, area) in j.areas.iter().enumerate() {
            for (pi, poly) in area.shape.0.iter().enumerate() {
                let Some(rect) = poly.bounding_rect() else {
                    continue;
                };
                let entry = GeomWithData::new(
                    Rectangle::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    (ai as u32, pi as u32),
                );
                match area.kind {
                    AreaKind::Station => stations.push(entry),
                    AreaKind::Grid => grids.push(entry),
                }
            }
        }
        JurisdictionIndex {
            sizes: j.areas.iter().map(|a| a.shape.unsigned_area()).collect(),
            areas: j.areas.clone(),
            stations: RTree::bulk_load(stations),
            grids: RTree::bulk_load(grids),
        }
    }

    /// All areas, in file order.
    pub fn areas(&self) -> &[Area] {
        &self.areas
    }

    pub fn area(&self, id: &str) -> Option<&Area> {
        self.areas.iter().find(|a| a.id == id)
    }

    /// The station and grid holding `p` (WGS-84), chosen as described in the module docs.
    pub fn locate(&self, p: GeoPoint) -> Location<'_> {
        let c = Coord { x: p.lon, y: p.lat };
        Location {
            station: self.best(&self.stations, c),
            grid: self.best(&self.grids, c),
        }
    }

    fn best(&self, tree: &RTree<Entry>, c: Coord<f64>) -> Option<&Area> {
        // Each polygon is ranked on its own: an area with one part holding the point in its
        // interior and another touching it wins through the interior part.
        tree.locate_all_at_point(&[c.x, c.y])
            .filter_map(|e| {
                let (ai, pi) = (e.data.0 as usize, e.data.1 as usize);
                match self.areas[ai].shape.0[pi].coordinate_position(&c) {
                    CoordPos::Outside => None,
                    CoordPos::Inside => Some((ai, false)),
                    CoordPos::OnBoundary => Some((ai, true)),
                }
            })
            .min_by(|a, b| self.rank(*a, *b))
            .map(|(ai, _)| &self.areas[ai])
    }

    /// `Less` when candidate `a` (area index, on boundary only) should win over `b`.
    fn rank(&self, a: (usize, bool), b: (usize, bool)) -> Ordering {
        a.1.cmp(&b.1)
            .then(self.sizes[a.0].total_cmp(&self.sizes[b.0]))
            .then(a.0.cmp(&b.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn square(id: &str, x0: f64, y0: f64, side: f64) -> String {
        let (x1, y1) = (x0 + side, y0 + side);
        format!(
            r#"{{"type":"Feature","properties":{{"id":"{id}","name":"{id}","desk_id":"{id}-desk"}},
              "geometry":{{"type":"Polygon","coordinates":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}}}"#
        )
    }

    fn index(features: &[String]) -> JurisdictionIndex {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        );
        JurisdictionIndex::new(&Jurisdictions::parse(&text, Path::new("j.geojson")).unwrap())
    }

    fn station_at(ix: &JurisdictionIndex, lon: f64, lat: f64) -> Option<&str> {
        ix.locate(GeoPoint { lat, lon })
            .station
            .map(|a| a.id.as_str())
    }

    #[test]
    fn overlapping_areas_interior_beats_boundary_then_smaller_wins() {
        // Bad data on purpose: `small` is drawn on top of `big` without a hole in `big`.
        let ix = index(&[square("big", 0.0, 0.0, 4.0), square("small", 1.0, 1.0, 1.0)]);
        assert_eq!(
            station_at(&ix, 1.5, 1.5),
            Some("small"),
            "inside both: the smaller"
        );
        assert_eq!(
            station_at(&ix, 1.0, 1.5),
            Some("big"),
            "on small's edge, inside big"
        );
        assert_eq!(station_at(&ix, 0.0, 2.0), Some("big"), "on big's edge only");
        assert_eq!(station_at(&ix, 5.0, 5.0), None);
    }

    #[test]
    fn equal_areas_on_a_shared_edge_fall_back_to_file_order() {
        let ab = index(&[square("a", 0.0, 0.0, 1.0), square("b", 1.0, 0.0, 1.0)]);
        let ba = index(&[square("b", 1.0, 0.0, 1.0), square("a", 0.0, 0.0, 1.0)]);
        assert_eq!(station_at(&ab, 1.0, 0.5), Some("a"));
        assert_eq!(station_at(&ba, 1.0, 0.5), Some("b"));
    }
}
