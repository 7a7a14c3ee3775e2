//! The flat scene: the one memory layout every backend renders from.
//!
//! Every struct here is `#[repr(C)]` + `Pod` and is uploaded byte for byte to the GPU
//! backends. `shaders/layout.wgsl` and `kernels/layout.cuh` mirror these definitions;
//! tests check the mirrors' sizes and field offsets against `size_of`/`offset_of!`.
//! Rules for adding a field: only `u32`, `f32`, `[f32; 3]` followed by a 4-byte
//! scalar, `[f32; 4]`, and nested structs whose size is a multiple of 16; keep every
//! struct's size a multiple of 16 so that array strides agree with WGSL.

use bytemuck::{Pod, Zeroable};

/// Marks an absent index (no texture, no light, no environment).
pub const NONE: u32 = u32::MAX;

/// BVH node, 32 bytes. Interior node: `count == 0`, children at `index` and
/// `index + 1`. Leaf: `count > 0` triangles starting at `index` in [`FlatScene::triangles`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct BvhNode {
    pub bmin: [f32; 3],
    pub index: u32,
    pub bmax: [f32; 3],
    pub count: u32,
}

/// Triangle flag: its material is alpha-tested (MASK), so hits must look up alpha.
pub const TRI_ALPHA_TESTED: u32 = 1;

/// Triangle as intersected: first vertex and two edges (Möller–Trumbore), in BVH
/// leaf order. `light` is the index of its area light in [`FlatScene::lights`] or [`NONE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Triangle {
    pub v0: [f32; 3],
    pub material: u32,
    pub e1: [f32; 3],
    pub light: u32,
    pub e2: [f32; 3],
    pub flags: u32,
}

/// Vertex indices of the triangle with the same index in [`FlatScene::triangles`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct TriangleVertices {
    pub v: [u32; 3],
    pub _pad: u32,
}

/// Shading attributes of a vertex (positions live in [`Triangle`]).
/// `tangent.w` is the bitangent sign, as in glTF.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Vertex {
    pub normal: [f32; 3],
    pub _pad: f32,
    pub tangent: [f32; 4],
    pub uv0: [f32; 2],
    pub uv1: [f32; 2],
}

/// A material's use of a texture: which texture, which UV set, and the
/// KHR_texture_transform as the two rows of a 2×3 matrix: `u' = dot(row_u.xyz, (u, v, 1))`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct TextureSlot {
    pub texture: u32,
    pub texcoord: u32,
    pub _pad: [u32; 2],
    pub row_u: [f32; 4],
    pub row_v: [f32; 4],
}

impl Default for TextureSlot {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl TextureSlot {
    pub const EMPTY: Self =
        Self { texture: NONE, texcoord: 0, _pad: [0; 2], row_u: [1.0, 0.0, 0.0, 0.0], row_v: [0.0, 1.0, 0.0, 0.0] };
}

pub const MAT_ALPHA_MASK: u32 = 1;
pub const MAT_ALPHA_BLEND: u32 = 2;
pub const MAT_DOUBLE_SIDED: u32 = 4;
/// Transmission without KHR_materials_volume: glTF's thin-walled model (no refraction).
pub const MAT_THIN_WALLED: u32 = 8;
/// KHR_materials_unlit: the surface shows its base colour and reflects nothing.
pub const MAT_UNLIT: u32 = 16;

/// glTF metallic-roughness material with the extensions Tessera renders.
/// `emission` already includes KHR_materials_emissive_strength. `attenuation` is
/// the absorption coefficient σ per colour channel (per unit of world distance)
/// inside a refracting KHR_materials_volume, zero when clear:
/// σ = −ln(attenuationColor) / attenuationDistance.
/// Texture channels follow glTF: metallic = B, roughness = G of `metallic_roughness`;
/// transmission = R of `transmission`; specular = A of `specular`; clearcoat = R
/// of `clearcoat`, its roughness = G of `clearcoat_roughness`; sheen colour = RGB
/// of `sheen_color`, its roughness = A of `sheen_roughness`; anisotropy
/// direction = RG (in [−1, 1], tangent space), strength = B of `anisotropy`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct Material {
    pub base_color: [f32; 4],
    pub emission: [f32; 3],
    pub metallic: f32,
    pub roughness: f32,
    pub ior: f32,
    pub transmission: f32,
    pub alpha_cutoff: f32,
    pub normal_scale: f32,
    pub flags: u32,
    pub _pad: [u32; 2],
    pub attenuation: [f32; 3],
    /// KHR_materials_specular's specularFactor.
    pub specular: f32,
    /// KHR_materials_clearcoat: factor, roughness factor, normal texture scale.
    pub clearcoat: f32,
    pub clearcoat_roughness: f32,
    pub clearcoat_normal_scale: f32,
    pub _pad2: u32,
    /// KHR_materials_sheen: colour factor and roughness factor.
    pub sheen_color: [f32; 3],
    pub sheen_roughness: f32,
    /// KHR_materials_anisotropy: the rotation as (cos, sin) and the strength (0: isotropic).
    pub anisotropy_rotation: [f32; 2],
    pub anisotropy_strength: f32,
    pub _pad3: u32,
    /// KHR_materials_specular's colour factor (the dielectric layer's F0 tint).
    pub specular_color: [f32; 3],
    pub _pad4: u32,
    /// KHR_materials_iridescence: factor, the film's index, and its thickness
    /// range in nanometres (the thickness texture's green channel picks within it).
    pub iridescence: f32,
    pub iridescence_ior: f32,
    pub iridescence_thickness_min: f32,
    pub iridescence_thickness_max: f32,
    pub base_color_tex: TextureSlot,
    pub metallic_roughness_tex: TextureSlot,
    pub normal_tex: TextureSlot,
    pub emissive_tex: TextureSlot,
    pub transmission_tex: TextureSlot,
    pub specular_tex: TextureSlot,
    pub clearcoat_tex: TextureSlot,
    pub clearcoat_roughness_tex: TextureSlot,
    pub clearcoat_normal_tex: TextureSlot,
    pub sheen_color_tex: TextureSlot,
    pub sheen_roughness_tex: TextureSlot,
    pub anisotropy_tex: TextureSlot,
    pub specular_color_tex: TextureSlot,
    pub iridescence_tex: TextureSlot,
    pub iridescence_thickness_tex: TextureSlot,
}

impl Default for Material {
    /// glTF's default material: white, fully metallic, fully rough.
    fn default() -> Self {
        Self {
            base_color: [1.0; 4],
            emission: [0.0; 3],
            metallic: 1.0,
            roughness: 1.0,
            ior: 1.5,
            transmission: 0.0,
            alpha_cutoff: 0.5,
            normal_scale: 1.0,
            flags: 0,
            _pad: [0; 2],
            attenuation: [0.0; 3],
            specular: 1.0,
            clearcoat: 0.0,
            clearcoat_roughness: 0.0,
            clearcoat_normal_scale: 1.0,
            _pad2: 0,
            sheen_color: [0.0; 3],
            sheen_roughness: 0.0,
            anisotropy_rotation: [1.0, 0.0],
            anisotropy_strength: 0.0,
            _pad3: 0,
            specular_color: [1.0; 3],
            _pad4: 0,
            iridescence: 0.0,
            iridescence_ior: 1.3,
            iridescence_thickness_min: 100.0,
            iridescence_thickness_max: 400.0,
            base_color_tex: TextureSlot::EMPTY,
            metallic_roughness_tex: TextureSlot::EMPTY,
            normal_tex: TextureSlot::EMPTY,
            emissive_tex: TextureSlot::EMPTY,
            transmission_tex: TextureSlot::EMPTY,
            specular_tex: TextureSlot::EMPTY,
            clearcoat_tex: TextureSlot::EMPTY,
            clearcoat_roughness_tex: TextureSlot::EMPTY,
            clearcoat_normal_tex: TextureSlot::EMPTY,
            sheen_color_tex: TextureSlot::EMPTY,
            sheen_roughness_tex: TextureSlot::EMPTY,
            anisotropy_tex: TextureSlot::EMPTY,
            specular_color_tex: TextureSlot::EMPTY,
            iridescence_tex: TextureSlot::EMPTY,
            iridescence_thickness_tex: TextureSlot::EMPTY,
        }
    }
}

impl Material {
    /// Every texture slot, with the glTF material field it comes from.
    pub fn texture_slots(&self) -> [(&'static str, &TextureSlot); 15] {
        [
            ("pbrMetallicRoughness.baseColorTexture", &self.base_color_tex),
            ("pbrMetallicRoughness.metallicRoughnessTexture", &self.metallic_roughness_tex),
            ("normalTexture", &self.normal_tex),
            ("emissiveTexture", &self.emissive_tex),
            ("extensions.KHR_materials_transmission.transmissionTexture", &self.transmission_tex),
            ("extensions.KHR_materials_specular.specularTexture", &self.specular_tex),
            ("extensions.KHR_materials_clearcoat.clearcoatTexture", &self.clearcoat_tex),
            ("extensions.KHR_materials_clearcoat.clearcoatRoughnessTexture", &self.clearcoat_roughness_tex),
            ("extensions.KHR_materials_clearcoat.clearcoatNormalTexture", &self.clearcoat_normal_tex),
            ("extensions.KHR_materials_sheen.sheenColorTexture", &self.sheen_color_tex),
            ("extensions.KHR_materials_sheen.sheenRoughnessTexture", &self.sheen_roughness_tex),
            ("extensions.KHR_materials_anisotropy.anisotropyTexture", &self.anisotropy_tex),
            ("extensions.KHR_materials_specular.specularColorTexture", &self.specular_color_tex),
            ("extensions.KHR_materials_iridescence.iridescenceTexture", &self.iridescence_tex),
            ("extensions.KHR_materials_iridescence.iridescenceThicknessTexture", &self.iridescence_thickness_tex),
        ]
    }
}

/// Texture flag: texels are sRGB-encoded colour (base colour, emissive); else linear data.
pub const TEX_SRGB: u32 = 1;
/// Texture flag: nearest-neighbour filtering instead of bilinear.
pub const TEX_NEAREST: u32 = 2;
/// Wrap modes, stored in bits 8..10 (S) and 10..12 (T) of [`Texture::flags`].
pub const WRAP_REPEAT: u32 = 0;
pub const WRAP_CLAMP: u32 = 1;
pub const WRAP_MIRROR: u32 = 2;
pub const WRAP_S_SHIFT: u32 = 8;
pub const WRAP_T_SHIFT: u32 = 10;

/// A texture: `width * height` RGBA8 texels (one `u32` each, R in the low byte) at
/// `offset` in [`FlatScene::texels`], rows top to bottom as in the image file.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Texture {
    pub offset: u32,
    pub width: u32,
    pub height: u32,
    pub flags: u32,
}

pub const LIGHT_POINT: u32 = 0;
pub const LIGHT_SPOT: u32 = 1;
pub const LIGHT_DIRECTIONAL: u32 = 2;
/// An emissive triangle; `index` is the triangle's index in [`FlatScene::triangles`].
pub const LIGHT_TRIANGLE: u32 = 3;
/// The environment (constant colour or equirectangular map, see [`SceneHeader`]).
pub const LIGHT_ENVIRONMENT: u32 = 4;

/// A light. Point and spot lights: `position`, `intensity` in W/sr-like units (glTF
/// candela already converted), spot cone as cosines. Directional: `direction` is
/// the direction the light travels, `intensity` is irradiance. `pick_pdf` is the
/// probability that light sampling picks this light (from [`FlatScene::light_cdf`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Light {
    pub position: [f32; 3],
    pub kind: u32,
    pub direction: [f32; 3],
    pub index: u32,
    pub intensity: [f32; 3],
    pub pick_pdf: f32,
    pub cos_outer: f32,
    pub cos_inner: f32,
    pub range: f32,
    pub _pad: u32,
}

pub const CAMERA_PERSPECTIVE: u32 = 0;
pub const CAMERA_ORTHOGRAPHIC: u32 = 1;

/// Camera for a `width × height` image. Perspective: the ray through normalised
/// device coordinates (x, y) in [-1, 1]² (y up) has direction
/// `forward + x * right + y * up` from `origin` (right and up are scaled by the
/// half-angle tangents). Orthographic: origin `origin + x * right + y * up`,
/// direction `forward` (right and up are the world half-extents).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Camera {
    pub origin: [f32; 3],
    pub kind: u32,
    pub right: [f32; 3],
    pub width: u32,
    pub up: [f32; 3],
    pub height: u32,
    pub forward: [f32; 3],
    pub _pad: u32,
}

/// Environment flag bit in [`SceneHeader::env_flags`]: an equirectangular map is present.
pub const ENV_MAP: u32 = 1;

/// Everything that is one-per-scene. The environment's radiance in direction `d`
/// is `env_color` times the map texel (when `env_flags & ENV_MAP`), with the map
/// in equirectangular layout: `u = 0.5 + atan2(d.x, -d.z) / 2π`, `v = acos(d.y) / π`
/// (+Y up, row 0 at the top, the map's centre looking down -Z).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SceneHeader {
    pub camera: Camera,
    pub bounds_min: [f32; 3],
    pub num_lights: u32,
    pub bounds_max: [f32; 3],
    /// Index of the environment in `lights`, or [`NONE`] when the environment is black.
    pub env_light: u32,
    pub env_color: [f32; 3],
    pub env_flags: u32,
    pub env_width: u32,
    pub env_height: u32,
    pub num_triangles: u32,
    pub num_nodes: u32,
}

/// Motion blur: how the moving part of a frame is laid out (all zero for a frame
/// that does not move). The frame's time runs over the shutter from 0 to 1 and is
/// sampled at `keys` evenly spaced instants; between two keys everything moves
/// linearly. Triangles `static_triangles..static_triangles + moving_triangles` of
/// [`FlatScene::triangles`] are the moving ones (their material, light and flags
/// live there); key `k` of moving triangle `m` is `FlatScene::motion_triangles[k *
/// moving_triangles + m]` (positions only), and likewise for the vertices from
/// `static_vertices` on. [`FlatScene::nodes`] is the BVH of the static triangles
/// alone; the moving ones have one BVH topology whose boxes are refitted for each
/// of the `keys - 1` segments between keys: segment `s` is
/// `FlatScene::motion_nodes[s * moving_nodes..]`, its leaves indexing moving
/// triangles from 0. `camera_keys` is `keys` when [`FlatScene::motion_cameras`]
/// holds the camera at each key, else 0 (the header's camera holds still).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MotionHeader {
    pub keys: u32,
    pub camera_keys: u32,
    pub static_triangles: u32,
    pub moving_triangles: u32,
    pub static_vertices: u32,
    pub moving_vertices: u32,
    pub moving_nodes: u32,
    pub _pad: u32,
}

/// The flat scene: arrays of the structs above, prepared once per frame and
/// uploaded unchanged to every backend.
///
/// Environment importance sampling uses a piecewise-constant 2D distribution over
/// the map (weighted by sin θ, see `sampling::distribution`): `env_marginal_cdf`
/// has `env_height` inclusive CDF entries (rows), `env_conditional_cdf` has
/// `env_height * env_width` (an inclusive CDF per row). Both are empty without a map.
#[derive(Clone, Debug, Default)]
pub struct FlatScene {
    pub header: SceneHeader,
    pub nodes: Vec<BvhNode>,
    pub triangles: Vec<Triangle>,
    pub triangle_vertices: Vec<TriangleVertices>,
    pub vertices: Vec<Vertex>,
    pub materials: Vec<Material>,
    pub textures: Vec<Texture>,
    pub texels: Vec<u32>,
    pub lights: Vec<Light>,
    /// Inclusive prefix sums of the lights' `pick_pdf`; the last entry is 1.
    pub light_cdf: Vec<f32>,
    /// Environment map texels, linear RGB (A unused).
    pub env_texels: Vec<[f32; 4]>,
    pub env_marginal_cdf: Vec<f32>,
    pub env_conditional_cdf: Vec<f32>,
    /// Motion blur ([`MotionHeader`]); empty arrays for a frame that holds still.
    pub motion: MotionHeader,
    pub motion_cameras: Vec<Camera>,
    pub motion_nodes: Vec<BvhNode>,
    pub motion_triangles: Vec<Triangle>,
    pub motion_vertices: Vec<Vertex>,
}

impl FlatScene {
    /// Bytes the scene occupies on a device.
    pub fn byte_size(&self) -> usize {
        use std::mem::size_of_val;
        size_of_val(&self.header)
            + size_of_val(self.nodes.as_slice())
            + size_of_val(self.triangles.as_slice())
            + size_of_val(self.triangle_vertices.as_slice())
            + size_of_val(self.vertices.as_slice())
            + size_of_val(self.materials.as_slice())
            + size_of_val(self.textures.as_slice())
            + size_of_val(self.texels.as_slice())
            + size_of_val(self.lights.as_slice())
            + size_of_val(self.light_cdf.as_slice())
            + size_of_val(self.env_texels.as_slice())
            + size_of_val(self.env_marginal_cdf.as_slice())
            + size_of_val(self.env_conditional_cdf.as_slice())
            + size_of_val(&self.motion)
            + size_of_val(self.motion_cameras.as_slice())
            + size_of_val(self.motion_nodes.as_slice())
            + size_of_val(self.motion_triangles.as_slice())
            + size_of_val(self.motion_vertices.as_slice())
    }

    /// Whether the frame moves over its shutter (motion blur).
    pub fn moves(&self) -> bool {
        self.motion.keys >= 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn sizes_are_multiples_of_16() {
        let sizes = [
            ("BvhNode", size_of::<BvhNode>(), 32),
            ("Triangle", size_of::<Triangle>(), 48),
            ("TriangleVertices", size_of::<TriangleVertices>(), 16),
            ("Vertex", size_of::<Vertex>(), 48),
            ("TextureSlot", size_of::<TextureSlot>(), 48),
            ("Material", size_of::<Material>(), 880),
            ("Texture", size_of::<Texture>(), 16),
            ("Light", size_of::<Light>(), 64),
            ("Camera", size_of::<Camera>(), 64),
            ("SceneHeader", size_of::<SceneHeader>(), 128),
            ("MotionHeader", size_of::<MotionHeader>(), 32),
        ];
        for (name, size, expected) in sizes {
            assert_eq!(size, expected, "{name}");
            assert_eq!(size % 16, 0, "{name}");
        }
    }
}
