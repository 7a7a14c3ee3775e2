// What the integrator knows about a hit, as src/render/surface.rs: interpolated
// attributes, the material with its textures and normal map, alpha, and the
// ray-origin offset.

struct SurfaceHit {
    position: vec3<f32>,
    // Geometric normal as wound (not flipped towards the ray).
    geo_normal: vec3<f32>,
    // Interpolated vertex normal (not flipped).
    normal: vec3<f32>,
    // Interpolated tangent (xyz) and bitangent sign (w).
    tangent: vec4<f32>,
    uv0: vec2<f32>,
    uv1: vec2<f32>,
    material: u32,
    // Whether the ray arrived on the side the geometric normal points to.
    front_face: bool,
}

fn surface_hit(hit: Hit, ray_dir: vec3<f32>, at: Instant) -> SurfaceHit {
    let tri = triangle_at(hit.tri, at);
    let geo_normal = normalize_or(cross(tri.e1, tri.e2), vec3<f32>(0.0, 0.0, 1.0));
    let idx = triangle_vertices[hit.tri].v;
    let a = vertex_at(idx.x, at);
    let b = vertex_at(idx.y, at);
    let c = vertex_at(idx.z, at);
    let w = 1.0 - hit.u - hit.v;
    let normal = normalize_or(a.normal * w + b.normal * hit.u + c.normal * hit.v, geo_normal);
    return SurfaceHit(
        tri.v0 + tri.e1 * hit.u + tri.e2 * hit.v,
        geo_normal,
        normal,
        a.tangent * w + b.tangent * hit.u + c.tangent * hit.v,
        a.uv0 * w + b.uv0 * hit.u + c.uv0 * hit.v,
        a.uv1 * w + b.uv1 * hit.u + c.uv1 * hit.v,
        tri.material,
        dot(ray_dir, geo_normal) < 0.0,
    );
}

struct ShadingPoint {
    bsdf: Bsdf,
    // Normal-mapped shading frame (flipped towards the ray unless refractive).
    frame: Frame,
    // Geometric normal on the same side as frame.n.
    geo_normal: vec3<f32>,
    // Emitted radiance towards the ray's origin.
    emission: vec3<f32>,
    // Base colour, for the albedo AOV.
    albedo: vec3<f32>,
}

fn is_refractive(m: Material) -> bool {
    return m.transmission > 0.0 && (m.flags & MAT_THIN_WALLED) == 0u;
}

// The absorbing medium after scattering at m from local wo to local wi (surface.rs: medium_after).
fn medium_after(m: Material, wo_z: f32, wi_z: f32, current: vec3<f32>) -> vec3<f32> {
    if !is_refractive(m) || wo_z * wi_z >= 0.0 {
        return current;
    }
    return select(vec3<f32>(0.0), m.attenuation, wo_z > 0.0);
}

// Beer–Lambert transmittance over `distance` (possibly infinite); one in clear
// channels. WGSL leaves exp(−∞) to the implementation, so an infinite distance
// is spelled out.
fn transmittance(sigma: vec3<f32>, distance: f32) -> vec3<f32> {
    var t = vec3<f32>(0.0);
    if is_finite(distance) {
        t = exp(-sigma * distance);
    }
    return select(t, vec3<f32>(1.0), sigma <= vec3<f32>(0.0));
}

fn material_alpha(m: Material, uv0: vec2<f32>, uv1: vec2<f32>) -> f32 {
    return m.base_color.w * sample_slot(m.base_color_tex, uv0, uv1).w;
}

// Alpha-mask test for traversal: whether a hit on `tri` at (u, v) counts.
fn alpha_mask_accepts(tri: u32, u: f32, v: f32) -> bool {
    let m = materials[triangles[tri].material];
    let uvs = triangle_uvs(tri, u, v);
    return material_alpha(m, uvs.uv0, uvs.uv1) >= m.alpha_cutoff;
}

// The vertex normal perturbed by the tangent-space normal map in `slot` (surface.rs: normal_mapped).
fn normal_mapped(hit: SurfaceHit, slot: TextureSlot, scale: f32) -> vec3<f32> {
    let t = hit.tangent.xyz;
    if slot.texture == NONE || !(dot(t, t) > 0.0) {
        return hit.normal;
    }
    let n_map = sample_slot(slot, hit.uv0, hit.uv1).xyz * 2.0 - vec3<f32>(1.0);
    let n_ts = vec3<f32>(n_map.x * scale, n_map.y * scale, n_map.z);
    let frame = frame_from_normal_tangent(hit.normal, t);
    let bitangent_sign = select(1.0, -1.0, hit.tangent.w < 0.0);
    return normalize_or(frame.t * n_ts.x + frame.b * (n_ts.y * bitangent_sign) + frame.n * n_ts.z, hit.normal);
}

// KHR_materials_anisotropy at a hit: the world direction in xyz, the strength
// in w (surface.rs: anisotropy_direction). `normal` is before the two-sided flip.
fn anisotropy_direction(hit: SurfaceHit, m: Material, normal: vec3<f32>) -> vec4<f32> {
    var direction = vec2<f32>(1.0, 0.0);
    var strength = 1.0;
    if m.anisotropy_tex.texture != NONE {
        let texel = sample_slot(m.anisotropy_tex, hit.uv0, hit.uv1);
        direction = texel.xy * 2.0 - vec2<f32>(1.0);
        strength = texel.z;
    }
    let r = m.anisotropy_rotation;
    direction = vec2<f32>(r.x * direction.x - r.y * direction.y, r.y * direction.x + r.x * direction.y);
    let frame = frame_from_normal_tangent(normal, hit.tangent.xyz);
    let bitangent_sign = select(1.0, -1.0, hit.tangent.w < 0.0);
    let world = frame.t * direction.x + frame.b * (direction.y * bitangent_sign);
    return vec4<f32>(world, m.anisotropy_strength * strength);
}

fn shade(hit: SurfaceHit) -> ShadingPoint {
    let m = materials[hit.material];
    let base = m.base_color * sample_slot(m.base_color_tex, hit.uv0, hit.uv1);
    let mr = sample_slot(m.metallic_roughness_tex, hit.uv0, hit.uv1);
    let roughness = m.roughness * mr.y;
    let metallic = m.metallic * mr.z;
    let transmission = m.transmission * sample_slot(m.transmission_tex, hit.uv0, hit.uv1).x;
    let specular = m.specular * sample_slot(m.specular_tex, hit.uv0, hit.uv1).w;
    let emissive_side = hit.front_face || (m.flags & MAT_DOUBLE_SIDED) != 0u;
    var emission = vec3<f32>(0.0);
    if emissive_side && (m.flags & MAT_UNLIT) != 0u {
        emission = base.xyz;
    } else if emissive_side {
        emission = m.emission * sample_slot(m.emissive_tex, hit.uv0, hit.uv1).xyz;
    }

    // The two-sided flip (the coat's normal turns with the surface's).
    let flip = select(1.0, -1.0, !hit.front_face && !is_refractive(m));
    let mapped = normal_mapped(hit, m.normal_tex, m.normal_scale);
    // The frame's tangent follows the anisotropy direction where there is one.
    var anisotropy = vec4<f32>(hit.tangent.xyz, 0.0);
    if m.anisotropy_strength > 0.0 {
        anisotropy = anisotropy_direction(hit, m, mapped);
    }
    let normal = mapped * flip;
    let geo_normal = hit.geo_normal * flip;
    let tangent = anisotropy.xyz * flip;
    let thin = (m.flags & MAT_THIN_WALLED) != 0u;
    let frame = frame_from_normal_tangent(normal, tangent);
    var bsdf = bsdf_new(base.xyz, metallic, roughness, m.ior, transmission, thin, specular);
    if any(m.specular_color != vec3<f32>(1.0)) || m.specular_color_tex.texture != NONE {
        let color = m.specular_color * sample_slot(m.specular_color_tex, hit.uv0, hit.uv1).xyz;
        bsdf = bsdf_with_specular_color(bsdf, color);
    }
    if m.iridescence > 0.0 {
        // Without a thickness texture the film is iridescence_thickness_max thick.
        let lo = m.iridescence_thickness_min;
        let hi = m.iridescence_thickness_max;
        let thickness = lo + (hi - lo) * sample_slot(m.iridescence_thickness_tex, hit.uv0, hit.uv1).y;
        let factor = m.iridescence * sample_slot(m.iridescence_tex, hit.uv0, hit.uv1).x;
        bsdf = bsdf_with_iridescence(bsdf, factor, m.iridescence_ior, thickness);
    }
    if anisotropy.w > 0.0 {
        bsdf = bsdf_with_anisotropy(bsdf, anisotropy.w);
    }
    if m.clearcoat > 0.0 {
        let coat_normal = normal_mapped(hit, m.clearcoat_normal_tex, m.clearcoat_normal_scale) * flip;
        let weight = m.clearcoat * sample_slot(m.clearcoat_tex, hit.uv0, hit.uv1).x;
        let coat_roughness = m.clearcoat_roughness * sample_slot(m.clearcoat_roughness_tex, hit.uv0, hit.uv1).y;
        let local = normalize_or(frame_to_local(frame, coat_normal), vec3<f32>(0.0, 0.0, 1.0));
        bsdf = bsdf_with_coat(bsdf, weight, coat_roughness, local);
    }
    if any(m.sheen_color != vec3<f32>(0.0)) {
        let color = m.sheen_color * sample_slot(m.sheen_color_tex, hit.uv0, hit.uv1).xyz;
        let roughness = m.sheen_roughness * sample_slot(m.sheen_roughness_tex, hit.uv0, hit.uv1).w;
        bsdf = bsdf_with_sheen(bsdf, color, roughness);
    }
    return ShadingPoint(bsdf, frame, geo_normal, emission, base.xyz);
}

// Moves a ray origin off a surface along n, the side the ray leaves to
// (Wächter & Binder, Ray Tracing Gems, 2019).
fn offset_ray_origin(p: vec3<f32>, n: vec3<f32>) -> vec3<f32> {
    return vec3<f32>(offset_coordinate(p.x, n.x), offset_coordinate(p.y, n.y), offset_coordinate(p.z, n.z));
}

fn offset_coordinate(p: f32, n: f32) -> f32 {
    let of_i = i32(256.0 * n);
    let p_i = bitcast<f32>(bitcast<i32>(p) + select(of_i, -of_i, p < 0.0));
    return select(p_i, p + (1.0 / 65536.0) * n, abs(p) < 1.0 / 32.0);
}
