//! Detector errors: each names the model, the file or the setting involved and what to do.

use super::PictureError;
use crate::model::ModelError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(
        "cannot load the ONNX Runtime library {path}: {message} (it must be \
         libonnxruntime.so.{} from the PyPI wheel onnxruntime=={}; run `./xl setup`, or set \
         ORT_DYLIB_PATH)",
        crate::model::ORT_VERSION,
        crate::model::ORT_VERSION
    )]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("ONNX Runtime failed to initialise: {0}")]
    Runtime(String),
    #[error(
        "execution provider {provider} is not compiled into this build (rebuild with \
         `cargo build --features xueliang-analyzer/gpu`, or set analyzer.execution_provider = \"cpu\")"
    )]
    ProviderNotCompiled { provider: &'static str },
    #[error(
        "execution provider {provider} could not be registered: {message} (it needs the GPU build \
         of ONNX Runtime {} in ORT_DYLIB_PATH and the CUDA/cuDNN{} libraries on the library path; \
         or set analyzer.execution_provider = \"cpu\")",
        crate::model::ORT_VERSION,
        if *provider == "tensorrt" { "/TensorRT" } else { "" }
    )]
    Provider {
        provider: &'static str,
        message: String,
    },
    #[error("cannot load model {model} from {path}: {message}")]
    Load {
        model: String,
        path: PathBuf,
        message: String,
    },
    #[error(
        "model file {path} does not match its manifest ({model}): {message} (re-fetch it with \
         `xueliang models fetch {name}`)"
    )]
    Signature {
        model: String,
        name: String,
        path: PathBuf,
        message: String,
    },
    #[error("frame {index} of the batch is unusable: {source}")]
    Frame { index: usize, source: PictureError },
    #[error("inference failed on a batch of {batch} with model {model}: {message}")]
    Inference {
        model: String,
        batch: usize,
        message: String,
    },
    #[error("invalid detector option: {0}")]
    Options(String),
    #[error("detector worker {worker} stopped unexpectedly: {message}")]
    Worker { worker: usize, message: String },
}
