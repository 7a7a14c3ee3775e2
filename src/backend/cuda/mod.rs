//! The CUDA backend: a wavefront path tracer for NVIDIA GPUs (`kernels/`),
//! compiled at run time with NVRTC for the device's compute capability.
//!
//! Nothing CUDA is needed to build: libcuda and libnvrtc are opened when the
//! backend is created, and a machine without them gets an explanation, not a
//! panic. Compiled modules are cached on disk ([`cache`]). The kernels read the
//! same [`FlatScene`] bytes as the CPU backend, packed into one allocation
//! ([`params::pack_scene`]), draw the same random numbers and run the same
//! sampling functions, and write [`PixelSums`] as the CPU backend does.
//!
//! A task runs in waves of at most `TESSERA_CUDA_WAVE_PATHS` paths (default 2²⁰;
//! see `kernels/wavefront.cuh`): generate, then extend → shade → shadow until no
//! path is left, then accumulate. Every launch covers one bounce of one wave, so
//! launches stay short; progress is reported and cancellation checked per wave.
//! `TESSERA_CUDA_KERNEL=megakernel` traces whole paths in one kernel instead
//! (the same stage functions, for comparison with `tessera bench`).

pub mod cache;
pub mod nvrtc;
pub mod params;
pub mod source;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use cudarc::driver::{
    result as cu, sys, CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DeviceRepr,
    LaunchConfig, PushKernelArg,
};
use tracing::{debug, info, warn};

use self::params::{DeviceScene, Wave, WaveParams, BYTES_PER_PATH, SHADOW_LANES, STATE_LANES};
use super::{Backend, BackendError, BackendInfo, BackendKind, BackendOptions, Probe, Progress};
use crate::render::integrator::MAX_TRANSPARENT_HITS;
use crate::render::task::{PixelSums, RenderTask, TileResult};
use crate::sampling::rng::frame_seed;
use crate::scene::flat::*;

const NAME: &str = "cuda";
/// Paths per wave unless `TESSERA_CUDA_WAVE_PATHS` says otherwise.
const DEFAULT_WAVE_PATHS: u32 = 1 << 20;
/// Share of the free device memory the wave buffers may take.
const WAVE_MEMORY_SHARE: usize = 4;

// SAFETY: plain-old-data structs whose layout the kernels check (source::layout_checks).
unsafe impl DeviceRepr for DeviceScene {}
unsafe impl DeviceRepr for WaveParams {}

fn unavailable(reason: impl Into<String>) -> BackendError {
    BackendError::Unavailable { backend: NAME, reason: reason.into() }
}

fn device_error(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Device { backend: NAME, message: format!("{what}: {e}") }
}

/// Runs `f`, turning a panic inside cudarc (it panics, for instance, when a
/// symbol is missing from an old driver) into an error message.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, BackendError>) -> Result<T, BackendError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(unavailable(format!("{what} failed: {message}")))
    })
}

/// Opens libcuda before cudarc does, because cudarc panics when it is missing.
/// The library stays loaded for the life of the process.
fn driver_library() -> Result<(), String> {
    static DRIVER: OnceLock<Result<libloading::Library, String>> = OnceLock::new();
    DRIVER
        .get_or_init(|| {
            let mut errors = Vec::new();
            for name in ["libcuda.so.1", "libcuda.so"] {
                // SAFETY: loading the NVIDIA driver library runs no user-visible initialisers.
                match unsafe { libloading::Library::new(name) } {
                    Ok(lib) => return Ok(lib),
                    Err(e) => errors.push(nvrtc::dl_error(&e)),
                }
            }
            Err(format!("no NVIDIA driver: {}; install the NVIDIA driver to use CUDA", errors[0]))
        })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

/// Initialises the driver and counts the CUDA devices.
fn device_count() -> Result<usize, BackendError> {
    driver_library().map_err(unavailable)?;
    guarded("CUDA driver initialisation", || {
        cu::init().map_err(|e| unavailable(format!("the CUDA driver did not initialise: {e}")))?;
        let n = cu::device::get_count().map_err(|e| unavailable(format!("cuDeviceGetCount: {e}")))?;
        Ok(n.max(0) as usize)
    })
}

fn driver_version() -> Result<i32, BackendError> {
    let mut v = 0;
    // SAFETY: a valid out-pointer; the driver library is loaded (device_count ran first).
    let r = unsafe { sys::cuDriverGetVersion(&mut v) };
    if r != sys::CUresult::CUDA_SUCCESS {
        return Err(unavailable(format!("cuDriverGetVersion: {r:?}")));
    }
    Ok(v)
}

/// "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)" for device `ordinal`.
fn describe(ordinal: usize) -> Result<String, BackendError> {
    guarded("reading the device properties", || {
        let err = |e: cu::DriverError| unavailable(format!("device {ordinal}: {e}"));
        let dev = cu::device::get(ordinal as i32).map_err(err)?;
        let name = cu::device::get_name(dev).map_err(err)?;
        let attr = |a| unsafe { cu::device::get_attribute(dev, a) };
        let major = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR).map_err(err)?;
        let minor = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR).map_err(err)?;
        // SAFETY: a valid device handle.
        let memory = unsafe { cu::device::total_mem(dev) }.map_err(err)?;
        Ok(format!("{name} (sm_{major}{minor}, {} GiB)", memory >> 30))
    })
}

/// Lists the CUDA devices, or says why there are none usable.
pub fn probe() -> Probe {
    let mut probe = Probe { kind: BackendKind::Cuda, devices: Vec::new(), unavailable: String::new() };
    let devices = device_count().and_then(|n| (0..n).map(describe).collect::<Result<Vec<_>, _>>());
    match devices {
        Ok(devices) if devices.is_empty() => probe.unavailable = "the NVIDIA driver reports no CUDA device".into(),
        Ok(devices) => {
            probe.devices = devices;
            if let Err(e) = nvrtc::nvrtc() {
                probe.unavailable = format!("the kernels cannot be compiled: {e}");
            }
        }
        Err(BackendError::Unavailable { reason, .. }) => probe.unavailable = reason,
        Err(e) => probe.unavailable = e.to_string(),
    }
    probe
}

/// Which kernels trace the paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Wavefront,
    Megakernel,
}

impl Mode {
    fn from_env() -> Result<Mode, BackendError> {
        match std::env::var("TESSERA_CUDA_KERNEL").as_deref() {
            Err(_) | Ok("") | Ok("wavefront") => Ok(Mode::Wavefront),
            Ok("megakernel") => Ok(Mode::Megakernel),
            Ok(other) => Err(unavailable(format!(
                "TESSERA_CUDA_KERNEL is \"{other}\"; it must be \"wavefront\" or \"megakernel\""
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Wavefront => "wavefront",
            Mode::Megakernel => "megakernel",
        }
    }
}

fn wave_paths_from_env() -> Result<u32, BackendError> {
    match std::env::var("TESSERA_CUDA_WAVE_PATHS") {
        Err(_) => Ok(DEFAULT_WAVE_PATHS),
        Ok(v) => v.trim().parse::<u32>().ok().filter(|n| (1024..=1 << 26).contains(n)).ok_or_else(|| {
            unavailable(format!("TESSERA_CUDA_WAVE_PATHS is \"{v}\"; it must be a whole number from 1024 to 67108864"))
        }),
    }
}

struct Kernels {
    generate: CudaFunction,
    extend: CudaFunction,
    shade: CudaFunction,
    shadow: CudaFunction,
    megakernel: CudaFunction,
    accumulate: CudaFunction,
}

/// The scene on the device: one allocation and the kernels' view of it.
struct DeviceSceneBuffers {
    _memory: CudaSlice<u8>,
    view: DeviceScene,
}

/// Buffers of the wavefront for waves of up to `capacity` paths.
struct WaveBuffers {
    capacity: u32,
    _memory: CudaSlice<u8>,
    counters: CudaSlice<u32>,
    rays: CudaSlice<u64>,
    params: WaveParams,
}

pub struct CudaBackend {
    device: String,
    mode: Mode,
    wave_paths: u32,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    kernels: Kernels,
    scene: Option<DeviceSceneBuffers>,
    waves: Option<WaveBuffers>,
    pixels: Option<CudaSlice<u8>>,
}

impl CudaBackend {
    /// Opens GPU `opts.device` (default 0) and loads the kernels, compiling them
    /// with NVRTC unless the disk cache has them. Fails with
    /// [`BackendError::Unavailable`] (never a panic) where CUDA cannot run.
    pub fn new(opts: &BackendOptions) -> Result<Self, BackendError> {
        let count = device_count()?;
        let ordinal = opts.device.unwrap_or(0);
        if count == 0 {
            return Err(unavailable("the NVIDIA driver reports no CUDA device"));
        }
        if ordinal >= count {
            return Err(unavailable(format!(
                "there is no CUDA device {ordinal}: this machine has {count} (numbered from 0, see `tessera info --devices`)"
            )));
        }
        let mode = Mode::from_env()?;
        let wave_paths = wave_paths_from_env()?;
        let device = describe(ordinal)?;
        guarded("opening the CUDA device", || {
            let ctx = CudaContext::new(ordinal).map_err(|e| device_error("creating a context", e))?;
            // One stream orders every copy and launch, so cudarc's per-buffer events are not needed.
            // SAFETY: no other stream ever touches this context's buffers.
            unsafe { ctx.disable_event_tracking() };
            let stream = ctx.default_stream();
            let (major, minor) = ctx.compute_capability().map_err(|e| device_error("compute capability", e))?;
            let module = load_module(&ctx, (major * 10 + minor) as u32)?;
            let function = |name: &str| {
                module.load_function(name).map_err(|e| device_error(&format!("kernel {name} is missing"), e))
            };
            let kernels = Kernels {
                generate: function("ts_generate")?,
                extend: function("ts_extend")?,
                shade: function("ts_shade")?,
                shadow: function("ts_shadow")?,
                megakernel: function("ts_megakernel")?,
                accumulate: function("ts_accumulate")?,
            };
            info!("cuda: {device}, {} kernels, waves of up to {wave_paths} paths", mode.name());
            Ok(CudaBackend { device, mode, wave_paths, ctx, stream, kernels, scene: None, waves: None, pixels: None })
        })
    }

    fn upload_bytes(&self, bytes: &[u8]) -> Result<CudaSlice<u8>, BackendError> {
        self.stream.clone_htod(bytes).map_err(|e| device_error("copying to the device", e))
    }

    fn address<T>(&self, slice: &CudaSlice<T>) -> u64 {
        slice.device_ptr(&self.stream).0
    }

    /// Wave buffers for at least `paths` paths (at most the configured wave size).
    fn wave_buffers(&mut self, paths: u32) -> Result<(), BackendError> {
        if self.waves.as_ref().is_some_and(|w| w.capacity >= paths) {
            return Ok(());
        }
        self.waves = None;
        let capacity = paths as usize;
        let lanes = |n: usize| n * capacity * 16;
        let state = 0;
        let hits = state + lanes(STATE_LANES);
        let shadow = hits + lanes(1);
        let queue_in = shadow + lanes(SHADOW_LANES);
        let queue_out = queue_in + capacity * 4;
        let shadow_queue = queue_out + capacity * 4;
        let total = shadow_queue + capacity * 4;
        debug_assert_eq!(total, capacity * BYTES_PER_PATH);
        // SAFETY: every byte is written by the kernels before it is read.
        let memory = unsafe { self.stream.alloc::<u8>(total) }
            .map_err(|e| device_error(&format!("allocating {total} bytes of path state"), e))?;
        let counters = self.stream.alloc_zeros::<u32>(4).map_err(|e| device_error("allocating counters", e))?;
        let rays = self.stream.alloc_zeros::<u64>(1).map_err(|e| device_error("allocating counters", e))?;
        let base = self.address(&memory);
        let params = WaveParams {
            state: base + state as u64,
            hits: base + hits as u64,
            shadow: base + shadow as u64,
            queue_in: base + queue_in as u64,
            queue_out: base + queue_out as u64,
            shadow_queue: base + shadow_queue as u64,
            counters: self.address(&counters),
            rays: self.address(&rays),
            capacity: paths,
            ..Default::default()
        };
        self.waves = Some(WaveBuffers { capacity: paths, _memory: memory, counters, rays, params });
        Ok(())
    }

    /// Launches `f` over `threads` items with the scene (unless it is
    /// `ts_accumulate`, which takes only the wave) and `wave` as arguments.
    fn launch(&self, f: &CudaFunction, what: &str, threads: u32, wave: &WaveParams) -> Result<(), BackendError> {
        if threads == 0 {
            return Ok(());
        }
        let scene = &self.scene.as_ref().expect("render checks for a scene").view;
        let with_scene = what != "ts_accumulate";
        let block = source::BLOCK_SIZE;
        let cfg =
            LaunchConfig { grid_dim: (threads.div_ceil(block), 1, 1), block_dim: (block, 1, 1), shared_mem_bytes: 0 };
        let mut builder = self.stream.launch_builder(f);
        if with_scene {
            builder.arg(scene);
        }
        builder.arg(wave);
        // SAFETY: the arguments match the kernel's parameters (checked sizes and
        // offsets), and every address in them points into live allocations.
        unsafe { builder.launch(cfg) }.map_err(|e| device_error(&format!("launching {what}"), e))?;
        Ok(())
    }

    /// Runs one wave to completion: every path of it traced and accumulated.
    fn run_wave(&mut self, base: WaveParams, wave: &Wave) -> Result<(), BackendError> {
        let mut p = base;
        p.pixel_begin = wave.pixel_begin;
        p.pixel_count = wave.pixel_count;
        p.sample_begin = wave.sample_begin;
        p.sample_count = wave.sample_count;
        p.path_count = wave.pixel_count * wave.sample_count;
        let k = &self.kernels;
        if self.mode == Mode::Megakernel {
            self.launch(&k.megakernel, "ts_megakernel", p.path_count, &p)?;
        } else {
            self.launch(&k.generate, "ts_generate", p.path_count, &p)?;
            p.queue_len = p.path_count;
            // Each iteration ends a bounce or a pass through an alpha-blended surface.
            let limit = (p.max_depth + 1) * (MAX_TRANSPARENT_HITS + 1) + 1;
            let mut iterations = 0;
            while p.queue_len > 0 {
                if iterations == limit {
                    return Err(device_error("wavefront", format!("paths still alive after {limit} iterations")));
                }
                iterations += 1;
                let waves = self.waves.as_mut().expect("allocated before the first wave");
                self.stream.memset_zeros(&mut waves.counters).map_err(|e| device_error("clearing counters", e))?;
                self.launch(&k.extend, "ts_extend", p.queue_len, &p)?;
                self.launch(&k.shade, "ts_shade", p.queue_len, &p)?;
                self.launch(&k.shadow, "ts_shadow", p.queue_len, &p)?;
                let mut counters = [0u32; 4];
                let waves = self.waves.as_ref().expect("allocated before the first wave");
                self.stream
                    .memcpy_dtoh(&waves.counters, &mut counters)
                    .map_err(|e| device_error("reading counters", e))?;
                self.stream.synchronize().map_err(|e| device_error("tracing a bounce", e))?;
                std::mem::swap(&mut p.queue_in, &mut p.queue_out);
                p.queue_len = counters[params::COUNTER_NEXT];
                if p.queue_len > p.path_count {
                    return Err(device_error(
                        "wavefront",
                        format!("queue of {} paths in a wave of {}", p.queue_len, p.path_count),
                    ));
                }
            }
        }
        self.launch(&k.accumulate, "ts_accumulate", p.pixel_count, &p)?;
        Ok(())
    }
}

/// Compiles the kernels for `arch` (e.g. 90), or loads them from the disk cache.
fn load_module(ctx: &Arc<CudaContext>, arch: u32) -> Result<Arc<CudaModule>, BackendError> {
    let nvrtc = nvrtc::nvrtc().map_err(|e| unavailable(format!("the kernels cannot be compiled: {e}")))?;
    let nvrtc_version = nvrtc.version().map_err(|e| unavailable(e.to_string()))?;
    let driver = driver_version()?;
    // A GPU newer than this NVRTC gets PTX for the newest architecture NVRTC
    // knows, which the driver compiles on load.
    let supported = nvrtc.supported_archs().map_err(|e| unavailable(e.to_string()))?;
    let (target, cubin) = if supported.contains(&(arch as i32)) {
        (arch, true)
    } else if let Some(&newest) = supported.iter().filter(|&&a| (a as u32) < arch).max() {
        (newest as u32, false)
    } else {
        return Err(unavailable(format!(
            "NVRTC {}.{} cannot compile for sm_{arch} (it supports {supported:?})",
            nvrtc_version.0, nvrtc_version.1
        )));
    };
    let source = source::kernel_source();
    let options = source::compile_options(target, cubin);
    let key = cache::cache_key(&source, &options, nvrtc_version, driver, cubin);
    if let Some(image) = cache::load(&key, cubin) {
        match ctx.load_module(cudarc::nvrtc::Ptx::from_binary(image)) {
            Ok(module) => {
                debug!("cuda: kernels loaded from the cache ({key})");
                return Ok(module);
            }
            Err(e) => warn!("cuda: the cached kernels did not load ({e}); compiling them again"),
        }
    }
    let start = std::time::Instant::now();
    let compiled =
        nvrtc.compile(&source, source::MAIN, &options, cubin).map_err(|e| device_error("compiling the kernels", e))?;
    info!("cuda: compiled the kernels for {} in {:.1} s", options[0], start.elapsed().as_secs_f64());
    for k in nvrtc::parse_ptxas_report(&compiled.log) {
        debug!(
            "cuda: {}: {} registers, {} bytes stack, {} bytes spilled",
            k.name,
            k.registers,
            k.stack_frame_bytes,
            k.spill_store_bytes + k.spill_load_bytes
        );
    }
    if let Err(e) = cache::store(&key, cubin, &compiled.image) {
        warn!("cuda: could not cache the compiled kernels: {e}");
    }
    ctx.load_module(cudarc::nvrtc::Ptx::from_binary(compiled.image)).map_err(|e| device_error("loading the kernels", e))
}

/// Checks that every index in the scene points inside its array, so that a
/// malformed scene is an error here instead of an illegal address on the GPU.
pub fn validate_scene(scene: &FlatScene) -> Result<(), String> {
    let h = &scene.header;
    let count = |what: &str, header: u32, len: usize| {
        if header as usize == len {
            Ok(())
        } else {
            Err(format!("the scene header says {header} {what}, but there are {len}"))
        }
    };
    count("BVH nodes", h.num_nodes, scene.nodes.len())?;
    count("triangles", h.num_triangles, scene.triangles.len())?;
    count("triangle vertex sets", h.num_triangles, scene.triangle_vertices.len())?;
    count("lights", h.num_lights, scene.lights.len())?;
    count("light CDF entries", h.num_lights, scene.light_cdf.len())?;
    let (tris, verts, mats, lights) =
        (scene.triangles.len(), scene.vertices.len(), scene.materials.len(), scene.lights.len());
    check_bvh("the BVH", &scene.nodes, tris)?;
    check_motion(scene)?;
    for (i, (t, v)) in scene.triangles.iter().zip(&scene.triangle_vertices).enumerate() {
        if t.material as usize >= mats {
            return Err(format!("triangle {i} uses material {}, but there are {mats}", t.material));
        }
        if t.light != NONE && t.light as usize >= lights {
            return Err(format!("triangle {i} names light {}, but there are {lights}", t.light));
        }
        if let Some(bad) = v.v.iter().find(|&&x| x as usize >= verts) {
            return Err(format!("triangle {i} uses vertex {bad}, but there are {verts}"));
        }
    }
    for (i, m) in scene.materials.iter().enumerate() {
        let slots = m.texture_slots().map(|(_, slot)| slot);
        if let Some(s) = slots.iter().find(|s| s.texture != NONE && s.texture as usize >= scene.textures.len()) {
            return Err(format!("material {i} uses texture {}, but there are {}", s.texture, scene.textures.len()));
        }
    }
    for (i, t) in scene.textures.iter().enumerate() {
        let end = t.offset as u64 + t.width as u64 * t.height as u64;
        if t.width == 0 || t.height == 0 || end > scene.texels.len() as u64 {
            return Err(format!(
                "texture {i} ({}x{} at {}) lies outside the {} texels",
                t.width,
                t.height,
                t.offset,
                scene.texels.len()
            ));
        }
    }
    for (i, l) in scene.lights.iter().enumerate() {
        if l.kind == LIGHT_TRIANGLE && l.index as usize >= tris {
            return Err(format!("light {i} is triangle {}, but there are {tris}", l.index));
        }
    }
    if h.env_light != NONE && h.env_light as usize >= lights {
        return Err(format!("the environment is light {}, but there are {lights}", h.env_light));
    }
    if h.env_flags & ENV_MAP != 0 {
        let (w, hgt) = (h.env_width as usize, h.env_height as usize);
        if w == 0
            || hgt == 0
            || scene.env_texels.len() != w * hgt
            || scene.env_marginal_cdf.len() != hgt
            || scene.env_conditional_cdf.len() != w * hgt
        {
            return Err(format!("the {w}x{hgt} environment map's texel or CDF arrays have the wrong length"));
        }
    }
    Ok(())
}

/// Children come after their parent (so traversal ends), leaves index fewer than
/// `tris` triangles, and no node is deeper than the kernels' traversal stack holds.
fn check_bvh(what: &str, nodes: &[BvhNode], tris: usize) -> Result<(), String> {
    let mut depth = vec![0u32; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        let ok = if n.count > 0 {
            n.index as usize + n.count as usize <= tris
        } else {
            (n.index as usize) + 1 < nodes.len() && n.index as usize > i
        };
        if !ok {
            return Err(format!("{what}'s node {i} points outside the scene (index {}, count {})", n.index, n.count));
        }
        if n.count == 0 {
            let child_depth = depth[i] + 1;
            if child_depth as usize >= crate::accel::STACK_SIZE {
                return Err(format!("{what} is deeper than {} levels at node {i}", crate::accel::STACK_SIZE));
            }
            depth[n.index as usize] = child_depth;
            depth[n.index as usize + 1] = child_depth;
        }
    }
    Ok(())
}

/// The motion keys of a frame that moves lie where the kernels read them
/// ([`MotionHeader`]); a frame that holds still reads none of them.
fn check_motion(scene: &FlatScene) -> Result<(), String> {
    if !scene.moves() {
        return Ok(());
    }
    let m = &scene.motion;
    let (keys, tris, verts) = (m.keys as u64, m.moving_triangles as u64, m.moving_vertices as u64);
    let lengths = [
        ("motion triangles", keys * tris, scene.motion_triangles.len()),
        ("motion vertices", keys * verts, scene.motion_vertices.len()),
        ("motion BVH nodes", (keys - 1) * m.moving_nodes as u64, scene.motion_nodes.len()),
        ("motion cameras", m.camera_keys as u64, scene.motion_cameras.len()),
        ("triangles", m.static_triangles as u64 + tris, scene.triangles.len()),
        ("vertices", m.static_vertices as u64 + verts, scene.vertices.len()),
    ];
    for (what, header, len) in lengths {
        if header != len as u64 {
            return Err(format!("the motion header says {header} {what}, but there are {len}"));
        }
    }
    if m.camera_keys != 0 && m.camera_keys != m.keys {
        return Err(format!("{} camera keys for {} motion keys", m.camera_keys, m.keys));
    }
    for (s, nodes) in scene.motion_nodes.chunks(m.moving_nodes.max(1) as usize).enumerate() {
        check_bvh(&format!("motion segment {s}'s BVH"), nodes, tris as usize)?;
    }
    Ok(())
}

impl Backend for CudaBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo { name: NAME.into(), device: format!("{} [{}]", self.device, self.mode.name()) }
    }

    fn upload(&mut self, scene: &FlatScene) -> Result<(), BackendError> {
        validate_scene(scene).map_err(|e| device_error("invalid scene", e))?;
        self.scene = None;
        let (bytes, offsets) = params::pack_scene(scene);
        let (free, _) = self.ctx.mem_get_info().map_err(|e| device_error("querying device memory", e))?;
        if bytes.len() > free {
            return Err(BackendError::SceneTooLarge {
                what: "the scene",
                needed: bytes.len() as u64,
                limit: free as u64,
                device: self.device.clone(),
            });
        }
        let memory = self.upload_bytes(&bytes)?;
        let view = params::device_scene(scene, self.address(&memory), &offsets);
        self.stream.synchronize().map_err(|e| device_error("uploading the scene", e))?;
        self.scene = Some(DeviceSceneBuffers { _memory: memory, view });
        Ok(())
    }

    fn render(&mut self, task: &RenderTask, progress: Progress) -> Result<TileResult, BackendError> {
        let scene = self.scene.as_ref().ok_or(BackendError::NoScene(NAME))?;
        let flat_header = scene.view.header;
        let check = FlatScene { header: flat_header, ..Default::default() };
        super::check_tile(&check, task)?;
        let mut result = TileResult::empty(task);
        let pixels = task.tile.pixel_count() as u32;
        let waves = params::plan_waves(pixels, task.samples.start..task.samples.end, self.wave_paths);
        if waves.is_empty() {
            return Ok(result);
        }
        let largest = waves.iter().map(|w| w.paths()).max().unwrap_or(0) as u32;
        let (free, _) = self.ctx.mem_get_info().map_err(|e| device_error("querying device memory", e))?;
        let affordable = (free / WAVE_MEMORY_SHARE / BYTES_PER_PATH).max(1) as u32;
        let waves = if largest > affordable && self.waves.as_ref().is_none_or(|w| w.capacity < largest) {
            params::plan_waves(pixels, task.samples.start..task.samples.end, affordable)
        } else {
            waves
        };
        let largest = waves.iter().map(|w| w.paths()).max().unwrap_or(0) as u32;
        self.wave_buffers(largest)?;

        // Per-pixel sums of the tile, zeroed.
        let sums_bytes = result.pixels.len() * size_of::<PixelSums>();
        if self.pixels.as_ref().is_none_or(|p| p.len() < sums_bytes) {
            self.pixels = None;
            self.pixels =
                Some(self.stream.alloc_zeros::<u8>(sums_bytes).map_err(|e| device_error("allocating the tile", e))?);
        }
        let mut sums = self.pixels.take().expect("allocated above");
        let cleared = self.stream.memset_zeros(&mut sums.slice_mut(0..sums_bytes));
        let pixels_address = self.address(&sums);
        self.pixels = Some(sums);
        cleared.map_err(|e| device_error("clearing the tile", e))?;
        let buffers = self.waves.as_mut().expect("allocated above");
        self.stream.memset_zeros(&mut buffers.rays).map_err(|e| device_error("clearing the ray count", e))?;

        let mut base = buffers.params;
        base.seed = frame_seed(task.seed, task.frame);
        base.max_depth = task.max_depth;
        base.tile_x = task.tile.x;
        base.tile_y = task.tile.y;
        base.tile_width = task.tile.width;
        base.pixels = pixels_address;
        for wave in &waves {
            self.run_wave(base, wave)?;
            self.stream.synchronize().map_err(|e| device_error("rendering", e))?;
            if !progress(wave.paths()) {
                return Err(BackendError::Cancelled);
            }
        }

        let sums = self.pixels.as_ref().expect("allocated above");
        self.stream
            .memcpy_dtoh(&sums.slice(0..sums_bytes), bytemuck::cast_slice_mut::<PixelSums, u8>(&mut result.pixels))
            .map_err(|e| device_error("reading the tile", e))?;
        let mut rays = [0u64];
        let buffers = self.waves.as_ref().expect("allocated above");
        self.stream.memcpy_dtoh(&buffers.rays, &mut rays).map_err(|e| device_error("reading the ray count", e))?;
        self.stream.synchronize().map_err(|e| device_error("reading the tile", e))?;
        result.rays = rays[0];
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cornell() -> FlatScene {
        crate::scene::prepare(
            &crate::scene::cornell::cornell_box().unwrap(),
            None,
            &crate::scene::PrepareOptions {
                width: 8,
                height: 8,
                camera: None,
                time: 0.0,
                animation: Default::default(),
                shutter: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn prepared_scenes_are_valid() {
        assert_eq!(validate_scene(&cornell()), Ok(()));
    }

    #[test]
    fn out_of_range_indices_are_reported() {
        let mut s = cornell();
        s.triangles[3].material = 99;
        assert!(validate_scene(&s).unwrap_err().contains("triangle 3 uses material 99"));
        let mut s = cornell();
        s.triangle_vertices[0].v[1] = 1_000_000;
        assert!(validate_scene(&s).unwrap_err().contains("triangle 0 uses vertex 1000000"));
        let mut s = cornell();
        s.nodes[0].index = 10_000;
        assert!(validate_scene(&s).unwrap_err().contains("the BVH's node 0 points outside the scene"));
        // A chain of 70 interior nodes: deeper than the traversal stack.
        let mut s = cornell();
        let leaf = BvhNode { count: 1, ..Default::default() };
        let interior = |index| BvhNode { index, ..Default::default() };
        s.nodes = vec![interior(1)];
        for k in 0..70 {
            s.nodes.extend([interior(2 * k + 3), leaf]);
        }
        s.nodes.extend([leaf, leaf]);
        s.header.num_nodes = s.nodes.len() as u32;
        assert!(validate_scene(&s).unwrap_err().contains("deeper than 64 levels"));
        let mut s = cornell();
        s.lights.pop();
        assert!(validate_scene(&s).unwrap_err().contains("lights"));
    }

    #[test]
    fn probing_never_panics_and_explains() {
        let probe = probe();
        assert_eq!(probe.kind, BackendKind::Cuda);
        // Either devices are listed, or there is a reason; this machine decides which.
        assert!(!probe.devices.is_empty() || !probe.unavailable.is_empty(), "{probe:?}");
        if probe.devices.is_empty() {
            let err = CudaBackend::new(&BackendOptions::default()).err().expect("no device, no backend");
            assert!(matches!(err, BackendError::Unavailable { .. }), "{err}");
        }
    }
}
