//! Finding the detector's artefacts: the model (manifest + ONNX file) and the ONNX Runtime
//! shared library.
//!
//! Design decisions:
//! - **The binary knows its models.** Every `models/<name>/manifest.toml` in the repository is
//!   compiled in ([`builtin_manifest`]), so a binary asks for exactly the model version it was
//!   built and tested with, and `xueliang models list` works without a checkout.
//! - **Resolution order:** an explicit path (a `model.onnx` file or the folder holding it) →
//!   the cache, `$CACHE/models/<name>-<version>/model.onnx`, where `models/fetch.sh` installs
//!   it → an error that says how to fetch it. In the cache the `.verified` stamp (written last
//!   by `fetch.sh`) must exist: a folder without it is a fetch that died half-way.
//! - **The manifest is read leniently but checked strictly.** Unknown tables (`[source]`,
//!   `[convert]`, …) belong to the fetch script and are ignored here; the parts the detector
//!   relies on (input size, normalisation, head, output names and shapes) are validated into a
//!   [`ModelSpec`] whose every field is something the decoder can trust.
//! - **The ONNX Runtime library** is found through `ORT_DYLIB_PATH` (ort's own convention), else
//!   `$CACHE/onnxruntime-1.31.1/libonnxruntime.so.1.31.1`, where `./xl setup` unpacks it from the
//!   PyPI wheel. An `ORT_DYLIB_PATH` that points nowhere is an error, not a reason to fall back.
//!   Nothing is downloaded at run time.
//!
//! `$CACHE` is `${XUELIANG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xueliang}` (see [`cache_dir`]).

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The ONNX Runtime release the `ort` crate is used with (the PyPI wheel `onnxruntime==` this).
pub const ORT_VERSION: &str = "1.31.1";

/// Manifests of the models this build knows, as `(name, manifest.toml text)`.
const BUILTIN: &[(&str, &str)] = &[(
    "nanodet-m-416",
    include_str!("../../models/nanodet-m-416/manifest.toml"),
)];

/// What the user should run to get a missing model or runtime library.
const FETCH_HINT: &str = "fetch it with `xueliang models fetch {name}` (or run `./xl setup`, \
                          which fetches every model and the ONNX Runtime library)";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown model `{name}`; this build knows: {known}")]
    Unknown { name: String, known: String },
    #[error("model {name} {version} is not in the cache: {path} does not exist; {hint}")]
    NotFetched {
        name: String,
        version: String,
        path: PathBuf,
        hint: String,
    },
    #[error(
        "model {name} {version} in {dir} was never verified (no .verified stamp: a fetch was \
         interrupted); {hint}"
    )]
    NotVerified {
        name: String,
        version: String,
        dir: PathBuf,
        hint: String,
    },
    #[error(
        "model path {path} does not exist (given explicitly; fix the path or drop it to use the cache)"
    )]
    ExplicitMissing { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid model manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error(
        "{path} is model {found}, but {expected} was asked for (the cache folder and the \
         manifest inside it disagree; re-fetch with `xueliang models fetch {name}`)"
    )]
    Mismatch {
        path: PathBuf,
        name: String,
        expected: String,
        found: String,
    },
    #[error(
        "ONNX Runtime library not found: {tried}. Install it with `./xl setup` (it unpacks \
         onnxruntime/capi/libonnxruntime.so.{ORT_VERSION} from the PyPI wheel \
         onnxruntime=={ORT_VERSION} into {cache_target}), or point ORT_DYLIB_PATH at a \
         libonnxruntime.so of version {ORT_VERSION}"
    )]
    OrtLibraryMissing {
        tried: String,
        cache_target: PathBuf,
    },
    #[error(
        "ORT_DYLIB_PATH={path} does not exist; fix it, or unset it to use {cached}{}",
        if *cached_exists { " (present)" } else {
            " (not present either: run `./xl setup` to install ONNX Runtime there)"
        }
    )]
    OrtLibraryBadEnv {
        path: PathBuf,
        cached: PathBuf,
        cached_exists: bool,
    },
}

/// The cache folder (one rule for the whole workspace, see `xueliang_core::paths`).
pub use xueliang_core::paths::cache_dir;

/// Names of the models compiled into this build.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}

/// The compiled-in manifest of `name`, parsed and checked.
pub fn builtin_manifest(name: &str) -> Result<ModelSpec, ModelError> {
    let (_, text) =
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ModelError::Unknown {
                name: name.to_string(),
                known: builtin_names().collect::<Vec<_>>().join(", "),
            })?;
    ModelSpec::parse(text, Path::new(&format!("models/{name}/manifest.toml")))
}

/// A model ready to load: where the ONNX file is and what the manifest says about it.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub onnx: PathBuf,
    pub spec: ModelSpec,
}

/// Finds model `name`: `explicit` (a `.onnx` file, or a folder with `model.onnx` and
/// optionally its `manifest.toml`) when given, else the cache. See the module doc.
pub fn resolve_model(name: &str, explicit: Option<&Path>) -> Result<ResolvedModel, ModelError> {
    resolve_model_in(name, explicit, &cache_dir())
}

/// [`resolve_model`] with the cache folder given (tests, and callers with their own cache).
pub fn resolve_model_in(
    name: &str,
    explicit: Option<&Path>,
    cache: &Path,
) -> Result<ResolvedModel, ModelError> {
    let builtin = builtin_manifest(name)?;
    if let Some(p) = explicit {
        let (onnx, dir) = if p.is_dir() {
            (p.join(&builtin.file), p.to_path_buf())
        } else {
            let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            (p.to_path_buf(), dir)
        };
        if !onnx.is_file() {
            return Err(ModelError::ExplicitMissing { path: onnx });
        }
        // A manifest next to the model describes that model better than ours does.
        let manifest = dir.join("manifest.toml");
        let spec = if manifest.is_file() {
            load_checked(&manifest, &builtin, name)?
        } else {
            builtin
        };
        return Ok(ResolvedModel { onnx, spec });
    }

    let dir = cache
        .join("models")
        .join(format!("{}-{}", builtin.name, builtin.version));
    let hint = FETCH_HINT.replace("{name}", name);
    let onnx = dir.join(&builtin.file);
    if !onnx.is_file() {
        return Err(ModelError::NotFetched {
            name: builtin.name,
            version: builtin.version,
            path: onnx,
            hint,
        });
    }
    if !dir.join(".verified").is_file() {
        return Err(ModelError::NotVerified {
            name: builtin.name,
            version: builtin.version,
            dir,
            hint,
        });
    }
    let manifest = dir.join("manifest.toml");
    let spec = if manifest.is_file() {
        load_checked(&manifest, &builtin, name)?
    } else {
        builtin
    };
    Ok(ResolvedModel { onnx, spec })
}

fn load_checked(path: &Path, builtin: &ModelSpec, name: &str) -> Result<ModelSpec, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let spec = ModelSpec::parse(&text, path)?;
    if spec.name != builtin.name || spec.version != builtin.version {
        return Err(ModelError::Mismatch {
            path: path.to_path_buf(),
            name: name.to_string(),
            expected: format!("{} {}", builtin.name, builtin.version),
            found: format!("{} {}", spec.name, spec.version),
        });
    }
    Ok(spec)
}

/// Finds the ONNX Runtime shared library: `ORT_DYLIB_PATH`, else the cache.
pub fn resolve_ort_library() -> Result<PathBuf, ModelError> {
    resolve_ort_library_from(
        std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()),
        &cache_dir(),
    )
}

fn resolve_ort_library_from(
    env_path: Option<std::ffi::OsString>,
    cache: &Path,
) -> Result<PathBuf, ModelError> {
    let cached = cache
        .join(format!("onnxruntime-{ORT_VERSION}"))
        .join(format!("libonnxruntime.so.{ORT_VERSION}"));
    if let Some(p) = env_path {
        // An explicit setting that points nowhere is a mistake to report, not a reason to
        // quietly load some other build (it may have been meant to select the GPU build).
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(ModelError::OrtLibraryBadEnv {
            path: p,
            cached_exists: cached.is_file(),
            cached,
        });
    }
    if cached.is_file() {
        return Ok(cached);
    }
    Err(ModelError::OrtLibraryMissing {
        tried: format!(
            "ORT_DYLIB_PATH is not set, and {} does not exist",
            cached.display()
        ),
        cache_target: cached,
    })
}

// ---- the manifest --------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ManifestRaw {
    name: String,
    version: String,
    #[serde(default = "default_format")]
    format: String,
    #[serde(default = "default_file")]
    file: String,
    input: InputRaw,
    head: HeadRaw,
    outputs: Vec<OutputRaw>,
    labels: Option<LabelsRaw>,
}

fn default_format() -> String {
    "onnx".into()
}
fn default_file() -> String {
    "model.onnx".into()
}

#[derive(Debug, Deserialize)]
struct InputRaw {
    name: String,
    dtype: String,
    shape: Vec<i64>,
    layout: String,
    color: String,
    resize: String,
    mean: [f32; 3],
    std: [f32; 3],
}

#[derive(Debug, Deserialize)]
struct HeadRaw {
    kind: String,
    strides: Vec<u32>,
    reg_max: u32,
    num_classes: u32,
    cls_activation: String,
    center_offset: f32,
    box_sides: Vec<String>,
    score_threshold: f32,
    nms_iou: f32,
    nms: String,
}

#[derive(Debug, Deserialize)]
struct OutputRaw {
    name: String,
    dtype: String,
    shape: Vec<i64>,
    stride: u32,
}

#[derive(Debug, Deserialize)]
struct LabelsRaw {
    names: Vec<String>,
}

/// One stride level of a GFL head: its grid and the names of its two outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadLevel {
    pub stride: u32,
    /// Grid columns and rows (`input / stride`).
    pub grid: [u32; 2],
    /// `[N, cells, num_classes]`, sigmoid scores.
    pub cls_output: String,
    /// `[N, cells, 4 * (reg_max + 1)]`, side-major (left, top, right, bottom) bin logits.
    pub box_output: String,
}

/// A validated model manifest: everything pre-processing and box decoding rely on.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub version: String,
    /// File name of the model inside its folder.
    pub file: String,
    pub input_name: String,
    /// Network input `[width, height]`.
    pub input_size: [u32; 2],
    /// Per channel in B, G, R order, on 0..255 values: `x' = (x - mean) / std`.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub num_classes: usize,
    pub reg_max: usize,
    pub center_offset: f32,
    pub levels: Vec<HeadLevel>,
    /// The model's recommended thresholds (the analyzer config may override them).
    pub score_threshold: f32,
    pub nms_iou: f32,
    pub labels: Vec<String>,
}

impl ModelSpec {
    /// Parses and checks a manifest; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ModelSpec, ModelError> {
        let err = |message: String| ModelError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let raw: ManifestRaw = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut problems = Vec::new();
        let mut need = |ok: bool, msg: String| {
            if !ok {
                problems.push(msg);
            }
        };
        need(
            raw.format == "onnx",
            format!("format {:?} (only \"onnx\")", raw.format),
        );
        let i = &raw.input;
        need(
            i.dtype == "float32",
            format!("input.dtype {:?} (only float32)", i.dtype),
        );
        need(
            i.layout == "NCHW",
            format!("input.layout {:?} (only NCHW)", i.layout),
        );
        need(
            i.color == "BGR",
            format!("input.color {:?} (only BGR)", i.color),
        );
        need(
            i.resize == "stretch",
            format!("input.resize {:?} (only stretch)", i.resize),
        );
        need(
            i.std.iter().all(|s| *s > 0.0),
            "input.std must be positive".into(),
        );
        let shape_ok = i.shape.len() == 4 && i.shape[1] == 3 && i.shape[2] > 0 && i.shape[3] > 0;
        need(
            shape_ok,
            format!("input.shape {:?} (want [-1, 3, H, W])", i.shape),
        );
        let (h, w) = if shape_ok {
            (i.shape[2] as u32, i.shape[3] as u32)
        } else {
            (0, 0)
        };
        let hd = &raw.head;
        need(
            hd.kind == "gfl",
            format!("head.kind {:?} (only gfl)", hd.kind),
        );
        need(
            hd.cls_activation == "none",
            format!(
                "head.cls_activation {:?} (only \"none\": scores already sigmoid)",
                hd.cls_activation
            ),
        );
        need(
            hd.box_sides == ["left", "top", "right", "bottom"],
            format!("head.box_sides {:?}", hd.box_sides),
        );
        need(
            hd.nms == "class-wise",
            format!("head.nms {:?} (only class-wise)", hd.nms),
        );
        need(
            hd.num_classes > 0 && hd.reg_max > 0,
            "head.num_classes and head.reg_max must be positive".into(),
        );
        let mut levels = Vec::new();
        let cls_w = hd.num_classes as i64;
        let box_w = 4 * (hd.reg_max as i64 + 1);
        for &s in &hd.strides {
            if s == 0 || (shape_ok && (w % s != 0 || h % s != 0)) {
                need(
                    false,
                    format!("head.strides: {s} does not divide the input {w}x{h}"),
                );
                continue;
            }
            let grid = [w / s, h / s];
            let cells = (grid[0] * grid[1]) as i64;
            let find = |width: i64| {
                raw.outputs
                    .iter()
                    .find(|o| o.stride == s && o.shape.last() == Some(&width))
            };
            let (Some(c), Some(b)) = (find(cls_w), find(box_w)) else {
                need(
                    false,
                    format!(
                        "outputs: stride {s} needs a class output [N, {cells}, {cls_w}] and a \
                         box output [N, {cells}, {box_w}]"
                    ),
                );
                continue;
            };
            for o in [c, b] {
                need(
                    o.dtype == "float32" && o.shape.len() == 3 && o.shape[1] == cells,
                    format!(
                        "output {}: {} {:?}, want float32 [N, {cells}, _]",
                        o.name, o.dtype, o.shape
                    ),
                );
            }
            levels.push(HeadLevel {
                stride: s,
                grid,
                cls_output: c.name.clone(),
                box_output: b.name.clone(),
            });
        }
        need(!levels.is_empty(), "head.strides is empty".into());
        need(
            hd.score_threshold > 0.0 && hd.score_threshold < 1.0,
            "head.score_threshold must be in (0, 1)".into(),
        );
        need(
            hd.nms_iou > 0.0 && hd.nms_iou < 1.0,
            "head.nms_iou must be in (0, 1)".into(),
        );
        let labels = raw.labels.map(|l| l.names).unwrap_or_default();
        need(
            labels.is_empty() || labels.len() == hd.num_classes as usize,
            format!(
                "labels.names has {} names for {} classes",
                labels.len(),
                hd.num_classes
            ),
        );
        if !problems.is_empty() {
            return Err(err(problems.join("; ")));
        }
        Ok(ModelSpec {
            name: raw.name,
            version: raw.version,
            file: raw.file,
            input_name: raw.input.name,
            input_size: [w, h],
            mean: raw.input.mean,
            std: raw.input.std,
            num_classes: hd.num_classes as usize,
            reg_max: hd.reg_max as usize,
            center_offset: hd.center_offset,
            levels,
            score_threshold: hd.score_threshold,
            nms_iou: hd.nms_iou,
            labels,
        })
    }

    /// Floats in one image of the input tensor (`3 * H * W`).
    pub fn input_len(&self) -> usize {
        3 * self.input_size[0] as usize * self.input_size[1] as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_nanodet_manifest_is_valid() {
        let s = builtin_manifest("nanodet-m-416").unwrap();
        assert_eq!(s.input_size, [416, 416]);
        assert_eq!(s.input_name, "images");
        assert_eq!(s.reg_max, 10);
        assert_eq!(s.num_classes, 80);
        let strides: Vec<u32> = s.levels.iter().map(|l| l.stride).collect();
        assert_eq!(strides, [8, 16, 32]);
        assert_eq!(s.levels[0].grid, [52, 52]);
        assert_eq!(s.levels[0].cls_output, "cls_s8");
        assert_eq!(s.levels[2].box_output, "box_s32");
        assert_eq!(s.labels[7], "truck");
        assert_eq!(
            s.labels,
            xueliang_core::labels::COCO80
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let e = builtin_manifest("yolo").unwrap_err().to_string();
        assert!(e.contains("nanodet-m-416"), "{e}");
    }

    #[test]
    fn a_manifest_the_decoder_cannot_handle_is_refused_with_every_problem() {
        let text = include_str!("../../models/nanodet-m-416/manifest.toml")
            .replace("color = \"BGR\"", "color = \"RGB\"")
            .replace("reg_max = 10", "reg_max = 7");
        let e = ModelSpec::parse(&text, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("input.color"), "{e}");
        assert!(e.contains("box output"), "{e}");
    }

    #[test]
    fn missing_model_says_how_to_fetch_it() {
        let tmp = std::env::temp_dir().join(format!("xl-model-test-{}", std::process::id()));
        let e = resolve_model_in("nanodet-m-416", None, &tmp)
            .unwrap_err()
            .to_string();
        assert!(e.contains("xueliang models fetch nanodet-m-416"), "{e}");
        assert!(e.contains("./xl setup"), "{e}");
        assert!(e.contains("nanodet-m-416-1.0.0"), "{e}");
    }

    #[test]
    fn unverified_cache_folder_is_refused() {
        let tmp = std::env::temp_dir().join(format!("xl-model-unverified-{}", std::process::id()));
        let dir = tmp.join("models/nanodet-m-416-1.0.0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.onnx"), b"x").unwrap();
        let e = resolve_model_in("nanodet-m-416", None, &tmp).unwrap_err();
        assert!(matches!(e, ModelError::NotVerified { .. }), "{e}");
        std::fs::write(dir.join(".verified"), b"name=nanodet-m-416\n").unwrap();
        let m = resolve_model_in("nanodet-m-416", None, &tmp).unwrap();
        assert_eq!(m.onnx, dir.join("model.onnx"));
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn missing_ort_library_names_both_places_and_the_fix() {
        let tmp = Path::new("/nonexistent-xl-cache");
        let e = resolve_ort_library_from(None, tmp).unwrap_err().to_string();
        assert!(e.contains("ORT_DYLIB_PATH is not set"), "{e}");
        assert!(
            e.contains("/nonexistent-xl-cache/onnxruntime-1.31.1/libonnxruntime.so.1.31.1"),
            "{e}"
        );
        assert!(e.contains("./xl setup"), "{e}");
        assert!(e.contains("onnxruntime==1.31.1"), "{e}");
    }

    #[test]
    fn a_wrong_ort_dylib_path_is_an_error_even_with_a_cached_library() {
        let tmp = std::env::temp_dir().join(format!("xl-ort-test-{}", std::process::id()));
        let lib = tmp.join("onnxruntime-1.31.1/libonnxruntime.so.1.31.1");
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::write(&lib, b"").unwrap();
        assert_eq!(resolve_ort_library_from(None, &tmp).unwrap(), lib);
        let e = resolve_ort_library_from(Some("/nope/libonnxruntime.so".into()), &tmp)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ORT_DYLIB_PATH=/nope/libonnxruntime.so does not exist"),
            "{e}"
        );
        assert!(e.contains("unset it to use"), "{e}");
        assert!(e.contains("(present)"), "{e}");
        assert_eq!(
            resolve_ort_library_from(Some(lib.clone().into()), Path::new("/x")).unwrap(),
            lib
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
