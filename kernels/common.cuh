// Shared definitions of every kernel header: the TS_HD qualifier (the per-path
// logic compiles for the GPU with NVRTC and for the host with a plain C++
// compiler, see host/shim.h), vector arithmetic, and float helpers that follow
// Rust's semantics where they differ from C's (NaN handling, saturating casts).
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define TS_DEVICE_CODE 1
#define TS_HD __host__ __device__ __forceinline__
#else
#include "host/shim.h"
#define TS_HD inline
#endif

#define TS_INF __int_as_float(0x7f800000)
#define TS_PI 3.14159265358979323846f
#define TS_FRAC_1_PI 0.318309886183790671538f
#define TS_FRAC_PI_2 1.57079632679489661923f
#define TS_FRAC_PI_4 0.785398163397448309616f
#define TS_FLT_EPSILON 1.19209290e-7f

// float2 / float3 / float4 arithmetic, component-wise, evaluated in the same order as glam.
TS_HD float2 operator+(float2 a, float2 b) { return make_float2(a.x + b.x, a.y + b.y); }
TS_HD float2 operator-(float2 a, float2 b) { return make_float2(a.x - b.x, a.y - b.y); }
TS_HD float2 operator*(float2 a, float s) { return make_float2(a.x * s, a.y * s); }
TS_HD float2 operator*(float s, float2 a) { return make_float2(s * a.x, s * a.y); }

TS_HD float3 operator+(float3 a, float3 b) { return make_float3(a.x + b.x, a.y + b.y, a.z + b.z); }
TS_HD float3 operator-(float3 a, float3 b) { return make_float3(a.x - b.x, a.y - b.y, a.z - b.z); }
TS_HD float3 operator-(float3 a) { return make_float3(-a.x, -a.y, -a.z); }
TS_HD float3 operator*(float3 a, float3 b) { return make_float3(a.x * b.x, a.y * b.y, a.z * b.z); }
TS_HD float3 operator*(float3 a, float s) { return make_float3(a.x * s, a.y * s, a.z * s); }
TS_HD float3 operator*(float s, float3 a) { return make_float3(s * a.x, s * a.y, s * a.z); }
TS_HD float3 operator/(float3 a, float s) { return make_float3(a.x / s, a.y / s, a.z / s); }
TS_HD float3 operator/(float3 a, float3 b) { return make_float3(a.x / b.x, a.y / b.y, a.z / b.z); }
TS_HD void operator+=(float3& a, float3 b) { a = a + b; }
TS_HD void operator*=(float3& a, float3 b) { a = a * b; }
TS_HD void operator/=(float3& a, float s) { a = a / s; }

TS_HD float4 operator+(float4 a, float4 b) { return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w); }
TS_HD float4 operator*(float4 a, float4 b) { return make_float4(a.x * b.x, a.y * b.y, a.z * b.z, a.w * b.w); }
TS_HD float4 operator*(float4 a, float s) { return make_float4(a.x * s, a.y * s, a.z * s, a.w * s); }

TS_HD float3 splat3(float s) { return make_float3(s, s, s); }
TS_HD float3 xyz(float4 v) { return make_float3(v.x, v.y, v.z); }
TS_HD float3 load3(const float3& v) { return v; }
TS_HD float dot(float3 a, float3 b) { return (a.x * b.x) + (a.y * b.y) + (a.z * b.z); }
TS_HD float length_squared(float3 a) { return dot(a, a); }
TS_HD float length(float3 a) { return sqrtf(dot(a, a)); }
TS_HD float length_squared(float2 a) { return (a.x * a.x) + (a.y * a.y); }
TS_HD float3 cross(float3 a, float3 b) {
    return make_float3(a.y * b.z - b.y * a.z, a.z * b.x - b.z * a.x, a.x * b.y - b.x * a.y);
}
TS_HD bool ts_isfinite(float x) { return fabsf(x) < TS_INF; }
TS_HD bool is_finite3(float3 v) { return ts_isfinite(v.x) && ts_isfinite(v.y) && ts_isfinite(v.z); }
// glam's normalize: multiply by the reciprocal length.
TS_HD float3 normalize(float3 a) { return a * (1.0f / length(a)); }
// glam's normalize_or: the fallback when the reciprocal length is zero or not finite.
TS_HD float3 normalize_or(float3 a, float3 fallback) {
    float rcp = 1.0f / length(a);
    return (ts_isfinite(rcp) && rcp > 0.0f) ? a * rcp : fallback;
}
TS_HD float max_element(float3 v) {
    float m = v.x > v.y ? v.x : v.y;
    return m > v.z ? m : v.z;
}
TS_HD float min_element(float3 v) {
    float m = v.x < v.y ? v.x : v.y;
    return m < v.z ? m : v.z;
}
// Rust's f32::clamp: NaN stays NaN.
TS_HD float ts_clamp(float x, float lo, float hi) {
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return x;
}
// Rust's `as i32` / `as u32` from f32: saturating, NaN to 0 (C's casts are undefined there).
TS_HD int sat_f2i(float x) {
    if (!(x == x)) return 0;
    if (x <= -2147483648.0f) return (int)0x80000000u;
    if (x >= 2147483648.0f) return 0x7fffffff;
    return (int)x;
}
TS_HD unsigned sat_f2u(float x) {
    if (!(x > 0.0f)) return 0u;
    if (x >= 4294967296.0f) return 0xffffffffu;
    return (unsigned)x;
}
// Rust's i32::rem_euclid for n > 0.
TS_HD int rem_euclid(int i, int n) {
    int r = i % n;
    return r < 0 ? r + n : r;
}
TS_HD int saturating_add(int a, int b) {
    long long s = (long long)a + (long long)b;
    return s > 0x7fffffffLL ? 0x7fffffff : (s < -0x80000000LL ? (int)0x80000000u : (int)s);
}

// Read-only global loads through the read-only data cache on the device; plain
// loads on the host. Structs are loaded field by field (or see load_node etc.).
#if defined(__CUDA_ARCH__)
#define TS_LDG(p) __ldg(p)
#else
#define TS_LDG(p) (*(p))
#endif
TS_HD float ldg(const float* p) { return TS_LDG(p); }
TS_HD unsigned ldg(const unsigned* p) { return TS_LDG(p); }
TS_HD float4 ldg(const float4* p) { return TS_LDG(p); }
TS_HD uint4 ldg(const uint4* p) { return TS_LDG(p); }
template <typename T>
TS_HD T ldg(const T* p) {
    return *p;
}
