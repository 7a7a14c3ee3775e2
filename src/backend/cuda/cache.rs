//! Disk cache of compiled kernel modules: NVRTC takes seconds, loading a cached
//! CUBIN milliseconds. Entries are keyed by a hash of everything that determines
//! the compiled code: the kernel source, the NVRTC options and version, the target
//! architecture and the driver version.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The folder for compiled modules: `$XDG_CACHE_HOME/tessera/cuda`, else
/// `~/.cache/tessera/cuda`; `None` when neither variable is set.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("tessera").join("cuda"))
}

/// The cache key of one compilation.
pub fn cache_key(
    source: &str,
    options: &[String],
    nvrtc_version: (i32, i32),
    driver_version: i32,
    cubin: bool,
) -> String {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    for o in options {
        h.update([0]);
        h.update(o.as_bytes());
    }
    h.update(format!("\0nvrtc {}.{}\0driver {driver_version}\0cubin {cubin}", nvrtc_version.0, nvrtc_version.1));
    hex::encode(h.finalize())
}

fn entry(key: &str, cubin: bool) -> Option<PathBuf> {
    Some(cache_dir()?.join(format!("{key}.{}", if cubin { "cubin" } else { "ptx" })))
}

/// A cached module image, if there is one.
pub fn load(key: &str, cubin: bool) -> Option<Vec<u8>> {
    std::fs::read(entry(key, cubin)?).ok().filter(|b| !b.is_empty())
}

/// Stores a module image; written beside the entry and renamed, so concurrent
/// renders never read half a file. Failures only cost a recompile next time.
pub fn store(key: &str, cubin: bool, image: &[u8]) -> Result<PathBuf, std::io::Error> {
    let path = entry(key, cubin).ok_or_else(|| std::io::Error::other("neither XDG_CACHE_HOME nor HOME is set"))?;
    let dir = path.parent().expect("cache entries live in a folder");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, image)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_every_input() {
        let opts = vec!["--gpu-architecture=sm_90".to_string()];
        let base = cache_key("src", &opts, (12, 8), 12080, true);
        assert_eq!(base, cache_key("src", &opts, (12, 8), 12080, true));
        assert_ne!(base, cache_key("src2", &opts, (12, 8), 12080, true));
        assert_ne!(base, cache_key("src", &["--gpu-architecture=sm_89".to_string()], (12, 8), 12080, true));
        assert_ne!(base, cache_key("src", &opts, (12, 9), 12080, true));
        assert_ne!(base, cache_key("src", &opts, (12, 8), 12090, true));
        assert_ne!(base, cache_key("src", &opts, (12, 8), 12080, false));
    }
}
