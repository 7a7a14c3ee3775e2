//! The flat scene on the device: each `FlatScene` array uploaded byte for byte
//! into its own storage buffer (bind group 0 of `shaders/bindings.wgsl`), the
//! header into a uniform buffer. The three CDF arrays share one buffer so that
//! one WGSL `sample_cdf` serves them all. A second uniform holds the constant
//! tables: sRGB decoding and the BSDF's GGX albedo. Motion blur's keys follow the
//! frame's own entries in the nodes, triangles and vertices buffers, and one more
//! buffer holds the `MotionHeader` and the camera keys.

use std::mem::size_of;

use wgpu::util::DeviceExt;

use super::adapter::{BufferNeeds, GpuDevice};
use crate::backend::BackendError;
use crate::sampling::{ggx_albedo, sheen};
use crate::scene::flat::*;
use crate::scene::texture::SRGB_TO_LINEAR;

/// Storage arrays of bind group 0 at bindings 1..=10.
const ARRAY_BINDINGS: u32 = 10;
/// Read-only storage buffers of bind group 0: the arrays and the motion buffer.
pub const SCENE_STORAGE_BUFFERS: u32 = ARRAY_BINDINGS + 1;

/// One storage buffer's contents: the `FlatScene` field it holds, its bytes, and
/// the size of one element (an empty array is uploaded as one zeroed element,
/// since bindings cannot be empty).
struct Array<'a> {
    name: &'static str,
    bytes: std::borrow::Cow<'a, [u8]>,
    element: usize,
}

impl Array<'_> {
    fn size(&self) -> u64 {
        self.bytes.len().max(self.element) as u64
    }
}

fn array<'a, T: bytemuck::Pod>(name: &'static str, items: &'a [T]) -> Array<'a> {
    Array { name, bytes: bytemuck::cast_slice(items).into(), element: size_of::<T>() }
}

/// An array followed by its motion keys (copied only when there are keys).
fn with_keys<'a>(name: &'static str, own: &'a [u8], keys: &[u8], element: usize) -> Array<'a> {
    let bytes = if keys.is_empty() { own.into() } else { [own, keys].concat().into() };
    Array { name, bytes, element }
}

/// The storage arrays of `scene` in binding order (bindings 1..=10).
fn arrays(scene: &FlatScene) -> Vec<Array<'_>> {
    let cdfs: Vec<f32> = [&scene.light_cdf, &scene.env_marginal_cdf, &scene.env_conditional_cdf]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    vec![
        with_keys(
            "nodes",
            bytemuck::cast_slice(&scene.nodes),
            bytemuck::cast_slice(&scene.motion_nodes),
            size_of::<BvhNode>(),
        ),
        with_keys(
            "triangles",
            bytemuck::cast_slice(&scene.triangles),
            bytemuck::cast_slice(&scene.motion_triangles),
            size_of::<Triangle>(),
        ),
        array("triangle_vertices", &scene.triangle_vertices),
        with_keys(
            "vertices",
            bytemuck::cast_slice(&scene.vertices),
            bytemuck::cast_slice(&scene.motion_vertices),
            size_of::<Vertex>(),
        ),
        array("materials", &scene.materials),
        array("textures", &scene.textures),
        array("texels", &scene.texels),
        array("lights", &scene.lights),
        Array {
            name: "light_cdf + env_marginal_cdf + env_conditional_cdf",
            bytes: bytemuck::cast_slice(&cdfs).to_vec().into(),
            element: size_of::<f32>(),
        },
        array("env_texels", &scene.env_texels),
    ]
}

/// The motion buffer (binding [`MOTION_BINDING`]): the `MotionHeader`, then the
/// camera keys (one zeroed camera when there are none).
fn motion(scene: &FlatScene) -> Array<'_> {
    let cameras: &[Camera] = if scene.motion_cameras.is_empty() { &[Camera::default()] } else { &scene.motion_cameras };
    let bytes = [bytemuck::bytes_of(&scene.motion), bytemuck::cast_slice(cameras)].concat();
    Array { name: "motion", bytes: bytes.into(), element: size_of::<MotionHeader>() }
}

/// Every storage buffer of `scene`: the arrays, then the motion buffer.
fn storage(scene: &FlatScene) -> Vec<Array<'_>> {
    let mut all = arrays(scene);
    all.push(motion(scene));
    all
}

/// What the scene's largest buffers need of the device.
pub fn needs(scene: &FlatScene) -> BufferNeeds {
    let largest = storage(scene).iter().map(Array::size).max().unwrap_or(0);
    BufferNeeds { binding: largest, buffer: largest }
}

/// Checks every buffer of `scene` against `limits` (the adapter's) of `device`.
pub fn check_fits(scene: &FlatScene, limits: &wgpu::Limits, device: &str) -> Result<(), BackendError> {
    let limit = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
    for a in storage(scene) {
        if a.size() > limit {
            return Err(BackendError::SceneTooLarge { what: a.name, needed: a.size(), limit, device: device.into() });
        }
    }
    Ok(())
}

/// The counts the kernels take from the header must match the arrays, or the
/// CDF offsets and the traversal root would be wrong.
fn check_consistent(scene: &FlatScene) -> Result<(), String> {
    let h = &scene.header;
    let env_texels = h.env_width as usize * h.env_height as usize;
    let checks = [
        ("header.num_lights", h.num_lights as usize, "lights", scene.lights.len()),
        ("header.num_lights", h.num_lights as usize, "light_cdf", scene.light_cdf.len()),
        ("header.num_nodes", h.num_nodes as usize, "nodes", scene.nodes.len()),
        ("header.num_triangles", h.num_triangles as usize, "triangles", scene.triangles.len()),
        ("header.env_height", h.env_height as usize, "env_marginal_cdf", scene.env_marginal_cdf.len()),
        ("env_width × env_height", env_texels, "env_conditional_cdf", scene.env_conditional_cdf.len()),
        ("env_width × env_height", env_texels, "env_texels", scene.env_texels.len()),
    ];
    for (field, expected, array, len) in checks {
        if expected != len {
            return Err(format!("the flat scene is inconsistent: {field} is {expected} but {array} has {len} entries"));
        }
    }
    Ok(())
}

/// The uploaded scene.
pub struct SceneBuffers {
    pub header: SceneHeader,
    pub bind_group: wgpu::BindGroup,
}

/// Binding of the constant tables, after the storage arrays.
const TABLES_BINDING: u32 = ARRAY_BINDINGS + 1;
/// Binding of the motion buffer, after the tables.
const MOTION_BINDING: u32 = TABLES_BINDING + 1;
/// Where the sRGB table starts in the tables uniform (in f32s).
pub const SRGB_TABLE: usize = 0;
/// Where the GGX albedo table starts.
pub const GGX_ALBEDO_TABLE: usize = SRGB_TABLE + 256;
/// Where the sheen albedo table starts.
pub const SHEEN_ALBEDO_TABLE: usize = GGX_ALBEDO_TABLE + ggx_albedo::TABLE_LEN;
/// Length of the tables uniform (whole vec4s, as the WGSL declares it).
pub const TABLES_LEN: usize = SHEEN_ALBEDO_TABLE + sheen::TABLE_LEN;
const _: () = assert!(TABLES_LEN % 4 == 0);

/// The constant tables uniform: sRGB decoding, then the GGX and the sheen albedo.
fn tables() -> Vec<f32> {
    SRGB_TO_LINEAR.iter().chain(&ggx_albedo::TABLE).chain(&sheen::TABLE).copied().collect()
}

/// Layout of bind group 0: the header uniform, the read-only arrays and the tables.
pub fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let mut entries = vec![buffer_entry(0, wgpu::BufferBindingType::Uniform)];
    let storage = wgpu::BufferBindingType::Storage { read_only: true };
    entries.extend((1..=ARRAY_BINDINGS).map(|b| buffer_entry(b, storage)));
    entries.push(buffer_entry(TABLES_BINDING, wgpu::BufferBindingType::Uniform));
    entries.push(buffer_entry(MOTION_BINDING, storage));
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some("scene"), entries: &entries })
}

pub fn buffer_entry(binding: u32, ty: wgpu::BufferBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
        count: None,
    }
}

/// Uploads `scene` into new buffers bound to `layout`.
pub fn upload(
    gpu: &GpuDevice,
    layout: &wgpu::BindGroupLayout,
    scene: &FlatScene,
) -> Result<SceneBuffers, BackendError> {
    check_consistent(scene).map_err(|message| gpu.device_error(message))?;
    check_fits(scene, &gpu.adapter_limits, &gpu.info.name)?;
    let device = &gpu.device;
    let init = |label: &str, contents: &[u8], usage| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents, usage })
    };
    gpu.scoped(|| {
        let mut buffers = vec![init("header", bytemuck::bytes_of(&scene.header), wgpu::BufferUsages::UNIFORM)];
        for a in arrays(scene) {
            let contents = if a.bytes.is_empty() { vec![0; a.element].into() } else { a.bytes };
            buffers.push(init(a.name, &contents, wgpu::BufferUsages::STORAGE));
        }
        buffers.push(init("tables", bytemuck::cast_slice(&tables()), wgpu::BufferUsages::UNIFORM));
        buffers.push(init("motion", &motion(scene).bytes, wgpu::BufferUsages::STORAGE));
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        let bind_group =
            device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some("scene"), layout, entries: &entries });
        SceneBuffers { header: scene.header, bind_group }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_arrays_take_one_element_and_cdfs_are_concatenated() {
        let scene = FlatScene {
            light_cdf: vec![0.5, 1.0],
            env_marginal_cdf: vec![1.0],
            env_conditional_cdf: vec![0.25, 1.0],
            ..Default::default()
        };
        let all = arrays(&scene);
        assert_eq!(all.len(), ARRAY_BINDINGS as usize);
        assert_eq!(all[0].size(), size_of::<BvhNode>() as u64);
        assert_eq!(all[4].size(), size_of::<Material>() as u64);
        let cdfs: &[f32] = bytemuck::cast_slice(&all[8].bytes);
        assert_eq!(cdfs, [0.5, 1.0, 1.0, 0.25, 1.0]);
        assert_eq!(needs(&scene).binding, size_of::<Material>() as u64);
    }

    #[test]
    fn srgb_table_matches_the_cpu_decoding() {
        // A 256×1 sRGB texture holding every byte value, sampled at texel centres.
        let texels = (0..=255u32).map(|b| b | b << 8 | b << 16 | 0xff << 24).collect();
        let tex = Texture { offset: 0, width: 256, height: 1, flags: TEX_SRGB | TEX_NEAREST };
        let scene = FlatScene { texels, textures: vec![tex], ..Default::default() };
        for (i, &value) in SRGB_TO_LINEAR.iter().enumerate() {
            let cpu = crate::scene::texture::sample_texture(&scene, &tex, (i as f32 + 0.5) / 256.0, 0.5);
            assert_eq!(cpu.x.to_bits(), value.to_bits(), "byte {i}");
        }
    }

    #[test]
    fn tables_hold_srgb_then_the_ggx_and_sheen_albedos() {
        let t = tables();
        assert_eq!(t.len(), TABLES_LEN);
        assert_eq!(t[SRGB_TABLE + 128].to_bits(), SRGB_TO_LINEAR[128].to_bits());
        assert_eq!(&t[GGX_ALBEDO_TABLE..SHEEN_ALBEDO_TABLE], &ggx_albedo::TABLE[..]);
        assert_eq!(&t[SHEEN_ALBEDO_TABLE..], &sheen::TABLE[..]);
    }

    #[test]
    fn a_buffer_beyond_the_adapter_limits_is_named() {
        let scene = FlatScene { texels: vec![0; 1 << 18], ..Default::default() };
        let limits = wgpu::Limits { max_storage_buffer_binding_size: 1 << 16, ..wgpu::Limits::default() };
        let err = check_fits(&scene, &limits, "Tiny GPU").unwrap_err();
        assert!(
            matches!(err, BackendError::SceneTooLarge { what: "texels", needed: 1_048_576, limit: 65_536, .. }),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "the scene needs 1048576 bytes for texels, but Tiny GPU allows at most 65536");
        assert!(check_fits(&scene, &wgpu::Limits::default(), "Big GPU").is_ok());
    }

    #[test]
    fn inconsistent_headers_are_named() {
        let mut scene = FlatScene { lights: vec![Light::default()], light_cdf: vec![1.0], ..Default::default() };
        let err = check_consistent(&scene).unwrap_err();
        assert!(err.contains("header.num_lights is 0 but lights has 1"), "{err}");
        scene.header.num_lights = 1;
        assert_eq!(check_consistent(&scene), Ok(()));
    }
}
