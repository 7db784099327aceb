//! Evidence snapshots: they decode, have the desk-panel size, fit the byte budget even for
//! noisy 1080p frames, and show the boxes and the zone in the right colours.

use base64::Engine as _;
use image::{ImageFormat, RgbImage};
use xueliang_analyzer::evidence::{
    self, DEFAULT_MAX_BYTES, EvidenceBox, EvidenceError, Overlay, class_colour,
};
use xueliang_core::CameraId;
use xueliang_core::contract::{AlertV1, EventType, Severity, Snapshot};

/// Deterministic noise (xorshift), so failures reproduce.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 24) as u8
    }
}

/// A street-like 1080p BGR frame: gradients plus heavy sensor noise (±48), the kind of night
/// frame that makes JPEGs large.
fn noisy_frame(w: u32, h: u32, amplitude: i32) -> Vec<u8> {
    let mut n = Noise(0x9E37_79B9_7F4A_7C15);
    let mut f = vec![0u8; (w * h * 3) as usize];
    for (i, px) in f.chunks_exact_mut(3).enumerate() {
        let (x, y) = (i as u32 % w, i as u32 / w);
        let base = [
            (x * 255 / w) as i32,
            (y * 255 / h) as i32,
            ((x + y) % 256) as i32,
        ];
        for c in 0..3 {
            let noise = n.next() as i32 * 2 * amplitude / 255 - amplitude;
            px[c] = (base[c] + noise).clamp(0, 255) as u8;
        }
    }
    f
}

fn flat_frame(w: u32, h: u32, v: u8) -> Vec<u8> {
    vec![v; (w * h * 3) as usize]
}

fn decode(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg)
        .expect("snapshot decodes as JPEG")
        .to_rgb8()
}

/// Mean colour of a small square around (x, y).
fn mean(img: &RgbImage, x: u32, y: u32, r: u32) -> [f32; 3] {
    let mut acc = [0f32; 3];
    let mut n = 0.0;
    for yy in y - r..=y + r {
        for xx in x - r..=x + r {
            let p = img.get_pixel(xx, yy).0;
            for c in 0..3 {
                acc[c] += p[c] as f32;
            }
            n += 1.0;
        }
    }
    acc.map(|v| v / n)
}

fn close_to(got: [f32; 3], want: [u8; 3], tol: f32) -> bool {
    (0..3).all(|c| (got[c] - want[c] as f32).abs() <= tol)
}

const PERSON: [f32; 4] = [400.0, 200.0, 700.0, 900.0];
const CAR: [f32; 4] = [1200.0, 600.0, 1700.0, 950.0];

fn boxes() -> Vec<EvidenceBox<'static>> {
    vec![
        EvidenceBox {
            label: "person",
            score: 0.91,
            bbox: PERSON,
        },
        EvidenceBox {
            label: "car",
            score: 0.77,
            bbox: CAR,
        },
    ]
}

#[test]
fn noisy_1080p_frame_fits_200kb_at_desk_size_with_coloured_boxes() {
    let frame = noisy_frame(1920, 1080, 48);
    let zone = [[0.05, 0.6], [0.5, 0.55], [0.55, 0.95], [0.05, 0.95]];
    let jpeg = evidence::render_snapshot(
        &frame,
        1920,
        1080,
        &boxes(),
        Some(Overlay::Zone(&zone)),
        DEFAULT_MAX_BYTES,
    )
    .unwrap();
    assert!(
        jpeg.len() <= 200_000,
        "snapshot is {} bytes, over 200 KB",
        jpeg.len()
    );
    let img = decode(&jpeg);
    assert_eq!(img.dimensions(), (960, 540));

    // The 3 px outlines sit just inside the boxes; frame → snapshot scale is 0.5.
    let person_left = mean(&img, 201, 275, 1);
    let car_top = mean(&img, 725, 301, 1);
    assert!(
        close_to(person_left, class_colour("person"), 60.0),
        "person box edge is {person_left:?}"
    );
    assert!(
        close_to(car_top, class_colour("car"), 60.0),
        "car box edge is {car_top:?}"
    );
    // Well inside the person box: the picture, not the outline colour.
    let inside = mean(&img, 275, 275, 1);
    assert!(
        !close_to(inside, class_colour("person"), 60.0),
        "box interior is painted: {inside:?}"
    );
}

#[test]
fn pure_noise_still_fits_the_budget() {
    // Worst case for JPEG: every pixel independent. The encoder has to drop quality and size.
    let mut n = Noise(42);
    let frame: Vec<u8> = (0..1920 * 1080 * 3).map(|_| n.next()).collect();
    let jpeg =
        evidence::render_snapshot(&frame, 1920, 1080, &boxes(), None, DEFAULT_MAX_BYTES).unwrap();
    assert!(jpeg.len() <= DEFAULT_MAX_BYTES, "{} bytes", jpeg.len());
    let img = decode(&jpeg);
    assert!(img.width() <= 960 && img.height() <= 540);
}

#[test]
fn zone_is_tinted_and_outlined_line_is_drawn() {
    let (w, h) = (1280, 720);
    let frame = flat_frame(w, h, 128);
    let zone = [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9], [0.5, 0.9]];
    let img = decode(
        &evidence::render_snapshot(
            &frame,
            w,
            h,
            &[],
            Some(Overlay::Zone(&zone)),
            DEFAULT_MAX_BYTES,
        )
        .unwrap(),
    );
    assert_eq!(img.dimensions(), (960, 540));
    let inside = mean(&img, 672, 378, 2); // (0.7, 0.7)
    let outside = mean(&img, 192, 108, 2); // (0.2, 0.2)
    assert!(
        inside[1] > inside[0] + 25.0 && inside[1] > inside[2] + 25.0,
        "zone interior is not tinted green: {inside:?}"
    );
    assert!(
        close_to(outside, [128, 128, 128], 6.0),
        "outside the zone changed: {outside:?}"
    );
    let edge = mean(&img, 672, 270, 0); // top edge, y = 0.5
    assert!(
        edge[1] > 180.0 && edge[0] < 120.0,
        "zone outline missing: {edge:?}"
    );

    let line = decode(
        &evidence::render_snapshot(
            &frame,
            w,
            h,
            &[],
            Some(Overlay::Line([[0.1, 0.5], [0.9, 0.5]])),
            DEFAULT_MAX_BYTES,
        )
        .unwrap(),
    );
    let on = mean(&line, 480, 270, 0);
    assert!(on[1] > 180.0 && on[0] < 120.0, "line missing: {on:?}");
    assert!(close_to(mean(&line, 480, 200, 1), [128, 128, 128], 6.0));
}

#[test]
fn small_frames_are_not_enlarged() {
    let frame = noisy_frame(640, 360, 10);
    let img =
        decode(&evidence::render_snapshot(&frame, 640, 360, &[], None, DEFAULT_MAX_BYTES).unwrap());
    assert_eq!(img.dimensions(), (640, 360));
}

#[test]
fn a_wrong_buffer_size_is_refused_with_the_sizes() {
    let err =
        evidence::render_snapshot(&[0; 100], 1920, 1080, &[], None, DEFAULT_MAX_BYTES).unwrap_err();
    assert!(matches!(
        err,
        EvidenceError::BadFrame {
            len: 100,
            expected: 6_220_800,
            ..
        }
    ));
}

#[test]
fn an_impossible_budget_is_an_error_not_a_truncated_image() {
    let frame = noisy_frame(1920, 1080, 48);
    let err = evidence::render_snapshot(&frame, 1920, 1080, &boxes(), None, 300).unwrap_err();
    assert!(
        matches!(err, EvidenceError::TooBig { max_bytes: 300, .. }),
        "{err}"
    );
}

#[test]
fn snapshot_travels_inside_alert_v1() {
    let frame = noisy_frame(1920, 1080, 48);
    let jpeg =
        evidence::render_snapshot(&frame, 1920, 1080, &boxes(), None, DEFAULT_MAX_BYTES).unwrap();
    let mut alert = AlertV1::new(
        CameraId::new("44030500001320000001").unwrap(),
        EventType::ZoneIntrusion,
        Severity::Major,
        "gate-intrusion",
        chrono::Utc::now(),
    );
    alert.snapshot = Some(evidence::inline_snapshot(&jpeg));
    let json = alert.to_json();
    assert!(json.len() < 300_000, "alert JSON is {} bytes", json.len());
    let back = AlertV1::from_json(&json).unwrap();
    let Some(Snapshot::Inline {
        content_type,
        data_base64,
    }) = back.snapshot
    else {
        panic!("snapshot lost in the round trip")
    };
    assert_eq!(content_type, evidence::CONTENT_TYPE);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data_base64)
        .unwrap();
    assert_eq!(bytes, jpeg);
}
