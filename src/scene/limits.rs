//! What loading a scene may touch and use: the folder its URIs may name
//! ([`Confinement`]), the memory it may allocate and the instances it may expand
//! to ([`LoadOptions`]), and the running account of that memory ([`Budget`]).

use std::cell::Cell;
use std::path::PathBuf;

/// Where a scene's URIs may lead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Confinement {
    /// The scene file's own folder and below (local renders).
    #[default]
    SceneFolder,
    /// This folder and below (a farm worker: the job's bundle folder). Messages
    /// name the scene file relative to it, so they carry no host paths.
    Folder(PathBuf),
    /// Any path this process can read (`--allow-outside-paths`). Device files,
    /// FIFOs and folders are still refused, and reads stay within the budget.
    Unconfined,
}

/// Limits of one scene load. `Default` confines URIs to the scene's folder,
/// budgets the memory available now and allows [`DEFAULT_MAX_INSTANCES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    pub root: Confinement,
    /// Bytes the loaded scene (and its prepared flat form) may occupy.
    pub memory_limit: u64,
    /// Mesh instances (and node visits) the node graph may expand to.
    pub max_instances: u64,
}

/// Instances allowed by default: 16.8 million (about 1.2 GB of transforms).
pub const DEFAULT_MAX_INSTANCES: u64 = 1 << 24;

/// The budget when the available memory cannot be read (no `/proc/meminfo`).
pub const FALLBACK_MEMORY_LIMIT: u64 = 4 << 30;

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            root: Confinement::SceneFolder,
            memory_limit: default_memory_limit(),
            max_instances: DEFAULT_MAX_INSTANCES,
        }
    }
}

/// The memory available now (`MemAvailable` in `/proc/meminfo`), or
/// [`FALLBACK_MEMORY_LIMIT`] where that cannot be read.
pub fn default_memory_limit() -> u64 {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| mem_available(&text)).unwrap_or(FALLBACK_MEMORY_LIMIT)
}

fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Parses a memory size: plain bytes (`1048576`) or a whole number with a
/// binary unit (`512KiB`, `256MiB`, `4GiB`, `1TiB`).
pub fn parse_memory_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" | "K" => 10,
        "MiB" | "M" => 20,
        "GiB" | "G" => 30,
        "TiB" | "T" => 40,
        other => return Err(format!("unknown unit {other:?}: use bytes or KiB, MiB, GiB, TiB")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is not a size: expected e.g. 1048576, 512MiB or 4GiB"))?;
    match n.checked_mul(1 << shift) {
        Some(0) => Err("the memory limit must be more than 0 bytes".into()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("{s} is too large")),
    }
}

/// A byte count for people: "631 bytes", "12.0 KiB", "1.0 GiB".
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The memory a load has committed so far, against its limit. Every allocation
/// sized by the file is charged here first; a charge over the limit is refused.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: u64,
    used: Cell<u64>,
}

impl Budget {
    pub fn new(limit: u64) -> Self {
        Self { limit, used: Cell::new(0) }
    }

    /// Charges `bytes`; on refusal the message reads "`what` `bytes`, over the
    /// memory budget of …", e.g. what = "16384×16384 RGBA decodes to".
    pub fn charge(&self, bytes: u64, what: impl FnOnce() -> String) -> Result<(), String> {
        let used = self.used.get();
        match used.checked_add(bytes).filter(|&total| total <= self.limit) {
            Some(total) => {
                self.used.set(total);
                Ok(())
            }
            None => {
                let already = match used {
                    0 => String::new(),
                    n => format!(" ({} of it already in use by the scene)", format_bytes(n)),
                };
                Err(format!(
                    "{} {}, over the memory budget of {}{already}",
                    what(),
                    format_bytes(bytes),
                    format_bytes(self.limit)
                ))
            }
        }
    }

    /// Bytes charged so far.
    pub fn used(&self) -> u64 {
        self.used.get()
    }
}

/// Bytes of `count` items of `size` bytes, saturating (a saturated charge is refused).
pub(crate) fn bytes_of(count: u64, size: usize) -> u64 {
    count.saturating_mul(size as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_and_print() {
        assert_eq!(parse_memory_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_memory_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_memory_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_memory_size("2 KiB"), Ok(2048));
        for bad in ["", "0", "-1", "1.5GiB", "12MB", "GiB", "99999999999TiB"] {
            assert!(parse_memory_size(bad).is_err(), "{bad}");
        }
        assert_eq!(format_bytes(631), "631 bytes");
        assert_eq!(format_bytes(256 << 20), "256.0 MiB");
        assert_eq!(format_bytes(1 << 30), "1.0 GiB");
    }

    #[test]
    fn meminfo_is_read_in_kib() {
        let text = "MemTotal:       16315436 kB\nMemFree:  1 kB\nMemAvailable:   12000000 kB\n";
        assert_eq!(mem_available(text), Some(12_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 5 kB\n"), None);
    }

    #[test]
    fn budget_refuses_what_does_not_fit() {
        let budget = Budget::new(1000);
        assert!(budget.charge(600, || "a".into()).is_ok());
        let message = budget.charge(600, || "the buffer holds".into()).unwrap_err();
        assert_eq!(message, "the buffer holds 600 bytes, over the memory budget of 1000 bytes (600 bytes of it already in use by the scene)");
        assert_eq!(budget.used(), 600);
        assert!(budget.charge(400, || "b".into()).is_ok());
        assert!(budget.charge(u64::MAX, || "c".into()).is_err());
    }
}
