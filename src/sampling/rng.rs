//! Counter-based random numbers: every number is a pure function of
//! `(seed, pixel x, pixel y, sample index, dimension group)`, so any tile and any
//! sample range can be rendered anywhere, in any order, with the same result.
//!
//! The hash is `pcg4d` (Jarzynski & Olano, "Hash Functions for GPU Rendering",
//! JCGT 2020): a bijection on four 32-bit words, so distinct inputs never share a
//! random stream. One call yields four numbers; an integrator asks for one group of
//! four per purpose (see the `GROUP_*` layout below). `shaders/rng.wgsl` and
//! `kernels/rng.cuh` spell the same functions.

/// One round of PCG (used to mix the seed and frame and to spread dimension groups).
#[inline]
pub fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The 4D PCG hash.
#[inline]
pub fn pcg4d(v: [u32; 4]) -> [u32; 4] {
    let [mut x, mut y, mut z, mut w] = v.map(|c| c.wrapping_mul(1_664_525).wrapping_add(1_013_904_223));
    x = x.wrapping_add(y.wrapping_mul(w));
    y = y.wrapping_add(z.wrapping_mul(x));
    z = z.wrapping_add(x.wrapping_mul(y));
    w = w.wrapping_add(y.wrapping_mul(z));
    x ^= x >> 16;
    y ^= y >> 16;
    z ^= z >> 16;
    w ^= w >> 16;
    x = x.wrapping_add(y.wrapping_mul(w));
    y = y.wrapping_add(z.wrapping_mul(x));
    z = z.wrapping_add(x.wrapping_mul(y));
    w = w.wrapping_add(y.wrapping_mul(z));
    [x, y, z, w]
}

/// The seed a frame renders with: different frames of an animation get independent
/// noise, while the same (seed, frame) always gives the same image.
#[inline]
pub fn frame_seed(seed: u32, frame: u32) -> u32 {
    pcg_hash(seed ^ pcg_hash(frame))
}

/// Maps 32 random bits to a float in [0, 1) with 24 bits of precision (exact in
/// every backend).
#[inline]
pub fn to_unit_float(bits: u32) -> f32 {
    (bits >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Four uniform numbers in [0, 1) for one dimension group of one sample of one pixel.
#[inline]
pub fn rand4(seed: u32, px: u32, py: u32, sample: u32, group: u32) -> [f32; 4] {
    pcg4d([px, py, sample, seed ^ pcg_hash(group)]).map(to_unit_float)
}

/// Dimension group of the camera ray: pixel jitter (x, y) and two spare numbers.
pub const GROUP_CAMERA: u32 = 0;
/// Dimension group of a camera sample's time over the shutter (motion blur), apart
/// from every other group so that drawing it changes no other number of the path.
pub const GROUP_TIME: u32 = 0x4000_0000;
/// Number of dimension groups each bounce uses.
pub const GROUPS_PER_BOUNCE: u32 = 2;

/// Group for light sampling at `bounce`: light choice, two numbers for the point
/// on the light, one spare.
#[inline]
pub fn group_light(bounce: u32) -> u32 {
    1 + GROUPS_PER_BOUNCE * bounce
}

/// Group for BSDF sampling at `bounce`: lobe choice, two numbers for the
/// direction, one for Russian roulette (and stochastic alpha).
#[inline]
pub fn group_bsdf(bounce: u32) -> u32 {
    2 + GROUPS_PER_BOUNCE * bounce
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcg_hash_known_values() {
        // Reference values computed from the published GLSL definition.
        assert_eq!(pcg_hash(0), 129_708_002);
        assert_ne!(pcg_hash(1), pcg_hash(2));
    }

    #[test]
    fn unit_floats_stay_below_one() {
        assert_eq!(to_unit_float(0), 0.0);
        assert!(to_unit_float(u32::MAX) < 1.0);
    }

    #[test]
    fn streams_are_uniform_and_independent_of_order() {
        // Mean and variance of a uniform variable over many pixels and samples.
        let mut sum = 0.0f64;
        let mut sum_sq = 0.0f64;
        let mut n = 0.0;
        for y in 0..32 {
            for x in 0..32 {
                for s in 0..16 {
                    for u in rand4(7, x, y, s, group_bsdf(3)) {
                        sum += u as f64;
                        sum_sq += (u as f64) * (u as f64);
                        n += 1.0;
                    }
                }
            }
        }
        let mean = sum / n;
        let var = sum_sq / n - mean * mean;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "variance {var}");
        // Same inputs, same numbers; a different group, different numbers.
        assert_eq!(rand4(1, 2, 3, 4, 5), rand4(1, 2, 3, 4, 5));
        assert_ne!(rand4(1, 2, 3, 4, 5), rand4(1, 2, 3, 4, 6));
    }
}
