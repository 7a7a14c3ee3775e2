// Numeric helpers that the Rust reference gets from f32 and glam. Infinities
// and NaNs are tested on the bits, so no compiler may fold the tests away.

const PI: f32 = 3.14159265358979323846;
const FRAC_1_PI: f32 = 0.318309886183790671538;
const FRAC_PI_2: f32 = 1.57079632679489661923;
const FRAC_PI_4: f32 = 0.785398163397448309616;

// f32::INFINITY (WGSL has no literal for it).
fn inf() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn is_finite3(v: vec3<f32>) -> bool {
    return is_finite(v.x) && is_finite(v.y) && is_finite(v.z);
}

// +∞ or −∞.
fn is_inf(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

// Whether the sign bit is set (also for −0 and NaNs), as f32::is_sign_negative.
fn sign_bit(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x80000000u) != 0u;
}

fn max_element(v: vec3<f32>) -> f32 {
    return max(max(v.x, v.y), v.z);
}

// glam's `normalize_or`: `v` scaled to unit length, or `fallback` when its
// length is zero or not finite.
fn normalize_or(v: vec3<f32>, fallback: vec3<f32>) -> vec3<f32> {
    let rcp = 1.0 / length(v);
    if is_finite(rcp) && rcp > 0.0 {
        return v * rcp;
    }
    return fallback;
}
