//! Replays recorded detections through a [`Tracker`] and, optionally, a [`RuleEngine`].
//!
//! The recording is JSON lines, one analysed frame per line:
//!
//! ```text
//! {"t": 12.4, "frame_size": [768, 576], "detections": [{"class": "person", "score": 0.81, "box": [x1, y1, x2, y2]}]}
//! ```
//!
//! `t` is seconds on the camera's clock, `box` is in source-frame pixels, `class` is a COCO name
//! or index, and `frame_size` may be left out when the caller supplies it. This is the seam for
//! tests and benches that need real detector output without running the detector: record the
//! detector's output on a real clip once, then replay it at any sample rate with
//! [`subsample`].

use crate::analysis::CameraAnalysis;
use crate::rules::RuleEvent;
use crate::types::{Detection, TrackedObject};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

/// One recorded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionFrame {
    pub t: Duration,
    pub frame_size: Option<[u32; 2]>,
    pub detections: Vec<Detection>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{source_name}:{line}: not a detection frame: {err}")]
    Json {
        source_name: String,
        line: usize,
        err: serde_json::Error,
    },
    #[error("{source_name}:{line}: {what}")]
    Invalid {
        source_name: String,
        line: usize,
        what: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameRaw {
    t: f64,
    #[serde(default)]
    frame_size: Option<[u32; 2]>,
    detections: Vec<DetRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetRaw {
    class: ClassRaw,
    score: f32,
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ClassRaw {
    Index(u16),
    Name(String),
}

/// Parses a JSON-lines recording; `source_name` (e.g. the file name) appears in errors.
/// Blank lines are skipped.
pub fn parse_jsonl(text: &str, source_name: &str) -> Result<Vec<DetectionFrame>, ReplayError> {
    let mut frames = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let invalid = |what: String| ReplayError::Invalid {
            source_name: source_name.to_string(),
            line: line_no,
            what,
        };
        let raw: FrameRaw = serde_json::from_str(line).map_err(|err| ReplayError::Json {
            source_name: source_name.to_string(),
            line: line_no,
            err,
        })?;
        if !(raw.t.is_finite() && raw.t >= 0.0) {
            return Err(invalid(format!(
                "t = {} is not a time in seconds ≥ 0",
                raw.t
            )));
        }
        let mut detections = Vec::with_capacity(raw.detections.len());
        for d in raw.detections {
            let class = match d.class {
                ClassRaw::Index(i) if usize::from(i) < xueliang_core::labels::COCO80.len() => i,
                ClassRaw::Index(i) => {
                    return Err(invalid(format!("class index {i} is not a COCO-80 class")));
                }
                ClassRaw::Name(n) => match xueliang_core::labels::class_index(&n) {
                    Some(i) => i as u16,
                    None => return Err(invalid(format!("class {n:?} is not a COCO-80 class"))),
                },
            };
            detections.push(Detection {
                class,
                score: d.score,
                bbox: d.bbox,
            });
        }
        frames.push(DetectionFrame {
            t: Duration::from_secs_f64(raw.t),
            frame_size: raw.frame_size,
            detections,
        });
    }
    Ok(frames)
}

/// The frames a sampler running at one sample per `period` would have picked: the first frame
/// at or after each multiple of `period` from the first frame's time.
pub fn subsample(frames: &[DetectionFrame], period: Duration) -> Vec<&DetectionFrame> {
    let mut out = Vec::new();
    let mut next: Option<Duration> = None;
    for f in frames {
        match next {
            Some(n) if f.t < n => {}
            _ => {
                out.push(f);
                let base = next.unwrap_or(f.t);
                let mut n = base + period;
                while n <= f.t {
                    n += period;
                }
                next = Some(n);
            }
        }
    }
    out
}

/// What a replay produced: the tracker's output per frame, and the rule events.
#[derive(Debug, Default, Clone)]
pub struct ReplayOutput {
    pub tracks: Vec<(Duration, Vec<TrackedObject>)>,
    pub events: Vec<RuleEvent>,
}

/// Runs `frames` through `analysis` (tracker, then rules), exactly as the pipeline steps a
/// camera. Capture times are `epoch + t`; frames without a `frame_size` use
/// `default_frame_size`.
pub fn replay<'a>(
    frames: impl IntoIterator<Item = &'a DetectionFrame>,
    analysis: &mut CameraAnalysis,
    epoch: DateTime<Utc>,
    default_frame_size: [u32; 2],
) -> ReplayOutput {
    let mut out = ReplayOutput::default();
    for f in frames {
        let at = epoch + chrono::TimeDelta::from_std(f.t).unwrap_or(chrono::TimeDelta::MAX);
        let size = f.frame_size.unwrap_or(default_frame_size);
        out.events
            .extend(analysis.step(f.t, at, size, &f.detections));
        out.tracks.push((f.t, analysis.objects().to_vec()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_indices_and_names_the_bad_line() {
        let text = r#"{"t": 0.0, "frame_size": [768, 576], "detections": [{"class": "person", "score": 0.8, "box": [1, 2, 3, 4]}]}

{"t": 0.1, "detections": [{"class": 7, "score": 0.5, "box": [1, 2, 3, 4]}]}
{"t": 0.2, "detections": [{"class": "unicorn", "score": 0.5, "box": [1, 2, 3, 4]}]}"#;
        let err = parse_jsonl(text, "rec.jsonl").unwrap_err().to_string();
        assert!(
            err.starts_with("rec.jsonl:4:") && err.contains("unicorn"),
            "{err}"
        );
        let frames = parse_jsonl(&text[..text.rfind('\n').unwrap()], "rec.jsonl").unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].frame_size, Some([768, 576]));
        assert_eq!(frames[1].detections[0].class, 7);
    }

    #[test]
    fn subsample_picks_one_frame_per_period() {
        let frames: Vec<DetectionFrame> = (0..30)
            .map(|i| DetectionFrame {
                t: Duration::from_millis(100 * i),
                frame_size: None,
                detections: Vec::new(),
            })
            .collect();
        let picked: Vec<u128> = subsample(&frames, Duration::from_secs(1))
            .iter()
            .map(|f| f.t.as_millis())
            .collect();
        assert_eq!(picked, vec![0, 1000, 2000]);
        assert_eq!(subsample(&frames, Duration::from_millis(500)).len(), 6);
    }
}
