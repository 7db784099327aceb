//! Loading ONNX Runtime: once per process, from an explicit library file.
//!
//! `ort` allows one environment per process and, with `load-dynamic`, binds to the first
//! library it loads for the life of the process. So the first call decides, every later call
//! gets the same environment (or the same error), and nothing ever falls back to ort's
//! "look for libonnxruntime.so on the loader path" default, which would silently pick up
//! whatever version a system happens to have.

use super::DetectorError;
use crate::model;
use ort::environment::Environment;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Why the first initialisation failed; kept so every later caller gets the same answer.
#[derive(Debug)]
enum Failure {
    Load { path: PathBuf, message: String },
    Init(String),
}

static ENV: OnceLock<Result<(Environment, PathBuf), Failure>> = OnceLock::new();

/// The process's ONNX Runtime environment, loading the library found by
/// [`model::resolve_ort_library`] on first use.
pub fn environment() -> Result<&'static Environment, DetectorError> {
    if let Some(r) = ENV.get() {
        return unwrap(r);
    }
    let lib = model::resolve_ort_library()?;
    environment_from(&lib)
}

/// Like [`environment`] with an explicit library file. Only the first initialisation counts,
/// successful or not; a later call with another path gets the first result.
pub fn environment_from(lib: &Path) -> Result<&'static Environment, DetectorError> {
    unwrap(ENV.get_or_init(|| {
        let builder = ort::init_from(lib).map_err(|e| Failure::Load {
            path: lib.to_path_buf(),
            message: e.to_string(),
        })?;
        let env = builder
            .with_name("xueliang")
            .with_telemetry(false)
            .build()
            .map_err(|e| Failure::Init(e.to_string()))?;
        tracing::info!(library = %lib.display(), "ONNX Runtime loaded");
        Ok((env, lib.to_path_buf()))
    }))
}

/// The library the environment was loaded from, once it is.
pub fn loaded_library() -> Option<&'static Path> {
    ENV.get()?.as_ref().ok().map(|(_, p)| p.as_path())
}

fn unwrap(
    r: &'static Result<(Environment, PathBuf), Failure>,
) -> Result<&'static Environment, DetectorError> {
    match r {
        Ok((env, _)) => Ok(env),
        Err(Failure::Load { path, message }) => Err(DetectorError::RuntimeLoad {
            path: path.clone(),
            message: message.clone(),
        }),
        Err(Failure::Init(m)) => Err(DetectorError::Runtime(m.clone())),
    }
}
