//! Geometry in normalised image coordinates: x right, y down, (0, 0) the top-left corner and
//! (1, 1) the bottom-right corner of the frame.
//!
//! An object's position is the bottom-centre of its box — where a pedestrian's feet or a
//! vehicle's wheels meet the ground — because zones and lines are drawn on the ground plane;
//! the box centre of a tall person standing outside a zone drawn on the pavement can lie inside
//! it. Lengths compared against thresholds (the line's dead band) are in normalised units too,
//! which stretch differently along x and y on a non-square frame; that is acceptable for
//! thresholds of a few pixels, and intersection tests are unaffected (they are affine-invariant).

use xueliang_core::config::NormPoint;

/// The bottom-centre of a pixel box `[x1, y1, x2, y2]`, normalised by the frame size.
pub(crate) fn foot_point(bbox: &[f32; 4], frame_size: [u32; 2]) -> NormPoint {
    let (w, h) = (frame_size[0].max(1) as f32, frame_size[1].max(1) as f32);
    [(bbox[0] + bbox[2]) * 0.5 / w, bbox[3] / h]
}

fn cross(o: NormPoint, a: NormPoint, b: NormPoint) -> f32 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// A zone polygon with its bounding box for a cheap rejection test.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Polygon {
    pts: Vec<NormPoint>,
    min: NormPoint,
    max: NormPoint,
}

impl Polygon {
    pub fn new(pts: &[NormPoint]) -> Polygon {
        let mut min = [f32::INFINITY; 2];
        let mut max = [f32::NEG_INFINITY; 2];
        for p in pts {
            for k in 0..2 {
                min[k] = min[k].min(p[k]);
                max[k] = max[k].max(p[k]);
            }
        }
        Polygon {
            pts: pts.to_vec(),
            min,
            max,
        }
    }

    /// Even-odd rule; works for concave polygons. Points exactly on an edge may fall either
    /// way, which the rules' tolerance of a single contrary sample absorbs.
    pub fn contains(&self, p: NormPoint) -> bool {
        if self.pts.len() < 3
            || p[0] < self.min[0]
            || p[0] > self.max[0]
            || p[1] < self.min[1]
            || p[1] > self.max[1]
        {
            return false;
        }
        let mut inside = false;
        let mut j = self.pts.len() - 1;
        for i in 0..self.pts.len() {
            let (a, b) = (self.pts[i], self.pts[j]);
            if (a[1] > p[1]) != (b[1] > p[1]) {
                let x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                if p[0] < x {
                    inside = !inside;
                }
            }
            j = i;
        }
        inside
    }
}

/// A directed line segment A→B.
///
/// Side convention: `side(p) > 0` means `p` is on the **right** of A→B as seen on the screen,
/// i.e. for someone standing on the displayed picture at A and facing B. In image coordinates
/// (y down) that is the sign of the 2-D cross product `(B − A) × (P − A)`. Examples: for a
/// horizontal line drawn left to right (A = (0, 0.5), B = (1, 0.5)) the right side is the lower
/// half of the picture; for a vertical line drawn top to bottom it is the left half.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Line {
    a: NormPoint,
    b: NormPoint,
    len: f32,
}

impl Line {
    pub fn new([a, b]: [NormPoint; 2]) -> Line {
        let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2))
            .sqrt()
            .max(f32::EPSILON);
        Line { a, b, len }
    }

    /// Signed distance from the infinite line through A and B; positive on the right of A→B.
    pub fn side(&self, p: NormPoint) -> f32 {
        cross(self.a, self.b, p) / self.len
    }

    /// Whether the movement `p → q`, whose ends lie on opposite sides of the infinite line,
    /// passes through the segment A–B itself rather than beyond one of its ends.
    pub fn segment_hit(&self, p: NormPoint, q: NormPoint) -> bool {
        let r = [self.b[0] - self.a[0], self.b[1] - self.a[1]];
        let s = [q[0] - p[0], q[1] - p[1]];
        let denom = r[0] * s[1] - r[1] * s[0];
        if denom == 0.0 {
            return false;
        }
        let ap = [p[0] - self.a[0], p[1] - self.a[1]];
        // Where along A→B the movement crosses: a + u·r.
        let u = (ap[0] * s[1] - ap[1] * s[0]) / denom;
        (0.0..=1.0).contains(&u)
    }
}

/// A set of COCO-80 class indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ClassSet(u128);

impl ClassSet {
    pub const PERSON: ClassSet = ClassSet(1);

    /// From class names; names the detector does not know are returned in `unknown` (config
    /// validation already rejects them, so this only matters for hand-built rules).
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = &'a String>,
        unknown: &mut Vec<String>,
    ) -> ClassSet {
        let mut bits = 0u128;
        for n in names {
            match xueliang_core::labels::class_index(n) {
                Some(i) if i < 128 => bits |= 1 << i,
                _ => unknown.push(n.clone()),
            }
        }
        ClassSet(bits)
    }

    pub fn contains(self, class: u16) -> bool {
        class < 128 && self.0 & (1 << class) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concave_polygon() {
        // A "U": the notch between the arms is outside.
        let u = Polygon::new(&[
            [0.0, 0.0],
            [0.3, 0.0],
            [0.3, 0.6],
            [0.6, 0.6],
            [0.6, 0.0],
            [0.9, 0.0],
            [0.9, 1.0],
            [0.0, 1.0],
        ]);
        assert!(u.contains([0.1, 0.1]));
        assert!(!u.contains([0.45, 0.3]));
        assert!(u.contains([0.45, 0.8]));
        assert!(!u.contains([0.95, 0.5]));
    }

    #[test]
    fn right_of_a_left_to_right_line_is_below_it() {
        let l = Line::new([[0.0, 0.5], [1.0, 0.5]]);
        assert!(l.side([0.5, 0.6]) > 0.0);
        assert!(l.side([0.5, 0.4]) < 0.0);
        let down = Line::new([[0.5, 0.0], [0.5, 1.0]]);
        assert!(
            down.side([0.4, 0.5]) > 0.0,
            "facing down the screen, right is screen-left"
        );
    }

    #[test]
    fn crossing_beyond_the_segment_end_is_not_a_hit() {
        let l = Line::new([[0.2, 0.5], [0.6, 0.5]]);
        assert!(l.segment_hit([0.4, 0.4], [0.4, 0.6]));
        assert!(!l.segment_hit([0.8, 0.4], [0.8, 0.6]));
        assert!(
            l.segment_hit([0.1, 0.3], [0.5, 0.7]),
            "diagonal through the middle"
        );
    }

    #[test]
    fn foot_point_is_bottom_centre() {
        assert_eq!(
            foot_point(&[100.0, 50.0, 300.0, 450.0], [800, 500]),
            [0.25, 0.9]
        );
    }
}
