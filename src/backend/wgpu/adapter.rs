//! Finding adapters and opening a device with explicitly requested limits.
//!
//! Adapters are listed in the order wgpu enumerates them; `--device N` picks
//! entry N of that list (as `tessera info --devices` prints it), and without it
//! the best usable one is taken: discrete GPU, integrated, virtual, then CPU
//! (lavapipe, WARP).

use std::sync::{Arc, Mutex};

use super::kernel::{BAND_STORAGE_BUFFERS, WORKGROUP_SIZE};
use super::scene::SCENE_STORAGE_BUFFERS;
use crate::backend::BackendError;

const BACKEND: &str = "wgpu";

/// Storage buffers the kernels bind at once.
pub const STORAGE_BUFFERS: u32 = SCENE_STORAGE_BUFFERS + BAND_STORAGE_BUFFERS;

/// The instance every adapter comes from: Vulkan, Metal or DX12 (whichever this
/// platform has), without validation layers unless `WGPU_VALIDATION=1`.
pub fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    desc.flags = wgpu::InstanceFlags::empty();
    wgpu::Instance::new(desc.with_env())
}

/// One adapter as `tessera info --devices` shows it.
pub struct AdapterEntry {
    pub adapter: wgpu::Adapter,
    pub info: wgpu::AdapterInfo,
    /// Why the path tracer cannot run on it, if it cannot.
    pub unusable: Option<String>,
}

impl AdapterEntry {
    pub fn describe(&self) -> String {
        let i = &self.info;
        let driver = if i.driver.is_empty() { String::new() } else { format!(", {} {}", i.driver, i.driver_info) };
        let text = format!("{} ({:?}, {:?}{})", i.name, i.backend, i.device_type, driver.trim_end());
        match &self.unusable {
            Some(why) => format!("{text} — unusable: {why}"),
            None => text,
        }
    }
}

/// Every adapter of `instance`, with whether it can run the path tracer.
pub fn list(instance: &wgpu::Instance) -> Vec<AdapterEntry> {
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|adapter| {
            let info = adapter.get_info();
            let unusable = unusable_reason(&adapter);
            AdapterEntry { adapter, info, unusable }
        })
        .collect()
}

/// Why an adapter cannot run the kernels (no compute, too few storage buffers).
fn unusable_reason(adapter: &wgpu::Adapter) -> Option<String> {
    if !adapter.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS) {
        return Some("no compute shaders".into());
    }
    let limits = adapter.limits();
    if limits.max_storage_buffers_per_shader_stage < STORAGE_BUFFERS {
        return Some(format!(
            "binds at most {} storage buffers per shader stage, the path tracer needs {STORAGE_BUFFERS}",
            limits.max_storage_buffers_per_shader_stage
        ));
    }
    if limits.max_compute_workgroup_size_x < WORKGROUP_SIZE
        || limits.max_compute_workgroup_size_y < WORKGROUP_SIZE
        || limits.max_compute_invocations_per_workgroup < WORKGROUP_SIZE * WORKGROUP_SIZE
    {
        return Some(format!("compute workgroups smaller than {WORKGROUP_SIZE}×{WORKGROUP_SIZE}"));
    }
    None
}

/// Rank for the default choice: lower is better.
fn preference(kind: wgpu::DeviceType) -> u32 {
    match kind {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Why there is nothing to run on, for `info --devices` and `--backend auto`.
pub fn none_usable(entries: &[AdapterEntry]) -> String {
    if entries.is_empty() {
        return "no Vulkan, Metal or DX12 adapter found (on Linux without a GPU driver, \
                Mesa's lavapipe provides one: apt-get install mesa-vulkan-drivers)"
            .into();
    }
    let all: Vec<String> = entries.iter().map(AdapterEntry::describe).collect();
    format!("no adapter can run the path tracer: {}", all.join("; "))
}

/// Which adapters [`select`] may pick by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Software {
    /// Any usable adapter, a software one (lavapipe, WARP) last.
    Allow,
    /// Hardware only, for `--backend auto`: the CPU backend outruns a software
    /// adapter. An explicit `--device N` is still honoured.
    Refuse,
}

/// Picks adapter `index` (as listed by [`list`]) or, when `None`, the best usable one.
pub fn select(
    mut entries: Vec<AdapterEntry>,
    index: Option<usize>,
    software: Software,
) -> Result<AdapterEntry, BackendError> {
    let candidates: Vec<Candidate> = entries
        .iter()
        .map(|e| Candidate { name: &e.info.name, kind: e.info.device_type, unusable: e.unusable.as_deref() })
        .collect();
    match choose(&candidates, index, software) {
        Ok(i) => Ok(entries.swap_remove(i)),
        Err(reason) => {
            let reason = if reason.is_empty() { none_usable(&entries) } else { reason };
            Err(BackendError::Unavailable { backend: BACKEND, reason })
        }
    }
}

/// What [`choose`] needs to know of an adapter.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub kind: wgpu::DeviceType,
    pub unusable: Option<&'a str>,
}

/// The index [`select`] picks, or why none (empty: no usable adapter at all).
pub fn choose(candidates: &[Candidate], index: Option<usize>, software: Software) -> Result<usize, String> {
    if let Some(i) = index {
        let Some(c) = candidates.get(i) else {
            return Err(format!(
                "--device {i} does not exist: found {} adapter(s) (see `tessera info --devices`)",
                candidates.len()
            ));
        };
        return match c.unusable {
            Some(why) => Err(format!("--device {i} ({}) cannot be used: {why}", c.name)),
            None => Ok(i),
        };
    }
    let best = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.unusable.is_none())
        .min_by_key(|(i, c)| (preference(c.kind), *i));
    match best {
        Some((_, c)) if software == Software::Refuse && c.kind == wgpu::DeviceType::Cpu => Err(format!(
            "no hardware adapter; {} is a software renderer, slower than the CPU backend \
             (choose it with --backend wgpu)",
            c.name
        )),
        Some((i, _)) => Ok(i),
        None => Err(String::new()),
    }
}

/// What a scene needs of a device's buffer limits, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferNeeds {
    /// Largest storage buffer binding.
    pub binding: u64,
    /// Largest buffer.
    pub buffer: u64,
}

/// The limits requested for `needs`: the low defaults every compute-capable
/// adapter offers, raised to what the kernels and the scene need. The caller
/// has checked `needs` against `adapter`'s limits.
pub fn required_limits(adapter: &wgpu::Limits, needs: BufferNeeds) -> wgpu::Limits {
    let mut limits = wgpu::Limits::downlevel_defaults().or_worse_values_from(adapter);
    limits.max_storage_buffers_per_shader_stage = STORAGE_BUFFERS;
    limits.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size.max(needs.binding);
    limits.max_buffer_size = limits.max_buffer_size.max(needs.buffer).max(needs.binding);
    limits.max_compute_workgroup_size_x = limits.max_compute_workgroup_size_x.max(WORKGROUP_SIZE);
    limits.max_compute_workgroup_size_y = limits.max_compute_workgroup_size_y.max(WORKGROUP_SIZE);
    limits.max_compute_invocations_per_workgroup =
        limits.max_compute_invocations_per_workgroup.max(WORKGROUP_SIZE * WORKGROUP_SIZE);
    limits
}

/// An open device. Validation errors and device loss are recorded in `error`
/// (instead of wgpu's default of panicking) and turned into
/// [`BackendError::Device`] by [`GpuDevice::check`].
pub struct GpuDevice {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// The adapter's own limits (what could be requested).
    pub adapter_limits: wgpu::Limits,
    error: Arc<Mutex<Option<String>>>,
}

impl GpuDevice {
    /// Opens adapter `index` (or the best one `software` allows) with the limits `needs` asks for.
    pub fn open(
        instance: &wgpu::Instance,
        index: Option<usize>,
        software: Software,
        needs: BufferNeeds,
    ) -> Result<Self, BackendError> {
        let entry = select(list(instance), index, software)?;
        let adapter_limits = entry.adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("tessera"),
            required_limits: required_limits(&adapter_limits, needs),
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(entry.adapter.request_device(&desc)).map_err(|e| BackendError::Device {
                backend: BACKEND,
                message: format!("{}: cannot open a device: {e}", entry.info.name),
            })?;
        let error = Arc::new(Mutex::new(None::<String>));
        let sink = error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| record(&sink, e.to_string())));
        let sink = error.clone();
        device.set_device_lost_callback(move |reason, message| {
            record(&sink, format!("device lost ({reason:?}): {message}"));
        });
        Ok(Self { device, queue, info: entry.info, adapter_limits, error })
    }

    /// The first error the device reported since the last check, if any.
    pub fn check(&self) -> Result<(), BackendError> {
        let message = self.error.lock().unwrap_or_else(|p| p.into_inner()).take();
        match message {
            Some(message) => Err(self.device_error(message)),
            None => Ok(()),
        }
    }

    /// Waits until the queue is idle.
    pub fn wait(&self) -> Result<(), BackendError> {
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| self.device_error(e.to_string()))?;
        self.check()
    }

    pub fn device_error(&self, message: String) -> BackendError {
        BackendError::Device { backend: BACKEND, message: format!("{}: {message}", self.info.name) }
    }

    /// Runs `f` and returns the first validation or out-of-memory error it caused.
    pub fn scoped<T>(&self, f: impl FnOnce() -> T) -> Result<T, BackendError> {
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let validation = pollster::block_on(validation.pop());
        let memory = pollster::block_on(memory.pop());
        match validation.or(memory) {
            Some(e) => Err(self.device_error(e.to_string())),
            None => Ok(value),
        }
    }
}

fn record(sink: &Mutex<Option<String>>, message: String) {
    let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(message);
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::DeviceType::*;

    fn candidate(name: &'static str, kind: wgpu::DeviceType, unusable: Option<&'static str>) -> Candidate<'static> {
        Candidate { name, kind, unusable }
    }

    #[test]
    fn the_best_usable_adapter_is_chosen_unless_one_is_named() {
        let all = [
            candidate("llvmpipe", Cpu, None),
            candidate("old", DiscreteGpu, Some("no compute shaders")),
            candidate("igpu", IntegratedGpu, None),
            candidate("dgpu", DiscreteGpu, None),
        ];
        assert_eq!(choose(&all, None, Software::Allow), Ok(3));
        assert_eq!(choose(&all, None, Software::Refuse), Ok(3));
        assert_eq!(choose(&all, Some(0), Software::Refuse), Ok(0), "an explicit --device is honoured");
        assert_eq!(
            choose(&all, Some(1), Software::Allow),
            Err("--device 1 (old) cannot be used: no compute shaders".into())
        );
        let err = choose(&all, Some(4), Software::Allow).unwrap_err();
        assert!(err.starts_with("--device 4 does not exist: found 4 adapter(s)"), "{err}");
    }

    #[test]
    fn auto_refuses_a_lone_software_adapter() {
        let lone = [candidate("old", DiscreteGpu, Some("no compute shaders")), candidate("llvmpipe", Cpu, None)];
        assert_eq!(choose(&lone, None, Software::Allow), Ok(1));
        let err = choose(&lone, None, Software::Refuse).unwrap_err();
        assert!(err.contains("llvmpipe is a software renderer"), "{err}");
        assert_eq!(choose(&lone[..1], None, Software::Allow), Err(String::new()));
        assert_eq!(choose(&[], None, Software::Allow), Err(String::new()));
    }

    #[test]
    fn requested_limits_cover_the_needs_and_stay_within_the_adapter() {
        let adapter = wgpu::Limits { max_storage_buffers_per_shader_stage: 64, ..wgpu::Limits::default() };
        let needs = BufferNeeds { binding: 200 << 20, buffer: 200 << 20 };
        let mut big = adapter.clone();
        big.max_storage_buffer_binding_size = 1 << 30;
        big.max_buffer_size = 1 << 30;
        let limits = required_limits(&big, needs);
        assert_eq!(limits.max_storage_buffers_per_shader_stage, STORAGE_BUFFERS);
        assert_eq!(limits.max_storage_buffer_binding_size, 200 << 20);
        assert!(limits.check_limits(&big), "{limits:?}");
        // Small needs keep the defaults.
        let limits = required_limits(&adapter, BufferNeeds::default());
        assert_eq!(
            limits.max_storage_buffer_binding_size,
            wgpu::Limits::downlevel_defaults().max_storage_buffer_binding_size
        );
        assert!(limits.check_limits(&adapter));
    }
}
