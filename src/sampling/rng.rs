//! Counter-based random numbers: every number is a pure function of
//! `(seed, pixel x, pixel y, sample index, dimension group)`, so any tile and any
//! sample range can be rendered anywhere, in any order, with the same result.
//!
//! Paths draw from [`sample4`], a low-discrepancy sequence: per dimension group,
//! two pairs of the 2D Sobol sequence (a (0, 2)-sequence: every 2^k consecutive
//! aligned samples stratify the square in every elementary interval), each
//! with its sample order shuffled and its coordinates Owen-scrambled by hashes
//! of (seed, pixel, group) (Burley 2020, "Practical Hash-based Owen
//! Scrambling", JCGT 9(4)). Scrambling keeps the stratification, makes every
//! pixel and every group an independent randomisation, and keeps the estimate
//! unbiased.
//!
//! [`rand4`] is the plain hash `pcg4d` (Jarzynski & Olano, "Hash Functions for
//! GPU Rendering", JCGT 2020): a bijection on four 32-bit words, so distinct
//! inputs never share a random stream; tests and benchmarks use it where
//! independent numbers are wanted. One call yields four numbers; an integrator
//! asks for one group of four per purpose (see the `GROUP_*` layout below).
//! `shaders/rng.wgsl` and `kernels/rng.cuh` spell the same functions.

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

/// Laine and Karras's hash-based permutation as Burley improved it: each
/// output bit depends on the same and the lower input bits only.
#[inline]
fn laine_karras(x: u32, seed: u32) -> u32 {
    let mut x = x.wrapping_add(seed);
    for k in [0x6c50_b47c, 0xb82f_1e52, 0xc7af_e638, 0x8d22_f6e6] {
        x ^= x.wrapping_mul(k);
    }
    x
}

/// Owen scrambling in base 2 (a nested uniform scramble): each bit of `x`, read
/// as a binary fraction, is flipped by a hash of the bits above it.
#[inline]
pub fn owen_scramble(x: u32, seed: u32) -> u32 {
    laine_karras(x.reverse_bits(), seed).reverse_bits()
}

/// The second dimension of the Sobol sequence at `index`, bit-reversed: its
/// generator matrix is Pascal's triangle mod 2, so bit m of the reversed
/// fraction is the parity of the index bits k with m ⊆ k (Lucas's theorem), a
/// superset sum over the bit positions, five shifts instead of a loop over the
/// index's bits. (The first dimension reversed is the index itself.)
#[inline]
fn sobol_second_reversed(index: u32) -> u32 {
    let mut x = index;
    for (shift, mask) in [(1, 0x5555_5555), (2, 0x3333_3333), (4, 0x0f0f_0f0f), (8, 0x00ff_00ff), (16, 0x0000_ffff)] {
        x ^= (x >> shift) & mask;
    }
    x
}

/// Point `sample` of one scrambled 2D Sobol sequence: the sample order shuffled
/// by `shuffle` (which keeps every power-of-two prefix an aligned block of the
/// sequence, so still stratified), the coordinates Owen-scrambled by
/// `scramble`. Both coordinates are formed bit-reversed, where an Owen
/// scramble is one Laine–Karras permutation.
#[inline]
fn sobol_pair(sample: u32, shuffle: u32, scramble: u32) -> [u32; 2] {
    let index = owen_scramble(sample, shuffle);
    [
        laine_karras(index, scramble).reverse_bits(),
        laine_karras(sobol_second_reversed(index), pcg_hash(scramble)).reverse_bits(),
    ]
}

/// Four numbers in [0, 1) for one dimension group of one sample of one pixel,
/// from the low-discrepancy sequence: (u[1], u[2]) is one stratified pair (for
/// 2D uses: a point on a light, a direction), (u[0], u[3]) another.
#[inline]
pub fn sample4(seed: u32, px: u32, py: u32, sample: u32, group: u32) -> [f32; 4] {
    let [a, b, c, d] = pcg4d([px, py, seed ^ pcg_hash(group), SAMPLER_KEY]);
    let [y, z] = sobol_pair(sample, a, b);
    let [x, w] = sobol_pair(sample, c, d);
    [x, y, z, w].map(to_unit_float)
}

/// Fourth word of the sampler's key hash, apart from `rand4`'s inputs.
const SAMPLER_KEY: u32 = 0x50b0_1e55;

/// Dimension group of the camera ray: pixel jitter (u[1], u[2]) and two spare numbers.
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

    /// The first 2^k points of a pair, as 2^k × 2^k integer cells.
    fn pair_cells(seed: u32, px: u32, group: u32, k: u32, pair: [usize; 2]) -> Vec<(u32, u32)> {
        let cells = (1u32 << k) as f32;
        (0..1u32 << k)
            .map(|s| {
                let u = sample4(seed, px, 3, s, group);
                ((u[pair[0]] * cells) as u32, (u[pair[1]] * cells) as u32)
            })
            .collect()
    }

    #[test]
    fn every_power_of_two_prefix_of_a_pair_is_a_stratified_net() {
        // A (0, k, 2)-net: for every split k = i + j, each of the 2^i × 2^j
        // elementary boxes holds exactly one of the first 2^k points. Holds for
        // both pairs of every group, whatever the scrambling; independent
        // random points fail it from k = 2 on almost surely.
        for (seed, px, group) in [(1, 0, GROUP_CAMERA), (7, 12, group_light(3)), (0xdead, 999, group_bsdf(9))] {
            for pair in [[1, 2], [0, 3]] {
                for k in 1..=8 {
                    let points = pair_cells(seed, px, group, k, pair);
                    for i in 0..=k {
                        let mut seen = vec![false; 1 << k];
                        for &(x, y) in &points {
                            let cell = ((x >> (k - i)) << (k - i)) | (y >> i);
                            assert!(!seen[cell as usize], "pair {pair:?}, 2^{k} points, {i}+{} split", k - i);
                            seen[cell as usize] = true;
                        }
                    }
                }
            }
        }
    }

    /// Two numbers drawn for (pixel, sample).
    type Draw = fn(u32, u32) -> (f32, f32);

    #[test]
    fn pairs_groups_and_pixels_are_decorrelated() {
        // Both pairs use one Sobol sequence; shuffled independently, their
        // points must not be correlated (unshuffled they would be equal), nor
        // those of neighbouring groups or pixels.
        let correlation = |f: Draw| {
            let n = 64 * 256;
            let (mut sa, mut sb, mut sab, mut saa, mut sbb) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
            for p in 0..64 {
                for s in 0..256 {
                    let (a, b) = f(p, s);
                    let (a, b) = (a as f64, b as f64);
                    (sa, sb, sab, saa, sbb) = (sa + a, sb + b, sab + a * b, saa + a * a, sbb + b * b);
                }
            }
            let n = n as f64;
            let cov = sab / n - sa / n * sb / n;
            cov / ((saa / n - (sa / n).powi(2)) * (sbb / n - (sb / n).powi(2))).sqrt()
        };
        let cases: [(&str, Draw); 4] = [
            ("pair against pair", |p, s| (sample4(3, p, 0, s, 5)[1], sample4(3, p, 0, s, 5)[0])),
            ("second coordinates", |p, s| (sample4(3, p, 0, s, 5)[2], sample4(3, p, 0, s, 5)[3])),
            ("group against group", |p, s| (sample4(3, p, 0, s, 5)[1], sample4(3, p, 0, s, 6)[1])),
            ("pixel against pixel", |p, s| (sample4(3, p, 0, s, 5)[1], sample4(3, p + 64, 0, s, 5)[1])),
        ];
        for (what, f) in cases {
            let r = correlation(f);
            // 16384 pairs: the standard error of r is about 0.008.
            assert!(r.abs() < 0.04, "{what}: correlation {r}");
        }
    }

    #[test]
    fn owen_scrambling_permutes_and_keeps_leading_bits_nested() {
        // A nested scramble is a bijection in which the top k bits of the
        // output depend on the top k bits of the input only.
        let seed = 0x1234_5678;
        let outputs: std::collections::HashSet<u32> =
            (0..1u32 << 16).map(|x| owen_scramble(x << 16, seed) >> 16).collect();
        assert_eq!(outputs.len(), 1 << 16);
        for x in [0u32, 0x8000_0000, 0xdead_beef] {
            for low in [1u32, 0xffff, 0x00ff_ffff] {
                assert_eq!(owen_scramble(x, seed) >> 24, owen_scramble(x ^ low, seed) >> 24);
            }
        }
        // The Sobol second dimension in natural (not Gray-code) order: 1/2, 3/4, 1/4, 5/8.
        let firsts: Vec<u32> = (1..5).map(|i| sobol_second_reversed(i).reverse_bits()).collect();
        assert_eq!(firsts, [0x8000_0000, 0xc000_0000, 0x4000_0000, 0xa000_0000]);
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
                    for u in rand4(7, x, y, s, group_bsdf(3)).into_iter().chain(sample4(7, x, y, s, group_bsdf(3))) {
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
