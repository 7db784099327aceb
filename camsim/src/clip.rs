//! The clips the simulator replays, and how they get made.
//!
//! Design decisions:
//! - **Encode once, replay forever.** Every preset is an Annex B elementary stream made by the
//!   system `ffmpeg` and cached under `$CACHE/media/`; the server never encodes. Presets are
//!   25 fps, GOP 50, no B-frames, parameter sets repeated before every IDR, and a whole number
//!   of GOPs long, so looping the file yields a regular 2 s keyframe cadence.
//! - **Each preset in either codec.** `vtest` is H.264 (libx264), `vtest-h265` the same source
//!   as H.265 (libx265, closed GOPs so every keyframe is an IDR, `ultrafast` because x265 is
//!   several times slower than x264 and the picture quality is not what camsim tests). A suffix
//!   rather than a separate `--codec` flag, so every command that takes a clip spec (camsim, the
//!   ingest and decode benches) gets H.265 without a flag of its own.
//! - **The file name carries the recipe version.** Change the encode parameters → bump
//!   [`RECIPE_VERSION`] → a new file name, so a stale cached clip is never mistaken for the new one.
//! - **Safe under concurrency.** Tests in parallel (threads or processes) may ask for the same clip
//!   at once: an advisory lock on a sibling `.lock` file serializes the encode, and ffmpeg writes a
//!   temporary file that is renamed into place, so readers never see a half-written clip.
//! - **Blocking on purpose.** [`ensure_clip`] runs a subprocess for seconds; async callers wrap it
//!   in `spawn_blocking`.

use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use xueliang_ingest::decode::Codec;

/// Where Debian's `opencv-doc` package installs the street clip.
pub const VTEST_AVI: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

/// Bumped whenever an encode recipe below changes.
pub const RECIPE_VERSION: u32 = 1;

/// The clips the simulator can make by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClipPreset {
    /// The real street scene `vtest.avi` (768x576, pedestrians, fixed elevated camera),
    /// 78 s at 25 fps (its 10 fps frames repeated), ~0.7 Mbit/s. The default.
    Vtest,
    /// ffmpeg `testsrc2` at 640x360, ~0.8 Mbit/s, 30 s: the load-test stream.
    Synthetic360p,
    /// `testsrc2` at 1280x720, ~2 Mbit/s, 30 s.
    Synthetic720p,
    /// `testsrc2` at 1920x1080, ~4 Mbit/s, 20 s.
    Synthetic1080p,
}

impl ClipPreset {
    pub const ALL: [ClipPreset; 4] = [
        ClipPreset::Vtest,
        ClipPreset::Synthetic360p,
        ClipPreset::Synthetic720p,
        ClipPreset::Synthetic1080p,
    ];

    /// The name used on the command line (`vtest`, `360p`, `720p`, `1080p`).
    pub fn name(self) -> &'static str {
        match self {
            ClipPreset::Vtest => "vtest",
            ClipPreset::Synthetic360p => "360p",
            ClipPreset::Synthetic720p => "720p",
            ClipPreset::Synthetic1080p => "1080p",
        }
    }

    /// Picture size of the encoded clip.
    pub fn dimensions(self) -> (u32, u32) {
        match self {
            ClipPreset::Vtest => (768, 576),
            ClipPreset::Synthetic360p => (640, 360),
            ClipPreset::Synthetic720p => (1280, 720),
            ClipPreset::Synthetic1080p => (1920, 1080),
        }
    }

    /// The clip spec naming this preset in `codec`: `vtest` for H.264, `vtest-h265` for H.265.
    pub fn spec(self, codec: Codec) -> String {
        match codec {
            Codec::H264 => self.name().to_string(),
            Codec::H265 => format!("{}-h265", self.name()),
        }
    }

    /// Parses a clip spec: a preset name, optionally suffixed `-h265` (or `-h264`).
    pub fn parse_spec(spec: &str) -> Option<(ClipPreset, Codec)> {
        let lower = spec.trim().to_ascii_lowercase();
        let (name, codec) = if let Some(n) = lower.strip_suffix("-h265") {
            (n, Codec::H265)
        } else if let Some(n) = lower.strip_suffix("-h264") {
            (n, Codec::H264)
        } else {
            (lower.as_str(), Codec::H264)
        };
        name.parse().ok().map(|p| (p, codec))
    }

    /// H.264 file name inside `$CACHE/media/` (see [`ClipPreset::file_name_for`]).
    pub fn file_name(self) -> String {
        self.file_name_for(Codec::H264)
    }

    /// File name inside `$CACHE/media/` of this preset encoded in `codec`.
    pub fn file_name_for(self, codec: Codec) -> String {
        let (w, h) = self.dimensions();
        let what = match self {
            ClipPreset::Vtest => "vtest",
            _ => "testsrc2",
        };
        let ext = match codec {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
        };
        format!("{what}-{w}x{h}-25fps-gop50-v{RECIPE_VERSION}.{ext}")
    }

    /// ffmpeg arguments before the output file name.
    fn ffmpeg_args(self, codec: Codec) -> Vec<String> {
        let mut args: Vec<String> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
            .map(String::from)
            .to_vec();
        let (w, h) = self.dimensions();
        let (input, seconds, bitrate): (Vec<String>, u32, Option<u32>) = match self {
            ClipPreset::Vtest => (
                vec![
                    "-i".into(),
                    VTEST_AVI.into(),
                    "-an".into(),
                    "-vf".into(),
                    "fps=25".into(),
                ],
                // 78 s = 39 whole GOPs of the 79.5 s source.
                78,
                None,
            ),
            _ => {
                let (secs, kbps) = match self {
                    ClipPreset::Synthetic360p => (30, 800),
                    ClipPreset::Synthetic720p => (30, 2_000),
                    _ => (20, 4_000),
                };
                (
                    vec![
                        "-f".into(),
                        "lavfi".into(),
                        "-i".into(),
                        format!("testsrc2=size={w}x{h}:rate=25"),
                    ],
                    secs,
                    Some(kbps),
                )
            }
        };
        args.extend(input);
        args.extend(["-t".to_string(), seconds.to_string()]);
        if codec == Codec::H265 {
            args.extend(
                [
                    "-c:v",
                    "libx265",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv420p",
                ]
                .map(String::from),
            );
            if let Some(kbps) = bitrate {
                args.extend(["-b:v".to_string(), format!("{kbps}k")]);
            }
            args.extend(
                [
                    "-x265-params",
                    "keyint=50:min-keyint=50:scenecut=0:bframes=0:open-gop=0:repeat-headers=1:\
                     log-level=error",
                    "-f",
                    "hevc",
                ]
                .map(String::from),
            );
            return args;
        }
        args.extend(
            [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-profile:v",
                "high",
                "-pix_fmt",
                "yuv420p",
            ]
            .map(String::from),
        );
        if let Some(kbps) = bitrate {
            args.extend([
                "-b:v".to_string(),
                format!("{kbps}k"),
                "-maxrate".to_string(),
                format!("{kbps}k"),
                "-bufsize".to_string(),
                format!("{}k", kbps * 2),
            ]);
        }
        args.extend(
            [
                "-g",
                "50",
                "-keyint_min",
                "50",
                "-sc_threshold",
                "0",
                "-bf",
                "0",
                "-x264-params",
                "repeat-headers=1",
                "-f",
                "h264",
            ]
            .map(String::from),
        );
        args
    }
}

impl fmt::Display for ClipPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ClipPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ClipPreset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown clip preset {s:?}; expected vtest, 360p, 720p or 1080p \
                     (suffixed -h265 for H.265)"
                )
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error(
        "ffmpeg is needed to create the {clip} clip but could not be started ({source}); \
         install Debian's `ffmpeg` package or pass an existing .h264/.h265 file"
    )]
    FfmpegMissing {
        clip: String,
        source: std::io::Error,
    },
    #[error("ffmpeg failed to create the {clip} clip at {path} ({status}): {stderr}")]
    FfmpegFailed {
        clip: String,
        path: PathBuf,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error(
        "the {clip} clip needs its source {path}, which is missing; install Debian's \
         `opencv-doc` package"
    )]
    SourceMissing { clip: String, path: PathBuf },
    #[error("clip {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "clip {spec:?} is neither a preset (vtest, 360p, 720p, 1080p, each also as NAME-h265) \
         nor an existing H.264/H.265 Annex B file"
    )]
    UnknownClip { spec: String },
}

/// `${XUELIANG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xueliang}`.
pub fn default_cache_dir() -> PathBuf {
    xueliang_core::paths::cache_dir()
}

/// Returns the path of the H.264 `preset` under `cache_dir/media/`, encoding it first if it is
/// missing.
pub fn ensure_clip(preset: ClipPreset, cache_dir: &Path) -> Result<PathBuf, ClipError> {
    ensure_clip_in(preset, Codec::H264, cache_dir)
}

/// Returns the path of `preset` encoded in `codec` under `cache_dir/media/`, encoding it first
/// if it is missing.
pub fn ensure_clip_in(
    preset: ClipPreset,
    codec: Codec,
    cache_dir: &Path,
) -> Result<PathBuf, ClipError> {
    let dir = cache_dir.join("media");
    let file_name = preset.file_name_for(codec);
    let clip = preset.spec(codec);
    let path = dir.join(&file_name);
    if path.is_file() {
        return Ok(path);
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ClipError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let lock_path = dir.join(format!(".{file_name}.lock"));
    let lock = File::create(&lock_path).map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    // Someone else may have finished the encode while we waited for the lock.
    if path.is_file() {
        return Ok(path);
    }
    if preset == ClipPreset::Vtest && !Path::new(VTEST_AVI).is_file() {
        return Err(ClipError::SourceMissing {
            clip,
            path: VTEST_AVI.into(),
        });
    }
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    tracing::info!(clip = %clip, path = %path.display(), "encoding camsim clip with ffmpeg (once)");
    let output = Command::new("ffmpeg")
        .args(preset.ffmpeg_args(codec))
        .arg(&tmp)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ClipError::FfmpegMissing {
            clip: clip.clone(),
            source,
        })?;
    if !output.status.success() {
        let _ = fs::remove_file(&tmp);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        return Err(ClipError::FfmpegFailed {
            clip,
            path,
            status: output.status,
            stderr: tail,
        });
    }
    fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

/// Resolves a `--clip` argument: a preset name, optionally suffixed `-h265` (encoded into the
/// cache if needed), or the path of an existing H.264 or H.265 Annex B file (the loader tells
/// the codec from the bytes).
pub fn resolve_clip(spec: &str, cache_dir: &Path) -> Result<PathBuf, ClipError> {
    if let Some((preset, codec)) = ClipPreset::parse_spec(spec) {
        return ensure_clip_in(preset, codec, cache_dir);
    }
    let path = PathBuf::from(spec);
    if path.is_file() {
        Ok(path)
    } else {
        Err(ClipError::UnknownClip { spec: spec.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names_round_trip() {
        for p in ClipPreset::ALL {
            assert_eq!(p.name().parse::<ClipPreset>(), Ok(p));
        }
        assert!("4k".parse::<ClipPreset>().is_err());
    }

    #[test]
    fn file_names_are_distinct_and_versioned() {
        let names: std::collections::HashSet<_> = ClipPreset::ALL
            .iter()
            .flat_map(|p| [p.file_name(), p.file_name_for(Codec::H265)])
            .collect();
        assert_eq!(names.len(), 2 * ClipPreset::ALL.len());
        assert!(ClipPreset::Vtest.file_name().contains("-v1."));
        assert!(
            ClipPreset::Vtest
                .file_name_for(Codec::H265)
                .ends_with(".h265")
        );
    }

    #[test]
    fn specs_name_preset_and_codec() {
        for p in ClipPreset::ALL {
            for c in [Codec::H264, Codec::H265] {
                assert_eq!(ClipPreset::parse_spec(&p.spec(c)), Some((p, c)));
            }
        }
        assert_eq!(
            ClipPreset::parse_spec("720P-H265"),
            Some((ClipPreset::Synthetic720p, Codec::H265))
        );
        assert_eq!(
            ClipPreset::parse_spec("vtest-h264"),
            Some((ClipPreset::Vtest, Codec::H264))
        );
        assert_eq!(ClipPreset::parse_spec("vtest-vp9"), None);
        assert_eq!(ClipPreset::parse_spec("-h265"), None);
    }

    #[test]
    fn unknown_clip_names_the_spec() {
        let err = resolve_clip("/nonexistent/x.h264", Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.h264"));
    }
}
