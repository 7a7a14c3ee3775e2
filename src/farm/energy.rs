//! Energy counters a worker reads around each task, for usage accounting:
//! NVML's total energy of the GPU (NVIDIA, with the `cuda` feature) or RAPL's
//! package energy under /sys/class/powercap (CPUs, where readable). Where no
//! counter can be read the energy is absent, never zero.

use std::path::PathBuf;

/// One RAPL package counter: microjoules, wrapping at `max_uj`.
#[derive(Debug)]
struct Rapl {
    energy: PathBuf,
    max_uj: u64,
}

/// The energy counters of this machine.
#[derive(Debug, Default)]
pub struct EnergyMeter {
    rapl: Vec<Rapl>,
    #[cfg(feature = "cuda")]
    nvml: Option<nvml::Nvml>,
}

/// Counter readings at one moment (joules, as the counters' own units differ).
#[derive(Clone, Debug, PartialEq)]
pub struct Reading(Vec<u64>);

/// Microjoules used between two readings of a counter that wraps after `max`.
pub fn rapl_delta(before: u64, after: u64, max: u64) -> u64 {
    if after >= before {
        after - before
    } else {
        max.saturating_sub(before) + after
    }
}

impl EnergyMeter {
    /// The counters that can be read here (none on most virtual machines).
    pub fn detect(use_gpu: bool) -> Self {
        #[cfg(feature = "cuda")]
        if use_gpu {
            if let Some(nvml) = nvml::Nvml::open() {
                return Self { rapl: Vec::new(), nvml: Some(nvml) };
            }
        }
        let _ = use_gpu;
        let mut rapl = Vec::new();
        // Top-level packages only: their sub-zones (core, uncore, dram) are parts of them.
        for entry in std::fs::read_dir("/sys/class/powercap").into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("intel-rapl:") && name.matches(':').count() == 1) {
                continue;
            }
            let read = |f: &str| std::fs::read_to_string(entry.path().join(f)).ok()?.trim().parse::<u64>().ok();
            if let (Some(_), Some(max_uj)) = (read("energy_uj"), read("max_energy_range_uj")) {
                rapl.push(Rapl { energy: entry.path().join("energy_uj"), max_uj });
            }
        }
        Self { rapl, ..Default::default() }
    }

    /// Whether anything here reports energy.
    pub fn available(&self) -> bool {
        #[cfg(feature = "cuda")]
        if self.nvml.is_some() {
            return true;
        }
        !self.rapl.is_empty()
    }

    /// The counters now; `None` where none can be read.
    pub fn read(&self) -> Option<Reading> {
        #[cfg(feature = "cuda")]
        if let Some(nvml) = &self.nvml {
            return nvml.total_mj().map(|mj| Reading(vec![mj]));
        }
        if self.rapl.is_empty() {
            return None;
        }
        let values: Option<Vec<u64>> =
            self.rapl.iter().map(|r| std::fs::read_to_string(&r.energy).ok()?.trim().parse().ok()).collect();
        values.map(Reading)
    }

    /// Joules used since `before`.
    pub fn joules_since(&self, before: &Reading) -> Option<f64> {
        let now = self.read()?;
        #[cfg(feature = "cuda")]
        if self.nvml.is_some() {
            return Some(now.0[0].saturating_sub(before.0[0]) as f64 / 1e3);
        }
        let uj: u64 =
            self.rapl.iter().zip(before.0.iter().zip(&now.0)).map(|(r, (b, a))| rapl_delta(*b, *a, r.max_uj)).sum();
        Some(uj as f64 / 1e6)
    }
}

#[cfg(feature = "cuda")]
mod nvml {
    //! The few NVML calls needed, loaded at run time: a worker without the
    //! NVIDIA driver still starts.
    use std::ffi::c_void;

    type Init = unsafe extern "C" fn() -> i32;
    type Handle = unsafe extern "C" fn(u32, *mut *mut c_void) -> i32;
    type Energy = unsafe extern "C" fn(*mut c_void, *mut u64) -> i32;

    pub struct Nvml {
        _lib: libloading::Library,
        device: *mut c_void,
        energy: Energy,
    }

    // The device handle is an opaque NVML pointer, valid in every thread.
    unsafe impl Send for Nvml {}
    unsafe impl Sync for Nvml {}

    impl std::fmt::Debug for Nvml {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Nvml")
        }
    }

    impl Nvml {
        /// NVML on GPU 0, if the library loads and reports energy.
        pub fn open() -> Option<Nvml> {
            // SAFETY: loading NVML runs its initialisers, which have no
            // preconditions; the symbols are used with their documented signatures.
            unsafe {
                let lib = libloading::Library::new("libnvidia-ml.so.1").ok()?;
                let init: Init = *lib.get::<Init>(b"nvmlInit_v2\0").ok()?;
                let handle: Handle = *lib.get::<Handle>(b"nvmlDeviceGetHandleByIndex_v2\0").ok()?;
                let energy: Energy = *lib.get::<Energy>(b"nvmlDeviceGetTotalEnergyConsumption\0").ok()?;
                if init() != 0 {
                    return None;
                }
                let mut device = std::ptr::null_mut();
                if handle(0, &mut device) != 0 {
                    return None;
                }
                let nvml = Nvml { _lib: lib, device, energy };
                nvml.total_mj().map(|_| nvml)
            }
        }

        /// Millijoules since the driver loaded.
        pub fn total_mj(&self) -> Option<u64> {
            let mut mj = 0u64;
            // SAFETY: `device` came from NVML and the library is still loaded.
            (unsafe { (self.energy)(self.device, &mut mj) } == 0).then_some(mj)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_rapl_counter_counts_across_the_wrap() {
        assert_eq!(rapl_delta(100, 250, 1000), 150);
        assert_eq!(rapl_delta(900, 50, 1000), 150);
        assert_eq!(rapl_delta(5, 5, 1000), 0);
    }

    #[test]
    fn reported_energy_is_bounded() {
        use crate::farm::protocol::check_energy;
        assert_eq!(check_energy(12.5), Some(12.5));
        assert_eq!(check_energy(0.0), Some(0.0));
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e12] {
            assert_eq!(check_energy(bad), None, "{bad}");
        }
    }

    #[test]
    fn no_counter_means_no_reading() {
        let meter = EnergyMeter::default();
        assert!(!meter.available());
        assert_eq!(meter.read(), None);
    }
}
