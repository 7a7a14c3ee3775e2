//! What the integrator knows about a ray hit: position, normals, texture
//! coordinates and the material evaluated there (textures applied). Spelled the
//! same way in `shaders/surface.wgsl` and `kernels/surface.cuh`.

use glam::{Vec2, Vec3, Vec4, Vec4Swizzles};

use crate::accel::Hit;
use crate::render::motion::{self, Instant};
use crate::sampling::bsdf::Bsdf;
use crate::sampling::warp::Frame;
use crate::scene::flat::*;
use crate::scene::texture::{sample_slot, triangle_uvs};

/// Shading attributes at a hit, before the material is applied.
#[derive(Clone, Copy, Debug)]
pub struct SurfaceHit {
    pub position: Vec3,
    /// Geometric normal, unit length, as wound (not flipped towards the ray).
    pub geo_normal: Vec3,
    /// Interpolated vertex normal, unit length (not flipped).
    pub normal: Vec3,
    /// Interpolated tangent (xyz) and bitangent sign (w).
    pub tangent: Vec4,
    pub uv0: Vec2,
    pub uv1: Vec2,
    pub material: u32,
    /// Whether the ray arrived on the side the geometric normal points to.
    pub front_face: bool,
}

/// Interpolates the attributes of triangle `hit.tri` at the hit's barycentrics.
/// `at` is the instant of the shutter the ray travels at (motion blur).
pub fn surface_hit(scene: &FlatScene, hit: &Hit, ray_dir: Vec3, at: Option<Instant>) -> SurfaceHit {
    let tri = &motion::triangle(scene, hit.tri, at);
    let (v0, e1, e2) = (Vec3::from(tri.v0), Vec3::from(tri.e1), Vec3::from(tri.e2));
    let geo_normal = e1.cross(e2).normalize_or(Vec3::Z);
    let idx = scene.triangle_vertices[hit.tri as usize].v;
    let [a, b, c] = idx.map(|i| motion::vertex(scene, i, at));
    let w = 1.0 - hit.u - hit.v;
    let lerp3 =
        |x: [f32; 3], y: [f32; 3], z: [f32; 3]| Vec3::from(x) * w + Vec3::from(y) * hit.u + Vec3::from(z) * hit.v;
    let lerp2 =
        |x: [f32; 2], y: [f32; 2], z: [f32; 2]| Vec2::from(x) * w + Vec2::from(y) * hit.u + Vec2::from(z) * hit.v;
    let normal = lerp3(a.normal, b.normal, c.normal).normalize_or(geo_normal);
    let tangent = Vec4::from(a.tangent) * w + Vec4::from(b.tangent) * hit.u + Vec4::from(c.tangent) * hit.v;
    SurfaceHit {
        position: v0 + e1 * hit.u + e2 * hit.v,
        geo_normal,
        normal,
        tangent,
        uv0: lerp2(a.uv0, b.uv0, c.uv0),
        uv1: lerp2(a.uv1, b.uv1, c.uv1),
        material: tri.material,
        front_face: ray_dir.dot(geo_normal) < 0.0,
    }
}

/// The material evaluated at a hit.
#[derive(Clone, Copy, Debug)]
pub struct ShadingPoint {
    pub bsdf: Bsdf,
    /// Shading frame: normal-mapped normal, oriented as described in [`shade`].
    pub frame: Frame,
    /// Geometric normal on the same side as `frame.n` (flipped with it).
    pub geo_normal: Vec3,
    /// Emitted radiance towards the ray's origin (zero on the back of single-sided
    /// emitters); an unlit material's is its base colour.
    pub emission: Vec3,
    /// Base colour, for the albedo AOV.
    pub albedo: Vec3,
}

/// Whether the material refracts (rough glass): then the shading frame keeps its
/// outward orientation so the BSDF can tell inside from outside.
pub fn is_refractive(m: &Material) -> bool {
    m.transmission > 0.0 && m.flags & MAT_THIN_WALLED == 0
}

/// The absorbing medium a path travels in after scattering at a surface of `m`
/// from local `wo` to local `wi` (z components; the frame of a refracting material
/// points outwards): refraction into the material enters its volume, refraction
/// out of it leaves into clear space, anything else keeps `current`. Media do not
/// nest: glTF volumes are closed, non-overlapping meshes.
pub fn medium_after(m: &Material, wo_z: f32, wi_z: f32, current: Vec3) -> Vec3 {
    if !is_refractive(m) || wo_z * wi_z >= 0.0 {
        current
    } else if wo_z > 0.0 {
        Vec3::from(m.attenuation)
    } else {
        Vec3::ZERO
    }
}

/// Beer–Lambert transmittance over `distance` (possibly infinite) in a medium
/// of absorption `sigma`; exactly one in clear channels.
pub fn transmittance(sigma: Vec3, distance: f32) -> Vec3 {
    let channel = |s: f32| if s > 0.0 { (-s * distance).exp() } else { 1.0 };
    Vec3::new(channel(sigma.x), channel(sigma.y), channel(sigma.z))
}

/// Base colour alpha (factor × texture) at a hit, for alpha masks and blending.
pub fn material_alpha(scene: &FlatScene, m: &Material, uv0: Vec2, uv1: Vec2) -> f32 {
    m.base_color[3] * sample_slot(scene, &m.base_color_tex, uv0, uv1).w
}

/// Alpha-mask test for traversal: whether a hit on triangle `tri` at (u, v) counts.
pub fn alpha_mask_accepts(scene: &FlatScene, tri: u32, u: f32, v: f32) -> bool {
    let t = &scene.triangles[tri as usize];
    let m = &scene.materials[t.material as usize];
    let (uv0, uv1) = triangle_uvs(scene, tri, u, v);
    material_alpha(scene, m, uv0, uv1) >= m.alpha_cutoff
}

/// The vertex normal at `hit` perturbed by the tangent-space normal map in
/// `slot` (x and y scaled by `scale`); the vertex normal without a map or tangent.
fn normal_mapped(scene: &FlatScene, hit: &SurfaceHit, slot: &TextureSlot, scale: f32) -> Vec3 {
    let t = hit.tangent.xyz();
    // False for a zero or NaN tangent.
    let has_tangent = t.length_squared() > 0.0;
    if slot.texture == NONE || !has_tangent {
        return hit.normal;
    }
    let n_ts = sample_slot(scene, slot, hit.uv0, hit.uv1).xyz() * 2.0 - Vec3::ONE;
    let n_ts = Vec3::new(n_ts.x * scale, n_ts.y * scale, n_ts.z);
    let frame = Frame::from_normal_tangent(hit.normal, t);
    let sign = if hit.tangent.w < 0.0 { -1.0 } else { 1.0 };
    (frame.t * n_ts.x + frame.b * (n_ts.y * sign) + frame.n * n_ts.z).normalize_or(hit.normal)
}

/// KHR_materials_anisotropy at `hit`: the direction in world space (the
/// material's rotation applied to the texture's direction, +x of the tangent
/// frame without a texture) and the strength (factor × texture blue).
/// `normal` is the normal-mapped normal, before the two-sided flip.
fn anisotropy_direction(scene: &FlatScene, hit: &SurfaceHit, m: &Material, normal: Vec3) -> (Vec3, f32) {
    let (direction, strength) = match m.anisotropy_tex.texture {
        NONE => (Vec2::X, 1.0),
        _ => {
            let texel = sample_slot(scene, &m.anisotropy_tex, hit.uv0, hit.uv1);
            (texel.xy() * 2.0 - Vec2::ONE, texel.z)
        }
    };
    let direction = Vec2::from(m.anisotropy_rotation).rotate(direction);
    let frame = Frame::from_normal_tangent(normal, hit.tangent.xyz());
    let sign = if hit.tangent.w < 0.0 { -1.0 } else { 1.0 };
    (frame.t * direction.x + frame.b * (direction.y * sign), m.anisotropy_strength * strength)
}

/// Evaluates the material at `hit`. Opaque and thin materials are two-sided: their
/// frame is flipped to face the incoming ray. Refractive materials keep the
/// outward frame (a ray from inside then sees `wo.z < 0`).
pub fn shade(scene: &FlatScene, hit: &SurfaceHit) -> ShadingPoint {
    let m = &scene.materials[hit.material as usize];
    let tex = |slot: &TextureSlot| sample_slot(scene, slot, hit.uv0, hit.uv1);

    let base = Vec4::from(m.base_color) * tex(&m.base_color_tex);
    let mr = tex(&m.metallic_roughness_tex);
    let roughness = m.roughness * mr.y;
    let metallic = m.metallic * mr.z;
    let transmission = m.transmission * tex(&m.transmission_tex).x;
    let specular = m.specular * tex(&m.specular_tex).w;
    let emissive_side = hit.front_face || m.flags & MAT_DOUBLE_SIDED != 0;
    let emission = match (emissive_side, m.flags & MAT_UNLIT != 0) {
        (false, _) => Vec3::ZERO,
        (true, true) => base.xyz(),
        (true, false) => Vec3::from(m.emission) * tex(&m.emissive_tex).xyz(),
    };

    let mut normal = normal_mapped(scene, hit, &m.normal_tex, m.normal_scale);
    let mut geo_normal = hit.geo_normal;
    // The frame's tangent follows the anisotropy direction where there is one.
    let (mut tangent, anisotropy) = if m.anisotropy_strength > 0.0 {
        anisotropy_direction(scene, hit, m, normal)
    } else {
        (hit.tangent.xyz(), 0.0)
    };
    // The two-sided flip (the coat's normal turns with the surface's).
    let flip = if !hit.front_face && !is_refractive(m) { -1.0 } else { 1.0 };
    normal *= flip;
    geo_normal *= flip;
    tangent *= flip;
    let thin = m.flags & MAT_THIN_WALLED != 0;
    let frame = Frame::from_normal_tangent(normal, tangent);
    let mut bsdf = Bsdf::with_specular(base.xyz(), metallic, roughness, m.ior, transmission, thin, specular);
    if m.specular_color != [1.0; 3] || m.specular_color_tex.texture != NONE {
        bsdf = bsdf.with_specular_color(Vec3::from(m.specular_color) * tex(&m.specular_color_tex).xyz());
    }
    if m.iridescence > 0.0 {
        // Without a thickness texture the film is iridescence_thickness_max thick.
        let (min, max) = (m.iridescence_thickness_min, m.iridescence_thickness_max);
        let thickness = min + (max - min) * tex(&m.iridescence_thickness_tex).y;
        bsdf = bsdf.with_iridescence(m.iridescence * tex(&m.iridescence_tex).x, m.iridescence_ior, thickness);
    }
    if anisotropy > 0.0 {
        bsdf = bsdf.with_anisotropy(anisotropy);
    }
    if m.clearcoat > 0.0 {
        let coat_normal = normal_mapped(scene, hit, &m.clearcoat_normal_tex, m.clearcoat_normal_scale) * flip;
        let weight = m.clearcoat * tex(&m.clearcoat_tex).x;
        let coat_roughness = m.clearcoat_roughness * tex(&m.clearcoat_roughness_tex).y;
        bsdf = bsdf.with_coat(weight, coat_roughness, frame.to_local(coat_normal).normalize_or(Vec3::Z));
    }
    if m.sheen_color != [0.0; 3] {
        let color = Vec3::from(m.sheen_color) * tex(&m.sheen_color_tex).xyz();
        bsdf = bsdf.with_sheen(color, m.sheen_roughness * tex(&m.sheen_roughness_tex).w);
    }
    ShadingPoint { bsdf, frame, geo_normal, emission, albedo: base.xyz() }
}

/// Moves a ray origin off a surface along the geometric normal, far enough that the
/// new ray cannot hit the same surface again through rounding, scaled to the
/// magnitude of `p` ("A Fast and Robust Method for Avoiding Self-Intersection",
/// Wächter & Binder, Ray Tracing Gems, 2019). `n` must point to the side the ray leaves to.
pub fn offset_ray_origin(p: Vec3, n: Vec3) -> Vec3 {
    const ORIGIN: f32 = 1.0 / 32.0;
    const FLOAT_SCALE: f32 = 1.0 / 65536.0;
    const INT_SCALE: f32 = 256.0;
    let offset = |p: f32, n: f32| {
        let of_i = (INT_SCALE * n) as i32;
        let bits = p.to_bits() as i32;
        let p_i = f32::from_bits((bits + if p < 0.0 { -of_i } else { of_i }) as u32);
        if p.abs() < ORIGIN {
            p + FLOAT_SCALE * n
        } else {
            p_i
        }
    };
    Vec3::new(offset(p.x, n.x), offset(p.y, n.y), offset(p.z, n.z))
}
