//! `xueliang analyze-file`: decode → detect → track → rules over a recorded clip, printing one
//! JSON object per analysed frame and per rule event. Engineers use it to check a model on
//! their scenes and to tune zones before arming a camera.
//!
//! The clip's first frame is taken to have been captured "now", so armed schedules apply as
//! if the clip were live at the time of the run.

use crate::cli::AnalyzeFileArgs;
use anyhow::{Context, anyhow};
use serde_json::json;
use std::io::Write;
use std::time::Duration;
use xueliang::config_load;
use xueliang_analyzer::analysis::CameraAnalysis;
use xueliang_analyzer::detector::{Detector, DetectorOptions, PictureRef};
use xueliang_analyzer::model::resolve_model;
use xueliang_core::CameraId;
use xueliang_core::config::{AnalyzerConfig, Sampling};
use xueliang_core::labels::COCO80;
use xueliang_ingest::decode::{FileDecodeOptions, FileDecoder};

pub fn run(args: AnalyzeFileArgs) -> anyhow::Result<()> {
    xueliang::telemetry::init_tracing(xueliang_core::config::LogFormat::Pretty, "warn");
    let (analyzer, camera, rules, utc_offset_s, sampling) = match &args.config {
        Some(path) => {
            let s = config_load::load(path)?;
            let cam = match &args.camera {
                Some(id) => s
                    .inventory
                    .cameras
                    .iter()
                    .find(|c| c.id.as_str() == id)
                    .ok_or_else(|| {
                        anyhow!("camera {id} is not in {}", s.inventory.file.display())
                    })?,
                None => s
                    .inventory
                    .cameras
                    .iter()
                    .find(|c| !c.rules.is_empty())
                    .or(s.inventory.cameras.first())
                    .ok_or_else(|| anyhow!("{} has no cameras", s.inventory.file.display()))?,
            }
            .clone();
            (
                s.node.analyzer.clone(),
                cam.id.clone(),
                cam.rules.clone(),
                s.node.utc_offset_s,
                Some(cam.sampling),
            )
        }
        None => (
            AnalyzerConfig {
                // One file, one session: use both cores inside it.
                intra_threads: std::num::NonZeroUsize::new(2).expect("2 is not zero"),
                ..AnalyzerConfig::default()
            },
            CameraId::new("file").expect("valid id"),
            Vec::new(),
            8 * 3600,
            None,
        ),
    };
    let max_fps = args.fps.or(match sampling {
        Some(Sampling::Fps(f)) => Some(f),
        _ => None,
    });

    let model = resolve_model(&analyzer.model, args.model.as_deref())?;
    let model_ref = json!({"name": model.spec.name, "version": model.spec.version});
    let mut opts = DetectorOptions::from_config(&analyzer);
    opts.max_batch = 1;
    let mut detector = Detector::new(&model, &opts).context("loading the detector")?;
    let mut analysis = CameraAnalysis::new(camera.clone(), rules, utc_offset_s);
    let decoder = FileDecoder::open(
        &args.video,
        FileDecodeOptions {
            from_s: args.from_s,
            to_s: args.to_s,
            max_fps,
            size: None,
        },
    )
    .with_context(|| format!("opening {}", args.video.display()))?;

    let epoch = chrono::Utc::now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut frames, mut events) = (0u64, 0u64);
    for frame in decoder {
        let frame = frame?;
        let size = [frame.width, frame.height];
        let dets = detector.detect(PictureRef::bgr(frame.width, frame.height, &frame.bgr))?;
        let at = epoch + chrono::Duration::microseconds((frame.pts_s * 1e6) as i64);
        let rule_events = analysis.step(Duration::from_secs_f64(frame.pts_s), at, size, &dets);
        let tracked = analysis.objects();
        let detections: Vec<_> = dets
            .iter()
            .map(|d| {
                // The tracker reports the detector's own box, so equality finds the track.
                let track = tracked
                    .iter()
                    .find(|t| t.bbox == d.bbox)
                    .map(|t| t.track_id);
                json!({
                    "class": COCO80.get(d.class as usize).copied().unwrap_or("?"),
                    "score": round(d.score, 3),
                    "box": d.bbox.map(|v| round(v, 1)),
                    "track": track,
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            json!({"type": "frame", "t": round(frame.pts_s as f32, 3), "detections": detections})
        )?;
        frames += 1;
        for ev in rule_events {
            let mut alert = ev.to_alert();
            alert.model = serde_json::from_value(model_ref.clone()).ok();
            let mut v = serde_json::to_value(&alert)?;
            let o = v.as_object_mut().expect("alert is an object");
            o.insert("type".into(), json!("event"));
            o.insert("t".into(), json!(round(frame.pts_s as f32, 3)));
            writeln!(out, "{v}")?;
            events += 1;
        }
    }
    out.flush()?;
    eprintln!(
        "analysed {frames} frames of {} with {}; {events} rule events (camera {camera})",
        args.video.display(),
        model.spec.name
    );
    Ok(())
}

fn round(v: f32, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (v as f64 * p).round() / p
}
