// Mirrors of the flat scene (src/scene/flat.rs) and of PixelSums
// (src/render/task.rs), byte for byte: tests/wgsl_layout.rs reflects these
// structs with naga and checks every size and member offset against Rust.
// `[f32; 3]` followed by a 4-byte scalar is a vec3 (align 16) and that scalar.

struct BvhNode {
    bmin: vec3<f32>,
    index: u32,
    bmax: vec3<f32>,
    count: u32,
}

struct Triangle {
    v0: vec3<f32>,
    material: u32,
    e1: vec3<f32>,
    light: u32,
    e2: vec3<f32>,
    flags: u32,
}

struct TriangleVertices {
    v: vec3<u32>,
    _pad: u32,
}

struct Vertex {
    normal: vec3<f32>,
    _pad: f32,
    tangent: vec4<f32>,
    uv0: vec2<f32>,
    uv1: vec2<f32>,
}

struct TextureSlot {
    texture: u32,
    texcoord: u32,
    _pad: vec2<u32>,
    row_u: vec4<f32>,
    row_v: vec4<f32>,
}

struct Material {
    base_color: vec4<f32>,
    emission: vec3<f32>,
    metallic: f32,
    roughness: f32,
    ior: f32,
    transmission: f32,
    alpha_cutoff: f32,
    normal_scale: f32,
    flags: u32,
    _pad: vec2<u32>,
    attenuation: vec3<f32>,
    specular: f32,
    clearcoat: f32,
    clearcoat_roughness: f32,
    clearcoat_normal_scale: f32,
    _pad2: u32,
    sheen_color: vec3<f32>,
    sheen_roughness: f32,
    anisotropy_rotation: vec2<f32>,
    anisotropy_strength: f32,
    _pad3: u32,
    specular_color: vec3<f32>,
    _pad4: u32,
    iridescence: f32,
    iridescence_ior: f32,
    iridescence_thickness_min: f32,
    iridescence_thickness_max: f32,
    base_color_tex: TextureSlot,
    metallic_roughness_tex: TextureSlot,
    normal_tex: TextureSlot,
    emissive_tex: TextureSlot,
    transmission_tex: TextureSlot,
    specular_tex: TextureSlot,
    clearcoat_tex: TextureSlot,
    clearcoat_roughness_tex: TextureSlot,
    clearcoat_normal_tex: TextureSlot,
    sheen_color_tex: TextureSlot,
    sheen_roughness_tex: TextureSlot,
    anisotropy_tex: TextureSlot,
    specular_color_tex: TextureSlot,
    iridescence_tex: TextureSlot,
    iridescence_thickness_tex: TextureSlot,
}

struct Texture {
    offset: u32,
    width: u32,
    height: u32,
    flags: u32,
}

struct Light {
    position: vec3<f32>,
    kind: u32,
    direction: vec3<f32>,
    index: u32,
    intensity: vec3<f32>,
    pick_pdf: f32,
    cos_outer: f32,
    cos_inner: f32,
    range: f32,
    _pad: u32,
}

struct Camera {
    origin: vec3<f32>,
    kind: u32,
    right: vec3<f32>,
    width: u32,
    up: vec3<f32>,
    height: u32,
    forward: vec3<f32>,
    _pad: u32,
}

struct SceneHeader {
    camera: Camera,
    bounds_min: vec3<f32>,
    num_lights: u32,
    bounds_max: vec3<f32>,
    env_light: u32,
    env_color: vec3<f32>,
    env_flags: u32,
    env_width: u32,
    env_height: u32,
    num_triangles: u32,
    num_nodes: u32,
}

struct MotionHeader {
    keys: u32,
    camera_keys: u32,
    static_triangles: u32,
    moving_triangles: u32,
    static_vertices: u32,
    moving_vertices: u32,
    moving_nodes: u32,
    _pad: u32,
}

struct PixelSums {
    radiance: vec3<f32>,
    count: u32,
    radiance_sq: vec3<f32>,
    depth: f32,
    albedo: vec3<f32>,
    alpha: f32,
    normal: vec3<f32>,
    _pad: f32,
}
