//! [`Detector`]: one ONNX Runtime session and the buffers that go with it.
//!
//! Design decisions:
//! - **The batch tensor is allocated once** (`max_batch` slots) and pre-processing writes into
//!   it in place; ort borrows it for the run (`TensorRef`), so a batch costs no allocation
//!   besides ONNX Runtime's own outputs.
//! - **The session is checked against the manifest when it is created**: input name, output
//!   names and per-image shapes. A model file that drifted from its manifest fails at start-up
//!   with the file named, not later with garbage boxes.
//! - **Outputs are addressed by index**, resolved once from the manifest's names.
//! - `intra_threads` ORT threads per session; inter-op parallelism is off (this graph is a
//!   chain, and the pool's workers are the parallelism).

use super::postprocess::{self, Candidate, DecodeParams, LevelOutput};
use super::preprocess::Resizer;
use super::{DetectorError, PictureRef, runtime};
use crate::model::{ModelSpec, ResolvedModel};
use crate::types::Detection;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::value::TensorRef;
use std::time::{Duration, Instant};
use xueliang_core::config::{AnalyzerConfig, ExecutionProvider};

/// How to build and run a [`Detector`].
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorOptions {
    pub execution_provider: ExecutionProvider,
    /// ONNX Runtime intra-op threads for this session.
    pub intra_threads: usize,
    /// Largest batch one `session.run` gets; longer inputs are split.
    pub max_batch: usize,
    /// `None`: the model manifest's threshold, what the model was calibrated for.
    pub score_threshold: Option<f32>,
    /// `None`: the model manifest's.
    pub nms_iou: Option<f32>,
    /// Detections kept per frame after NMS, best first.
    pub max_detections: usize,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions {
            execution_provider: ExecutionProvider::Cpu,
            intra_threads: 1,
            max_batch: 4,
            score_threshold: None,
            nms_iou: None,
            max_detections: 100,
        }
    }
}

impl DetectorOptions {
    pub fn from_config(c: &AnalyzerConfig) -> Self {
        DetectorOptions {
            execution_provider: c.execution_provider,
            intra_threads: c.intra_threads.get(),
            max_batch: c.batch_max.get(),
            score_threshold: c.score_threshold,
            nms_iou: c.nms_iou,
            ..DetectorOptions::default()
        }
    }

    fn validate(&self) -> Result<(), DetectorError> {
        let bad = |m: String| Err(DetectorError::Options(m));
        if self.intra_threads == 0 {
            return bad("intra_threads must be at least 1".into());
        }
        if self.max_batch == 0 || self.max_batch > 64 {
            return bad(format!("max_batch {} is outside 1..=64", self.max_batch));
        }
        for (name, v) in [
            ("score_threshold", self.score_threshold),
            ("nms_iou", self.nms_iou),
        ] {
            if let Some(v) = v.filter(|v| !(*v > 0.0 && *v < 1.0)) {
                return bad(format!("{name} {v} is outside (0, 1)"));
            }
        }
        Ok(())
    }
}

/// Time spent in each step of the last [`Detector::detect_batch`] (summed over its chunks).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub preprocess: Duration,
    pub inference: Duration,
    pub postprocess: Duration,
}

/// One ONNX Runtime session for one model. Not shared between threads: create one per worker.
pub struct Detector {
    session: Session,
    spec: ModelSpec,
    opts: DetectorOptions,
    params: DecodeParams,
    resizer: Resizer,
    /// `max_batch` input slots, NCHW.
    input: Vec<f32>,
    scratch: Vec<Candidate>,
    /// Per head level: indices of its class and box outputs.
    outputs: Vec<(usize, usize)>,
    times: StageTimes,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field(
                "model",
                &format_args!("{} {}", self.spec.name, self.spec.version),
            )
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Detector {
    /// Loads `model` (initialising ONNX Runtime if this is the first detector).
    pub fn new(model: &ResolvedModel, opts: &DetectorOptions) -> Result<Detector, DetectorError> {
        opts.validate()?;
        let env = runtime::environment()?;
        let spec = model.spec.clone();
        let load_err = |message: String| DetectorError::Load {
            model: format!("{} {}", spec.name, spec.version),
            path: model.onnx.clone(),
            message,
        };
        // Each builder step returns the builder inside its (large) error; keep only the text.
        let builder = Session::builder(env).map_err(|e| load_err(e.to_string()))?;
        let builder = builder
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| load_err(e.to_string()))?
            .with_intra_threads(opts.intra_threads)
            .map_err(|e| load_err(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| load_err(e.to_string()))?;
        let mut builder = with_provider(builder, opts, &spec)?;
        let session = builder
            .commit_from_file(&model.onnx)
            .map_err(|e| load_err(e.to_string()))?;
        let outputs = check_signature(&session, &spec, model)?;
        let resizer = Resizer::new(&spec);
        let input = vec![0.0; opts.max_batch * spec.input_len()];
        tracing::debug!(
            model = %spec.name,
            provider = ?opts.execution_provider,
            intra_threads = opts.intra_threads,
            max_batch = opts.max_batch,
            "detector session ready"
        );
        Ok(Detector {
            session,
            params: DecodeParams {
                score_threshold: opts.score_threshold.unwrap_or(spec.score_threshold),
                nms_iou: opts.nms_iou.unwrap_or(spec.nms_iou),
                max_detections: opts.max_detections,
            },
            spec,
            opts: opts.clone(),
            resizer,
            input,
            scratch: Vec::with_capacity(256),
            outputs,
            times: StageTimes::default(),
        })
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    pub fn options(&self) -> &DetectorOptions {
        &self.opts
    }

    /// Step timings of the last [`detect_batch`](Self::detect_batch).
    pub fn last_times(&self) -> StageTimes {
        self.times
    }

    /// Detections for one frame.
    pub fn detect(&mut self, frame: PictureRef<'_>) -> Result<Vec<Detection>, DetectorError> {
        Ok(self.detect_batch(&[frame])?.pop().unwrap_or_default())
    }

    /// Detections for each frame, in order. Frames may differ in size; more than `max_batch`
    /// frames run as several batches. Every frame is checked before anything runs.
    pub fn detect_batch(
        &mut self,
        frames: &[PictureRef<'_>],
    ) -> Result<Vec<Vec<Detection>>, DetectorError> {
        for (index, f) in frames.iter().enumerate() {
            f.check()
                .map_err(|source| DetectorError::Frame { index, source })?;
        }
        self.times = StageTimes::default();
        let mut all = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.opts.max_batch) {
            self.run_chunk(chunk, &mut all)?;
        }
        Ok(all)
    }

    fn run_chunk(
        &mut self,
        frames: &[PictureRef<'_>],
        all: &mut Vec<Vec<Detection>>,
    ) -> Result<(), DetectorError> {
        let n = frames.len();
        let slot = self.spec.input_len();
        let t0 = Instant::now();
        for (f, out) in frames.iter().zip(self.input.chunks_exact_mut(slot)) {
            self.resizer.run(f, out);
        }
        let t1 = Instant::now();
        let [w, h] = self.spec.input_size;
        let shape = [n as i64, 3, h as i64, w as i64];
        let infer_err = |message: String| DetectorError::Inference {
            model: format!("{} {}", self.spec.name, self.spec.version),
            batch: n,
            message,
        };
        let tensor = TensorRef::from_array_view((shape, &self.input[..n * slot]))
            .map_err(|e| infer_err(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![tensor])
            .map_err(|e| infer_err(e.to_string()))?;
        let t2 = Instant::now();
        let mut views = Vec::with_capacity(self.outputs.len());
        for (level, &(ci, bi)) in self.spec.levels.iter().zip(&self.outputs) {
            let cls = outputs[ci]
                .try_extract_tensor::<f32>()
                .map_err(|e| infer_err(format!("output {}: {e}", level.cls_output)))?
                .1;
            let reg = outputs[bi]
                .try_extract_tensor::<f32>()
                .map_err(|e| infer_err(format!("output {}: {e}", level.box_output)))?
                .1;
            if cls.len() % n != 0 || reg.len() % n != 0 {
                return Err(infer_err(format!(
                    "outputs {}/{} hold {}/{} values, not a multiple of the batch",
                    level.cls_output,
                    level.box_output,
                    cls.len(),
                    reg.len()
                )));
            }
            views.push((cls, reg, cls.len() / n, reg.len() / n));
        }
        let mut levels = Vec::with_capacity(views.len());
        for (i, f) in frames.iter().enumerate() {
            levels.clear();
            levels.extend(views.iter().map(|&(cls, reg, cn, rn)| LevelOutput {
                cls: &cls[i * cn..(i + 1) * cn],
                reg: &reg[i * rn..(i + 1) * rn],
            }));
            all.push(postprocess::decode(
                &self.spec,
                &levels,
                &self.params,
                [f.width, f.height],
                &mut self.scratch,
            ));
        }
        let t3 = Instant::now();
        self.times.preprocess += t1 - t0;
        self.times.inference += t2 - t1;
        self.times.postprocess += t3 - t2;
        Ok(())
    }

    /// Runs the bare model on the first `batch` slots of the input buffer as they are (no
    /// pre- or post-processing): the "raw ONNX Runtime" baseline for benchmarks.
    pub fn run_raw(&mut self, batch: usize) -> Result<(), DetectorError> {
        let batch = batch.clamp(1, self.opts.max_batch);
        let slot = self.spec.input_len();
        let [w, h] = self.spec.input_size;
        let shape = [batch as i64, 3, h as i64, w as i64];
        let err = |message: String| DetectorError::Inference {
            model: format!("{} {}", self.spec.name, self.spec.version),
            batch,
            message,
        };
        let tensor = TensorRef::from_array_view((shape, &self.input[..batch * slot]))
            .map_err(|e| err(e.to_string()))?;
        self.session
            .run(ort::inputs![tensor])
            .map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}

/// Registers the configured execution provider; GPU providers fail loudly if they cannot be
/// used (see the module doc of `detector`).
fn with_provider(
    builder: SessionBuilder,
    opts: &DetectorOptions,
    #[cfg_attr(not(feature = "gpu"), allow(unused_variables))] spec: &ModelSpec,
) -> Result<SessionBuilder, DetectorError> {
    match opts.execution_provider {
        ExecutionProvider::Cpu => builder
            .with_execution_providers([ort::ep::CPU::default().build()])
            .map_err(|e| DetectorError::Provider {
                provider: "cpu",
                message: e.to_string(),
            }),
        #[cfg(feature = "gpu")]
        ExecutionProvider::Cuda => builder
            .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
            .map_err(|e| DetectorError::Provider {
                provider: "cuda",
                message: e.to_string(),
            }),
        #[cfg(feature = "gpu")]
        ExecutionProvider::TensorRt => {
            // TensorRT builds an engine per input shape profile: declare the batch range once so
            // it does not rebuild when the batch size changes; cache engines across restarts.
            let [w, h] = spec.input_size;
            let dims = |n: usize| format!("{}:{n}x3x{h}x{w}", spec.input_name);
            let cache = crate::model::cache_dir().join("tensorrt");
            let trt = ort::ep::TensorRT::default()
                .with_profile_min_shapes(dims(1))
                .with_profile_opt_shapes(dims(opts.max_batch))
                .with_profile_max_shapes(dims(opts.max_batch))
                .with_engine_cache(true)
                .with_engine_cache_path(cache.display())
                .with_timing_cache(true)
                .with_timing_cache_path(cache.display());
            // CUDA after TensorRT takes the nodes TensorRT cannot.
            builder
                .with_execution_providers([
                    trt.build().error_on_failure(),
                    ort::ep::CUDA::default().build().error_on_failure(),
                ])
                .map_err(|e| DetectorError::Provider {
                    provider: "tensorrt",
                    message: e.to_string(),
                })
        }
        #[cfg(not(feature = "gpu"))]
        ExecutionProvider::Cuda => Err(DetectorError::ProviderNotCompiled { provider: "cuda" }),
        #[cfg(not(feature = "gpu"))]
        ExecutionProvider::TensorRt => Err(DetectorError::ProviderNotCompiled {
            provider: "tensorrt",
        }),
    }
}

/// Checks the session's I/O against the manifest; returns the output indices per level.
fn check_signature(
    session: &Session,
    spec: &ModelSpec,
    model: &ResolvedModel,
) -> Result<Vec<(usize, usize)>, DetectorError> {
    let fail = |message: String| DetectorError::Signature {
        model: format!("{} {}", spec.name, spec.version),
        name: spec.name.clone(),
        path: model.onnx.clone(),
        message,
    };
    let inputs = session.inputs();
    if inputs.len() != 1 || inputs[0].name() != spec.input_name {
        let names: Vec<&str> = inputs.iter().map(|i| i.name()).collect();
        return Err(fail(format!(
            "inputs are {names:?}, the manifest expects [\"{}\"]",
            spec.input_name
        )));
    }
    let [w, h] = spec.input_size;
    if let Some(shape) = inputs[0].dtype().tensor_shape() {
        let want = [-1, 3, h as i64, w as i64];
        let ok = shape.len() == 4 && shape.iter().zip(want).skip(1).all(|(a, b)| *a == b);
        if !ok {
            return Err(fail(format!(
                "input shape {:?}, the manifest expects {want:?}",
                &shape[..]
            )));
        }
        if shape[0] != -1 {
            return Err(fail(format!(
                "input batch dimension is fixed at {}; this model cannot take a batch",
                shape[0]
            )));
        }
    }
    let outs = session.outputs();
    let find = |name: &str, width: usize, cells: u32| -> Result<usize, DetectorError> {
        let i = outs
            .iter()
            .position(|o| o.name() == name)
            .ok_or_else(|| fail(format!("no output named {name}")))?;
        if let Some(shape) = outs[i].dtype().tensor_shape()
            && (shape.len() != 3 || shape[1] != cells as i64 || shape[2] != width as i64)
        {
            return Err(fail(format!(
                "output {name} has shape {:?}, expected [N, {cells}, {width}]",
                &shape[..]
            )));
        }
        Ok(i)
    };
    spec.levels
        .iter()
        .map(|l| {
            let cells = l.grid[0] * l.grid[1];
            Ok((
                find(&l.cls_output, spec.num_classes, cells)?,
                find(&l.box_output, 4 * (spec.reg_max + 1), cells)?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A detector moves to its worker thread (or into `spawn_blocking`).
    #[test]
    fn detector_is_send() {
        fn send<T: Send>() {}
        send::<Detector>();
    }

    #[test]
    fn options_from_config_and_validation() {
        let mut o = DetectorOptions::default();
        assert!(o.validate().is_ok());
        o.max_batch = 0;
        assert!(o.validate().is_err());
        o.max_batch = 8;
        o.nms_iou = Some(1.0);
        assert!(o.validate().unwrap_err().to_string().contains("nms_iou"));
    }

    #[cfg(not(feature = "gpu"))]
    #[test]
    fn gpu_provider_without_the_feature_is_an_error_that_says_how_to_get_it() {
        let e = DetectorError::ProviderNotCompiled { provider: "cuda" }.to_string();
        assert!(e.contains("--features xueliang-analyzer/gpu"), "{e}");
    }
}
