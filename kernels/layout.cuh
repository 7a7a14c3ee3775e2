// CUDA mirror of the flat scene (src/scene/flat.rs) and of the structs the CUDA
// backend passes to its kernels (src/backend/cuda/params.rs). The Rust side
// generates a static_assert for the size of every struct, the offset of every
// field and the value of every constant (`layout_checks()`), and every compile
// of these kernels (NVRTC at run time, the host tests) includes them, so a
// mismatch is a compile error, never a wrong image.
#pragma once

#include "common.cuh"

// offsetof as a constant expression: NVRTC lacks __builtin_offsetof but has EDG's __INTADDR__.
#if defined(__CUDACC_RTC__)
#define TS_OFFSETOF(type, field) ((unsigned long)__INTADDR__(&(((type*)0)->field)))
#else
#define TS_OFFSETOF(type, field) __builtin_offsetof(type, field)
#endif

static constexpr unsigned NONE = 0xffffffffu;
static constexpr unsigned TRI_ALPHA_TESTED = 1u;
static constexpr unsigned MAT_ALPHA_MASK = 1u;
static constexpr unsigned MAT_ALPHA_BLEND = 2u;
static constexpr unsigned MAT_DOUBLE_SIDED = 4u;
static constexpr unsigned MAT_THIN_WALLED = 8u;
static constexpr unsigned MAT_UNLIT = 16u;
static constexpr unsigned TEX_SRGB = 1u;
static constexpr unsigned TEX_NEAREST = 2u;
static constexpr unsigned WRAP_REPEAT = 0u;
static constexpr unsigned WRAP_CLAMP = 1u;
static constexpr unsigned WRAP_MIRROR = 2u;
static constexpr unsigned WRAP_S_SHIFT = 8u;
static constexpr unsigned WRAP_T_SHIFT = 10u;
static constexpr unsigned LIGHT_POINT = 0u;
static constexpr unsigned LIGHT_SPOT = 1u;
static constexpr unsigned LIGHT_DIRECTIONAL = 2u;
static constexpr unsigned LIGHT_TRIANGLE = 3u;
static constexpr unsigned LIGHT_ENVIRONMENT = 4u;
static constexpr unsigned CAMERA_PERSPECTIVE = 0u;
static constexpr unsigned CAMERA_ORTHOGRAPHIC = 1u;
static constexpr unsigned ENV_MAP = 1u;

struct BvhNode {
    float3 bmin;
    unsigned index;
    float3 bmax;
    unsigned count;
};

struct Triangle {
    float3 v0;
    unsigned material;
    float3 e1;
    unsigned light;
    float3 e2;
    unsigned flags;
};

struct TriangleVertices {
    unsigned v[3];
    unsigned _pad;
};

struct Vertex {
    float3 normal;
    float _pad;
    float4 tangent;
    float2 uv0;
    float2 uv1;
};

struct TextureSlot {
    unsigned texture;
    unsigned texcoord;
    unsigned _pad[2];
    float4 row_u;
    float4 row_v;
};

struct Material {
    float4 base_color;
    float3 emission;
    float metallic;
    float roughness;
    float ior;
    float transmission;
    float alpha_cutoff;
    float normal_scale;
    unsigned flags;
    unsigned _pad[2];
    float3 attenuation;
    float specular;
    float clearcoat;
    float clearcoat_roughness;
    float clearcoat_normal_scale;
    unsigned _pad2;
    float3 sheen_color;
    float sheen_roughness;
    float2 anisotropy_rotation;
    float anisotropy_strength;
    unsigned _pad3;
    float3 specular_color;
    unsigned _pad4;
    float iridescence;
    float iridescence_ior;
    float iridescence_thickness_min;
    float iridescence_thickness_max;
    TextureSlot base_color_tex;
    TextureSlot metallic_roughness_tex;
    TextureSlot normal_tex;
    TextureSlot emissive_tex;
    TextureSlot transmission_tex;
    TextureSlot specular_tex;
    TextureSlot clearcoat_tex;
    TextureSlot clearcoat_roughness_tex;
    TextureSlot clearcoat_normal_tex;
    TextureSlot sheen_color_tex;
    TextureSlot sheen_roughness_tex;
    TextureSlot anisotropy_tex;
    TextureSlot specular_color_tex;
    TextureSlot iridescence_tex;
    TextureSlot iridescence_thickness_tex;
};

struct Texture {
    unsigned offset;
    unsigned width;
    unsigned height;
    unsigned flags;
};

struct Light {
    float3 position;
    unsigned kind;
    float3 direction;
    unsigned index;
    float3 intensity;
    float pick_pdf;
    float cos_outer;
    float cos_inner;
    float range;
    unsigned _pad;
};

struct Camera {
    float3 origin;
    unsigned kind;
    float3 right;
    unsigned width;
    float3 up;
    unsigned height;
    float3 forward;
    unsigned _pad;
};

struct SceneHeader {
    Camera camera;
    float3 bounds_min;
    unsigned num_lights;
    float3 bounds_max;
    unsigned env_light;
    float3 env_color;
    unsigned env_flags;
    unsigned env_width;
    unsigned env_height;
    unsigned num_triangles;
    unsigned num_nodes;
};

// Motion blur: how the moving part of a frame is laid out (flat.rs: MotionHeader).
struct MotionHeader {
    unsigned keys;
    unsigned camera_keys;
    unsigned static_triangles;
    unsigned moving_triangles;
    unsigned static_vertices;
    unsigned moving_vertices;
    unsigned moving_nodes;
    unsigned _pad;
};

// Per-pixel sums over samples (src/render/task.rs), what the accumulation writes.
struct PixelSums {
    float3 radiance;
    unsigned count;
    float3 radiance_sq;
    float depth;
    float3 albedo;
    float alpha;
    float3 normal;
    float _pad;
};

// The flat scene as the kernels see it: the header by value and a device
// pointer per array (params.rs: DeviceScene). `srgb_to_linear` is the
// 256-entry decoding table the CPU reference uses, uploaded so both agree.
struct SceneView {
    SceneHeader header;
    const BvhNode* nodes;
    const Triangle* triangles;
    const TriangleVertices* triangle_vertices;
    const Vertex* vertices;
    const Material* materials;
    const Texture* textures;
    const unsigned* texels;
    const Light* lights;
    const float* light_cdf;
    const float4* env_texels;
    const float* env_marginal_cdf;
    const float* env_conditional_cdf;
    const float* srgb_to_linear;
    unsigned lights_len;
    unsigned _pad[3];
    // Motion keys (empty for a frame that holds still).
    MotionHeader motion;
    const Camera* motion_cameras;
    const BvhNode* motion_nodes;
    const Triangle* motion_triangles;
    const Vertex* motion_vertices;
};
