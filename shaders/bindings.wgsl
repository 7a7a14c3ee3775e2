// Resources of the path tracer. Group 0 is the uploaded scene (the FlatScene
// arrays as they are; `cdfs` holds light_cdf, env_marginal_cdf and
// env_conditional_cdf one after another; `tables` holds the constant tables of
// every scene, four entries per vec4: the sRGB decoding table of
// src/scene/texture.rs from SRGB_TABLE on, the GGX albedo table of
// src/sampling/ggx_albedo.rs from GGX_ALBEDO_TABLE on, the sheen albedo table of
// src/sampling/sheen.rs from SHEEN_ALBEDO_TABLE on: one uniform, as some
// drivers, Mesa's lavapipe among them, fail with a third uniform in a group).
// Motion blur: `motion` holds the MotionHeader and the camera keys; the motion
// keys of the moving triangles, vertices and BVH nodes follow the frame's own
// entries in `triangles`, `vertices` and `nodes` (see src/render/motion.rs).
// Group 1 is the band of the tile being
// rendered. Empty arrays are uploaded as one zeroed element.

@group(0) @binding(0) var<uniform> header: SceneHeader;
@group(0) @binding(1) var<storage, read> nodes: array<BvhNode>;
@group(0) @binding(2) var<storage, read> triangles: array<Triangle>;
@group(0) @binding(3) var<storage, read> triangle_vertices: array<TriangleVertices>;
@group(0) @binding(4) var<storage, read> vertices: array<Vertex>;
@group(0) @binding(5) var<storage, read> materials: array<Material>;
@group(0) @binding(6) var<storage, read> textures: array<Texture>;
@group(0) @binding(7) var<storage, read> texels: array<u32>;
@group(0) @binding(8) var<storage, read> lights: array<Light>;
@group(0) @binding(9) var<storage, read> cdfs: array<f32>;
@group(0) @binding(10) var<storage, read> env_texels: array<vec4<f32>>;
@group(0) @binding(11) var<uniform> tables: array<vec4<f32>, TABLES_VEC4S>;
struct Motion {
    header: MotionHeader,
    cameras: array<Camera>,
}
@group(0) @binding(12) var<storage, read> motion: Motion;

@group(1) @binding(0) var<uniform> params: DispatchParams;
@group(1) @binding(1) var<storage, read_write> pixel_sums: array<PixelSums>;
// Rays traced per pixel of the band, as a 64-bit count (low word, high word).
@group(1) @binding(2) var<storage, read_write> ray_counts: array<vec2<u32>>;

// Entry i of `tables`.
fn table_at(i: u32) -> f32 {
    return tables[i / 4u][i % 4u];
}
