//! Where the expensive, versioned artefacts live (models, ONNX Runtime, broker, clips).
//! Reads environment variables only; creating or reading files is left to the caller.

use std::ffi::OsString;
use std::path::PathBuf;

/// `$XUELIANG_CACHE`, else `$XDG_CACHE_HOME/xueliang`, else `~/.cache/xueliang` — the same rule
/// as `./xl` and `models/fetch.sh`. Every crate resolves the cache through this function.
pub fn cache_dir() -> PathBuf {
    cache_dir_from(&|k| std::env::var_os(k).filter(|v| !v.is_empty()))
}

/// [`cache_dir`] with the environment given (for tests).
pub fn cache_dir_from(env: &dyn Fn(&str) -> Option<OsString>) -> PathBuf {
    if let Some(c) = env("XUELIANG_CACHE") {
        return PathBuf::from(c);
    }
    let base = env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("xueliang")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_follows_the_documented_order() {
        let env = |pairs: &'static [(&str, &str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            cache_dir_from(&env(&[("XUELIANG_CACHE", "/c"), ("HOME", "/h")])),
            PathBuf::from("/c")
        );
        assert_eq!(
            cache_dir_from(&env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            PathBuf::from("/x/xueliang")
        );
        assert_eq!(
            cache_dir_from(&env(&[("HOME", "/h")])),
            PathBuf::from("/h/.cache/xueliang")
        );
    }
}
