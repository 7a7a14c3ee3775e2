//! The film: accumulates `TileResult`s into a full frame and turns the sums into
//! per-pixel means (beauty and AOVs).
//!
//! Sums are kept in f64. Every contribution is an f32 (24-bit mantissa), so the
//! f64 sum of k contributions to a pixel is exact, and therefore independent of
//! the order tiles and sample ranges arrive in, while the contributions lie
//! within a factor of 2^(28 - log2 k) of each other (2^24 for 16 sample ranges).
//! Only a pixel mixing wildly different magnitudes (a firefly next to
//! near-black) can differ in the last bit of its f64 sum.

use std::collections::HashSet;
use std::fmt;

use glam::Vec3;

use crate::render::task::{PixelSums, SampleRange, Tile, TileResult};
use crate::scene::luminance;

/// A finished frame: per-pixel means, row-major from the top-left.
///
/// From [`Film::image`] every field holds `width × height` entries. An image read
/// from a file may have empty AOV fields where the file has no such layer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameImage {
    pub width: u32,
    pub height: u32,
    /// Linear RGB radiance (mean over the pixel's samples) and alpha (the fraction
    /// of camera rays that hit geometry).
    pub color: Vec<[f32; 4]>,
    /// Mean albedo over all samples.
    pub albedo: Vec<[f32; 3]>,
    /// World-space shading normal of the first hit: the normalised mean, zero
    /// where no camera ray hit anything.
    pub normal: Vec<[f32; 3]>,
    /// Mean distance from the camera to the first hit over the camera rays that
    /// hit (0 where nothing was hit).
    pub depth: Vec<f32>,
    /// Samples taken per pixel.
    pub samples: Vec<f32>,
    /// Unbiased per-channel sample variance of the radiance (of one sample, not of
    /// the mean; 0 with fewer than two samples).
    pub variance: Vec<[f32; 3]>,
}

impl FrameImage {
    /// Number of pixels, `width × height`.
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Mean Rec. 709 luminance of the radiance over all pixels (0 for no pixels).
    pub fn mean_luminance(&self) -> f32 {
        let sum: f64 = self.color.iter().map(|[r, g, b, _]| f64::from(luminance(Vec3::new(*r, *g, *b)))).sum();
        (sum / self.color.len().max(1) as f64) as f32
    }
}

/// A tile result the film cannot take. The film is unchanged when `add` fails.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilmError {
    #[error("tile {x},{y} {w}x{h} with {pixels} pixels does not fit a {width}x{height} film")]
    TileMismatch { x: u32, y: u32, w: u32, h: u32, pixels: usize, width: u32, height: u32 },
    #[error("tile {x},{y} {w}x{h}: pixel {px},{py} has a non-finite {field} sum")]
    NonFinite { x: u32, y: u32, w: u32, h: u32, px: u32, py: u32, field: &'static str },
    #[error("tile {x},{y} {w}x{h} with samples {start}..{end} was already added to the film")]
    Duplicate { x: u32, y: u32, w: u32, h: u32, start: u32, end: u32 },
}

/// Running sums of one pixel.
#[derive(Clone, Copy, Debug, Default)]
struct PixelAccum {
    radiance: [f64; 3],
    radiance_sq: [f64; 3],
    albedo: [f64; 3],
    normal: [f64; 3],
    depth: f64,
    alpha: f64,
    count: u64,
}

impl PixelAccum {
    fn add(&mut self, s: &PixelSums) {
        add3(&mut self.radiance, s.radiance);
        add3(&mut self.radiance_sq, s.radiance_sq);
        add3(&mut self.albedo, s.albedo);
        add3(&mut self.normal, s.normal);
        self.depth += f64::from(s.depth);
        self.alpha += f64::from(s.alpha);
        self.count += u64::from(s.count);
    }
}

fn add3(sum: &mut [f64; 3], v: [f32; 3]) {
    for (s, v) in sum.iter_mut().zip(v) {
        *s += f64::from(v);
    }
}

/// The first non-finite field of `s`, if any.
fn non_finite_field(s: &PixelSums) -> Option<&'static str> {
    let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
    [
        ("radiance", finite(&s.radiance)),
        ("radiance_sq", finite(&s.radiance_sq)),
        ("albedo", finite(&s.albedo)),
        ("normal", finite(&s.normal)),
        ("depth", s.depth.is_finite()),
        ("alpha", s.alpha.is_finite()),
    ]
    .into_iter()
    .find(|(_, ok)| !ok)
    .map(|(name, _)| name)
}

/// Accumulates tile results (in f64, so the order tiles arrive in does not change the image).
#[derive(Clone)]
pub struct Film {
    /// Image size; fixed at construction.
    pub width: u32,
    pub height: u32,
    pixels: Vec<PixelAccum>,
    added: HashSet<(Tile, SampleRange)>,
    rays: u64,
}

impl fmt::Debug for Film {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Film")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("results_added", &self.added.len())
            .field("rays", &self.rays)
            .finish_non_exhaustive()
    }
}

/// Bytes per pixel of the film's sums, of the [`FrameImage`] made from them and
/// of the planes written out (18 f32 EXR channels at most).
pub const FILM_BYTES_PER_PIXEL: u64 = size_of::<PixelAccum>() as u64 + 60 + 18 * 4;

impl Film {
    /// Bytes a `width × height` frame takes from the film to the written image.
    pub fn memory_bytes(width: u32, height: u32) -> u64 {
        u64::from(width) * u64::from(height) * FILM_BYTES_PER_PIXEL
    }

    pub fn new(width: u32, height: u32) -> Self {
        let pixels = vec![PixelAccum::default(); width as usize * height as usize];
        Self { width, height, pixels, added: HashSet::new(), rays: 0 }
    }

    /// Adds a tile's sums. Fails, leaving the film unchanged, when the tile lies
    /// outside the film, its pixel count does not match its size, a sum is NaN or
    /// infinite, or the same tile and sample range was added before.
    pub fn add(&mut self, result: &TileResult) -> Result<(), FilmError> {
        let t = result.tile;
        let fits_x = t.x.checked_add(t.width).is_some_and(|right| right <= self.width);
        let fits_y = t.y.checked_add(t.height).is_some_and(|bottom| bottom <= self.height);
        if !fits_x || !fits_y || result.pixels.len() != t.pixel_count() {
            return Err(FilmError::TileMismatch {
                x: t.x,
                y: t.y,
                w: t.width,
                h: t.height,
                pixels: result.pixels.len(),
                width: self.width,
                height: self.height,
            });
        }
        if let Some((i, field)) =
            result.pixels.iter().enumerate().find_map(|(i, s)| non_finite_field(s).map(|f| (i, f)))
        {
            let (px, py) = (t.x + i as u32 % t.width, t.y + i as u32 / t.width);
            return Err(FilmError::NonFinite { x: t.x, y: t.y, w: t.width, h: t.height, px, py, field });
        }
        if !self.added.insert((t, result.samples)) {
            let s = result.samples;
            return Err(FilmError::Duplicate { x: t.x, y: t.y, w: t.width, h: t.height, start: s.start, end: s.end });
        }

        self.rays += result.rays;
        if t.width == 0 {
            return Ok(());
        }
        for (row, sums) in result.pixels.chunks_exact(t.width as usize).enumerate() {
            let start = (t.y as usize + row) * self.width as usize + t.x as usize;
            for (acc, s) in self.pixels[start..start + sums.len()].iter_mut().zip(sums) {
                acc.add(s);
            }
        }
        Ok(())
    }

    /// Rays traced for all results added so far.
    pub fn rays(&self) -> u64 {
        self.rays
    }

    /// Whether every pixel has at least one sample.
    pub fn is_complete(&self) -> bool {
        self.pixels.iter().all(|p| p.count > 0)
    }

    /// The per-pixel means. Pixels without samples are zero everywhere.
    pub fn image(&self) -> FrameImage {
        let n = self.pixels.len();
        let mut image = FrameImage {
            width: self.width,
            height: self.height,
            color: Vec::with_capacity(n),
            albedo: Vec::with_capacity(n),
            normal: Vec::with_capacity(n),
            depth: Vec::with_capacity(n),
            samples: Vec::with_capacity(n),
            variance: Vec::with_capacity(n),
        };
        for p in &self.pixels {
            let count = p.count as f64;
            let mean = |sum: f64| if p.count == 0 { 0.0 } else { (sum / count) as f32 };
            let mean3 = |sum: [f64; 3]| sum.map(mean);
            let [r, g, b] = mean3(p.radiance);
            image.color.push([r, g, b, mean(p.alpha)]);
            image.albedo.push(mean3(p.albedo));
            image.normal.push(normalized(p.normal));
            image.depth.push(if p.alpha > 0.0 { (p.depth / p.alpha) as f32 } else { 0.0 });
            image.samples.push(p.count as f32);
            image.variance.push(std::array::from_fn(|c| variance(p.radiance[c], p.radiance_sq[c], p.count)));
        }
        image
    }
}

/// `v / |v|`, or zero when `v` is zero (no hit).
fn normalized(v: [f64; 3]) -> [f32; 3] {
    let len = v.iter().map(|c| c * c).sum::<f64>().sqrt();
    if len > 0.0 {
        v.map(|c| (c / len) as f32)
    } else {
        [0.0; 3]
    }
}

/// Unbiased sample variance from the sum and sum of squares of `n` samples.
fn variance(sum: f64, sum_sq: f64, n: u64) -> f32 {
    if n < 2 {
        return 0.0;
    }
    let n = n as f64;
    ((sum_sq - sum * sum / n) / (n - 1.0)).max(0.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums of `count` samples at pixel (x, y) with values that depend on the pixel
    /// and the range, so misplaced pixels or lost ranges change the image.
    fn sums(x: u32, y: u32, range: SampleRange) -> PixelSums {
        let mut s = PixelSums { count: range.count(), ..Default::default() };
        for i in range.start..range.end {
            // A cheap deterministic pseudo-random value per (pixel, sample).
            let h = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ i.wrapping_mul(83_492_791))
                .wrapping_mul(2_654_435_761);
            let v = (h >> 8) as f32 / (1u32 << 24) as f32;
            let hit = v > 0.2;
            for c in 0..3 {
                let radiance = v * (c + 1) as f32 * 0.7;
                s.radiance[c] += radiance;
                s.radiance_sq[c] += radiance * radiance;
                s.albedo[c] += if hit { 0.5 } else { 0.0 };
            }
            if hit {
                s.normal[1] += 1.0;
                s.normal[2] += v;
                s.depth += 2.0 + v;
                s.alpha += 1.0;
            }
        }
        s
    }

    fn result(tile: Tile, range: SampleRange) -> TileResult {
        let pixels =
            (0..tile.height).flat_map(|y| (0..tile.width).map(move |x| sums(tile.x + x, tile.y + y, range))).collect();
        TileResult {
            frame: 0,
            tile,
            samples: range,
            pixels,
            rays: tile.pixel_count() as u64 * u64::from(range.count()),
        }
    }

    fn bits(image: &FrameImage) -> Vec<u32> {
        let mut v = Vec::new();
        for i in 0..image.pixel_count() {
            v.extend(image.color[i].map(f32::to_bits));
            v.extend(image.albedo[i].map(f32::to_bits));
            v.extend(image.normal[i].map(f32::to_bits));
            v.extend(image.variance[i].map(f32::to_bits));
            v.push(image.depth[i].to_bits());
            v.push(image.samples[i].to_bits());
        }
        v
    }

    #[test]
    fn arrival_order_does_not_change_the_image() {
        let (w, h) = (37, 23);
        let mut results = Vec::new();
        for tile in Tile::grid(w, h, 8) {
            for range in SampleRange::split(13, 4) {
                results.push(result(tile, range));
            }
        }
        let mut forward = Film::new(w, h);
        results.iter().try_for_each(|r| forward.add(r)).unwrap();
        let mut shuffled = Film::new(w, h);
        // Reverse, then interleave odd and even positions: tiles and ranges both move.
        results.reverse();
        let (odd, even): (Vec<_>, Vec<_>) = results.iter().enumerate().partition(|(i, _)| i % 2 == 1);
        odd.into_iter().chain(even).try_for_each(|(_, r)| shuffled.add(r)).unwrap();

        assert!(forward.is_complete());
        assert_eq!((forward.rays(), shuffled.rays()), (37 * 23 * 13, 37 * 23 * 13));
        assert_eq!(bits(&forward.image()), bits(&shuffled.image()));

        // Split another way the image is the same up to f32 rounding of the sums.
        let mut whole = Film::new(w, h);
        whole.add(&result(Tile { x: 0, y: 0, width: w, height: h }, SampleRange { start: 0, end: 13 })).unwrap();
        let (a, b) = (forward.image(), whole.image());
        for (p, q) in a.color.iter().zip(&b.color) {
            for c in 0..4 {
                assert!((p[c] - q[c]).abs() <= 1e-5 * q[c].abs().max(1.0), "{p:?} vs {q:?}");
            }
        }
    }

    #[test]
    fn means_and_variance_match_a_hand_computation() {
        // One pixel, three samples: red radiance 1, 2, 6 (green twice that); the
        // first two hit a surface with albedo (0.6, 0, 0.3), normal along (3, 0, 4),
        // at distances 2 and 4; the third misses.
        let s = PixelSums {
            count: 3,
            radiance: [1.0 + 2.0 + 6.0, 2.0 + 4.0 + 12.0, 0.0],
            radiance_sq: [1.0 + 4.0 + 36.0, 4.0 + 16.0 + 144.0, 0.0],
            albedo: [1.2, 0.0, 0.6],
            normal: [6.0, 0.0, 8.0],
            depth: 2.0 + 4.0,
            alpha: 2.0,
            _pad: 0.0,
        };
        let mut film = Film::new(2, 1);
        assert!(!film.is_complete());
        film.add(&TileResult {
            frame: 0,
            tile: Tile { x: 1, y: 0, width: 1, height: 1 },
            samples: SampleRange { start: 0, end: 3 },
            pixels: vec![s],
            rays: 0,
        })
        .unwrap();
        assert!(!film.is_complete(), "pixel 0 has no samples yet");
        let img = film.image();

        // Mean of 1, 2, 6 is 3; unbiased variance is ((1-3)² + (2-3)² + (6-3)²) / 2 = 7.
        assert_eq!(img.color[1], [3.0, 6.0, 0.0, 2.0 / 3.0]);
        assert!((img.variance[1][0] - 7.0).abs() < 1e-6);
        assert!((img.variance[1][1] - 28.0).abs() < 1e-5);
        assert_eq!(img.variance[1][2], 0.0);
        // Albedo is averaged over all samples: (1.2, 0, 0.6) / 3.
        assert!((img.albedo[1][0] - 0.4).abs() < 1e-6 && (img.albedo[1][2] - 0.2).abs() < 1e-6);
        assert_eq!(img.normal[1], [0.6, 0.0, 0.8]);
        // Depth is averaged over the two hits only.
        assert_eq!(img.depth[1], 3.0);
        assert_eq!(img.samples, vec![0.0, 3.0]);
        // The pixel without samples is zero, not NaN.
        assert_eq!((img.color[0], img.normal[0], img.depth[0], img.variance[0]), ([0.0; 4], [0.0; 3], 0.0, [0.0; 3]));
    }

    #[test]
    fn tiles_that_do_not_fit_are_rejected_and_leave_the_film_unchanged() {
        let mut film = Film::new(16, 8);
        let range = SampleRange { start: 0, end: 2 };
        let outside = result(Tile { x: 12, y: 0, width: 8, height: 8 }, range);
        assert_eq!(
            film.add(&outside),
            Err(FilmError::TileMismatch { x: 12, y: 0, w: 8, h: 8, pixels: 64, width: 16, height: 8 })
        );
        let overflowing = TileResult { tile: Tile { x: u32::MAX, y: 0, width: 2, height: 1 }, ..outside.clone() };
        assert!(matches!(film.add(&overflowing), Err(FilmError::TileMismatch { .. })));

        let mut short = result(Tile { x: 0, y: 0, width: 4, height: 4 }, range);
        short.pixels.pop();
        let err = film.add(&short).unwrap_err();
        assert_eq!(err.to_string(), "tile 0,0 4x4 with 15 pixels does not fit a 16x8 film");

        let mut nan = result(Tile { x: 4, y: 4, width: 4, height: 4 }, range);
        nan.pixels[5].radiance[1] = f32::NAN;
        assert_eq!(
            film.add(&nan),
            Err(FilmError::NonFinite { x: 4, y: 4, w: 4, h: 4, px: 5, py: 5, field: "radiance" })
        );

        let good = result(Tile { x: 0, y: 0, width: 4, height: 4 }, range);
        film.add(&good).unwrap();
        let before = film.image();
        assert!(matches!(film.add(&good), Err(FilmError::Duplicate { start: 0, end: 2, .. })));
        assert_eq!(film.image(), before);
        assert!(before.samples.iter().enumerate().all(|(i, &n)| (n > 0.0) == (i % 16 < 4 && i / 16 < 4)));
    }
}
