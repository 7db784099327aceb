//! The GStreamer decoder on real video: the vtest street clip (H.264, as camsim serves it) fed
//! access unit by access unit, and vtest.avi through the file decoder.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use xueliang_camsim::{self as camsim, ClipPreset, h264};
use xueliang_core::CameraId;
use xueliang_core::config::Sampling;
use xueliang_ingest::decode::{
    Accel, Codec, DecoderOptions, EncodedUnit, FileDecodeOptions, FileDecoder, OutputSize,
    StreamDecoder,
};
use xueliang_ingest::frame::PixelFormat;
use xueliang_ingest::frame::{CaptureClock, Frame, LumaStats};
use xueliang_ingest::stats::CameraCounters;

const VTEST_AVI: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
const FRAME: Duration = Duration::from_millis(40);

fn vtest_h264() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        camsim::ensure_clip(ClipPreset::Vtest, &camsim::default_cache_dir())
            .expect("encode vtest (needs ffmpeg and opencv-doc)")
    })
    .clone()
}

/// The clip's access units, Annex B, with their keyframe flag.
fn units() -> &'static [(Vec<u8>, bool)] {
    static U: OnceLock<Vec<(Vec<u8>, bool)>> = OnceLock::new();
    U.get_or_init(|| {
        let data = std::fs::read(vtest_h264()).unwrap();
        let nals = h264::nal_units(&data);
        h264::access_units(&nals)
            .into_iter()
            .map(|au| {
                let mut v = Vec::new();
                for n in &au.nals {
                    v.extend_from_slice(&[0, 0, 0, 1]);
                    v.extend_from_slice(n);
                }
                (v, au.is_idr())
            })
            .collect()
    })
}

fn unit(i: usize, data: Vec<u8>, keyframe: bool) -> EncodedUnit {
    EncodedUnit {
        data,
        pts: FRAME * i as u32,
        keyframe,
        received_at: Instant::now(),
        captured_at: Utc::now(),
        capture_clock: CaptureClock::Receive,
    }
}

struct Rig {
    decoder: StreamDecoder,
    rx: mpsc::Receiver<Frame>,
    counters: Arc<CameraCounters>,
}

fn rig(sampling: Sampling, opts: DecoderOptions, queue: usize) -> Rig {
    let camera = CameraId::new("decode-test").unwrap();
    let counters = CameraCounters::new(&camera);
    let (tx, rx) = mpsc::channel(queue);
    let decoder =
        StreamDecoder::new(&camera, Codec::H264, sampling, &opts, counters.clone(), tx).unwrap();
    Rig {
        decoder,
        rx,
        counters,
    }
}

fn drain(rx: &mut mpsc::Receiver<Frame>) -> Vec<Frame> {
    let mut out = vec![];
    while let Ok(f) = rx.try_recv() {
        out.push(f);
    }
    out
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn keyframes_decode_to_native_yuv_with_real_content() {
    let mut r = rig(Sampling::Keyframes, DecoderOptions::default(), 64);
    let keys: Vec<usize> = (0..units().len())
        .filter(|&i| units()[i].1)
        .take(6)
        .collect();
    assert_eq!(keys[..3], [0, 50, 100], "the clip is GOP 50");
    for &i in &keys {
        r.decoder.push(unit(i, units()[i].0.clone(), true)).unwrap();
    }
    let frames = drain(&mut r.rx);
    assert_eq!(
        frames.len(),
        keys.len(),
        "one picture per keyframe, no delay"
    );
    for (f, &i) in frames.iter().zip(&keys) {
        // The decoder's own picture: I420 at the clip's size, shared, not converted.
        assert_eq!((f.picture.width(), f.picture.height()), (768, 576));
        assert_eq!(f.picture.format(), PixelFormat::I420);
        assert!(f.picture.byte_len() >= 768 * 576 * 3 / 2);
        f.picture.view().check().unwrap();
        assert_eq!(f.source_size, (768, 576));
        assert_eq!(f.pts, FRAME * i as u32);
        assert!(f.keyframe);
        assert!(f.evidence.is_some(), "source picture kept for evidence");
    }
    // Real content: a street scene is neither flat nor dark, and people move between frames
    // 2 s apart while most of the picture stays.
    let bgr: Vec<Vec<u8>> = frames.iter().map(|f| f.picture.view().to_bgr()).collect();
    for w in bgr.windows(2) {
        let d = mean_abs_diff(&w[0], &w[1]);
        assert!(
            d > 0.5 && d < 40.0,
            "consecutive sampled frames differ by {d}"
        );
    }
    let f0 = &frames[0];
    eprintln!(
        "frame 0: luma mean {:.2} var {:.1}; thumbnail {:?}",
        f0.luma.mean, f0.luma.variance, f0.luma.thumbnail
    );
    // Stored reference of frame 0 (vtest recipe v1, libav 5.1): mean luma and the 8x8
    // thumbnail, within a tolerance that absorbs decoder version drift.
    assert!(
        (f0.luma.mean - REF_MEAN).abs() < 2.0,
        "frame 0 mean luma {} (reference {REF_MEAN})",
        f0.luma.mean
    );
    let thumb_diff: f32 = f0
        .luma
        .thumbnail
        .iter()
        .zip(REF_THUMB.iter())
        .map(|(a, b)| f32::from(a.abs_diff(*b)))
        .sum::<f32>()
        / 64.0;
    assert!(
        thumb_diff < 3.0,
        "frame 0 thumbnail differs by {thumb_diff}: {:?}",
        f0.luma.thumbnail
    );
    // The colours are right: the picture's own YUV→BGR (the detector's colour matrix)
    // agrees with ffmpeg's conversion of the same frame, an independent implementation.
    let ffmpeg = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(vtest_h264())
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        ffmpeg.status.success(),
        "{}",
        String::from_utf8_lossy(&ffmpeg.stderr)
    );
    assert_eq!(ffmpeg.stdout.len(), 768 * 576 * 3);
    let d = mean_abs_diff(&ffmpeg.stdout, &bgr[0]);
    assert!(d < 1.5, "frame 0 differs from ffmpeg's BGR by {d} per byte");
    // The source picture (evidence) is the same buffer, converted by GStreamer on demand.
    // (GStreamer 1.22's converter comes out ~2.5 levels darker than ffmpeg and this on this
    // clip, hence the looser bound.)
    let (w, h, full) = f0.evidence.as_ref().unwrap().bgr().unwrap();
    assert_eq!((w, h, full.len()), (768, 576, 768 * 576 * 3));
    let d = mean_abs_diff(&full, &bgr[0]);
    assert!(
        d < 4.0,
        "GStreamer's conversion and the picture's own differ by {d}"
    );
    let snap = r.counters.snapshot();
    assert_eq!((snap.decoded, snap.emitted, snap.decode_errors), (6, 6, 0));
}

/// Frame 0 of the vtest clip as decoded on Debian bookworm (GStreamer 1.22, libav 5.1),
/// recorded 2026-12 from the picture's Y plane (scaled to full range; ffmpeg's BGR of the
/// same frame has a mean BT.601 luma of 120.0): mean luma and the 8x8 luma thumbnail.
const REF_MEAN: f32 = 121.06;
#[rustfmt::skip]
const REF_THUMB: [u8; 64] = [
    134, 113, 116, 125, 115, 115, 133, 110,
    101, 114, 117, 127, 136, 130, 133, 117,
    132, 146, 144, 147, 147, 145, 145, 112,
    122, 152, 159, 206, 205, 196, 160, 121,
    68, 86, 92, 138, 194, 199, 172, 159,
    57, 76, 89, 98, 107, 141, 182, 167,
    47, 72, 81, 98, 92, 89, 97, 126,
    51, 87, 76, 82, 86, 84, 78, 70,
];

#[test]
fn n_fps_decodes_every_frame_but_emits_n_per_second() {
    let mut r = rig(Sampling::Fps(2.0), DecoderOptions::default(), 256);
    let n = 250; // 10 s
    for (i, (data, key)) in units()[..n].iter().enumerate() {
        r.decoder.push(unit(i, data.clone(), *key)).unwrap();
    }
    let frames = drain(&mut r.rx);
    assert!(
        (19..=21).contains(&frames.len()),
        "{} frames in 10 s at 2 fps",
        frames.len()
    );
    for w in frames.windows(2) {
        let gap = w[1].pts - w[0].pts;
        assert!(
            gap >= Duration::from_millis(480) && gap <= Duration::from_millis(520),
            "{gap:?}"
        );
    }
    let s = r.counters.snapshot();
    assert_eq!(s.decoded, n as u64, "every frame decoded");
    assert_eq!(s.emitted, frames.len() as u64);
}

#[test]
fn full_queue_drops_the_newest_and_counts_it() {
    let mut r = rig(Sampling::All, DecoderOptions::default(), 5);
    for (i, (data, key)) in units()[..20].iter().enumerate() {
        r.decoder.push(unit(i, data.clone(), *key)).unwrap();
    }
    let frames = drain(&mut r.rx);
    assert_eq!(frames.len(), 5);
    // The oldest five were kept: drop-newest.
    assert_eq!(
        frames.iter().map(|f| f.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(frames[4].pts, FRAME * 4);
    let s = r.counters.snapshot();
    assert_eq!((s.emitted, s.dropped_queue_full), (5, 15));
}

#[test]
fn fixed_output_scales_in_the_pipeline_and_keeps_the_source() {
    let opts = DecoderOptions {
        output: OutputSize::Fixed {
            width: 416,
            height: 416,
        },
        keep_source: true,
        accel: Accel::Cpu,
    };
    let mut r = rig(Sampling::Keyframes, opts, 8);
    r.decoder.push(unit(0, units()[0].0.clone(), true)).unwrap();
    let f = drain(&mut r.rx).pop().expect("a frame");
    assert_eq!((f.picture.width(), f.picture.height()), (416, 416));
    assert_eq!(f.picture.format(), PixelFormat::I420);
    let (w, h, full) = f
        .evidence
        .as_ref()
        .expect("full-size source kept")
        .bgr()
        .unwrap();
    assert_eq!((w, h), (768, 576));
    // Same scene either way: the 8x8 luma thumbnails do not depend on the size.
    let small = LumaStats::from_bgr(&f.picture.view().to_bgr(), 416, 416);
    let large = LumaStats::from_bgr(&full, w, h);
    let d = small.thumbnail_difference(&large);
    assert!(
        d < 4.0,
        "pipeline-scaled and full-size pictures differ by {d} per thumbnail cell"
    );

    let opts = DecoderOptions {
        keep_source: false,
        ..DecoderOptions::default()
    };
    let mut r = rig(Sampling::Keyframes, opts, 8);
    r.decoder.push(unit(0, units()[0].0.clone(), true)).unwrap();
    let f = drain(&mut r.rx).pop().expect("a frame");
    assert_eq!((f.picture.width(), f.picture.height()), (768, 576));
    assert!(f.evidence.is_none());
}

#[test]
fn corrupt_slices_neither_kill_the_decoder_nor_stop_frames() {
    let mut r = rig(Sampling::All, DecoderOptions::default(), 1024);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let n = 300;
    for (i, (data, key)) in units()[..n].iter().enumerate() {
        let mut d = data.clone();
        // Every third frame: flip bytes in the slice data (past the headers), as camsim's
        // corrupt_ratio fault does on the wire.
        if i % 3 == 1 && d.len() > 64 {
            for _ in 0..8 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = 40 + (seed as usize % (d.len() - 40));
                d[at] ^= 0x5a;
            }
        }
        r.decoder
            .push(unit(i, d, *key))
            .expect("decoder survives corrupt input");
    }
    // Garbage that is not H.264 at all.
    r.decoder
        .push(unit(n, vec![0xff; 5000], false))
        .expect("decoder survives garbage");
    let before = drain(&mut r.rx).len();
    assert!(
        before > n * 8 / 10,
        "only {before} of {n} corrupt-stream frames decoded"
    );
    // And clean frames after the damage decode normally.
    for (i, (data, key)) in units()[n..n + 60].iter().enumerate() {
        r.decoder.push(unit(n + 1 + i, data.clone(), *key)).unwrap();
    }
    let after = drain(&mut r.rx);
    assert!(after.len() >= 50, "{} frames after the damage", after.len());
    assert!(after.iter().all(|f| f.luma.variance > 100.0));
}

#[test]
fn file_decoder_reads_vtest_avi_at_source_size_within_a_range() {
    let all = FileDecoder::open(
        std::path::Path::new(VTEST_AVI),
        FileDecodeOptions::default(),
    )
    .unwrap();
    assert_eq!(all.source_size(), Some((768, 576)));
    assert!((all.duration_s().unwrap() - 79.5).abs() < 0.2);
    let first: Vec<_> = all.take(3).map(Result::unwrap).collect();
    assert_eq!(first[0].pts_s, 0.0);
    assert!((first[1].pts_s - 0.1).abs() < 1e-6, "10 fps: {:?}", first);
    assert!(
        first
            .iter()
            .all(|f| (f.width, f.height, f.bgr.len()) == (768, 576, 768 * 576 * 3))
    );

    let range = FileDecoder::open(
        std::path::Path::new(VTEST_AVI),
        FileDecodeOptions {
            from_s: Some(30.0),
            to_s: Some(32.0),
            ..Default::default()
        },
    )
    .unwrap();
    let frames: Vec<_> = range.map(Result::unwrap).collect();
    let pts: Vec<f64> = frames.iter().map(|f| f.pts_s).collect();
    assert_eq!(frames.len(), 20, "{pts:?}");
    assert!((pts[0] - 30.0).abs() < 1e-6 && pts[19] < 32.0, "{pts:?}");
    // Frames differ (people walk), so this is real decoded content, not a repeated picture.
    assert!(mean_abs_diff(&frames[0].bgr, &frames[19].bgr) > 0.5);

    let paced = FileDecoder::open(
        std::path::Path::new(VTEST_AVI),
        FileDecodeOptions {
            from_s: Some(10.0),
            to_s: Some(20.0),
            max_fps: Some(2.0),
            size: Some((416, 416)),
        },
    )
    .unwrap();
    let frames: Vec<_> = paced.map(Result::unwrap).collect();
    assert_eq!(frames.len(), 20);
    assert!(frames.iter().all(|f| (f.width, f.height) == (416, 416)));

    let missing = FileDecoder::open(std::path::Path::new("/nonexistent.avi"), Default::default());
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .contains("/nonexistent.avi")
    );
}

/// Splits an H.265 Annex B stream into access units (first slice segment or a parameter
/// set / AUD / prefix SEI starts a new one), with the IRAP flag.
fn hevc_units(data: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut out: Vec<(Vec<u8>, bool)> = vec![];
    let mut cur: Vec<u8> = vec![];
    let (mut has_vcl, mut irap) = (false, false);
    for nal in h264::nal_units(data) {
        let t = (nal[0] >> 1) & 0x3f;
        let vcl = t < 32;
        let starts = matches!(t, 32..=35 | 39 | 41..=44 | 48..=55)
            || (vcl && nal.get(2).is_some_and(|b| b & 0x80 != 0));
        if starts && has_vcl {
            out.push((std::mem::take(&mut cur), irap));
            has_vcl = false;
            irap = false;
        }
        has_vcl |= vcl;
        irap |= (16..=23).contains(&t);
        cur.extend_from_slice(&[0, 0, 0, 1]);
        cur.extend_from_slice(nal);
    }
    if has_vcl {
        out.push((cur, irap));
    }
    out
}

#[test]
fn h265_stream_decodes_keyframes_and_all() {
    let path = std::env::temp_dir().join(format!("xl-decode-test-{}.h265", std::process::id()));
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("testsrc2=size=640x360:rate=25")
        .args([
            "-t",
            "2",
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
        ])
        .arg("keyint=25:min-keyint=25:bframes=0:repeat-headers=1:log-level=error")
        .args(["-f", "hevc"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    let units = hevc_units(&std::fs::read(&path).unwrap());
    let _ = std::fs::remove_file(&path);
    assert_eq!(units.len(), 50);
    assert_eq!(units.iter().filter(|u| u.1).count(), 2);
    for sampling in [Sampling::Keyframes, Sampling::All] {
        let camera = CameraId::new("h265").unwrap();
        let counters = CameraCounters::new(&camera);
        let (tx, mut rx) = mpsc::channel(64);
        let mut d = StreamDecoder::new(
            &camera,
            Codec::H265,
            sampling,
            &DecoderOptions::default(),
            counters,
            tx,
        )
        .unwrap();
        for (i, (data, key)) in units.iter().enumerate() {
            if sampling == Sampling::Keyframes && !key {
                continue;
            }
            d.push(unit(i, data.clone(), *key)).unwrap();
        }
        let frames = drain(&mut rx);
        let expected = if sampling == Sampling::All { 50 } else { 2 };
        assert_eq!(frames.len(), expected, "{sampling:?}");
        assert!(
            frames
                .iter()
                .all(|f| (f.picture.width(), f.picture.height(), f.source_size)
                    == (640, 360, (640, 360)))
        );
        // testsrc2 is colourful and moving.
        assert!(frames[0].luma.variance > 500.0);
        let (first, last) = (
            frames[0].picture.view().to_bgr(),
            frames[expected - 1].picture.view().to_bgr(),
        );
        assert!(mean_abs_diff(&first, &last) > 1.0);
    }
}
