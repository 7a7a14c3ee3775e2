//! The unit of work: a `RenderTask` (a tile of a frame and a range of sample
//! indices) executed by a backend into a `TileResult` (per-pixel sums). The local
//! `render` command and the farm move exactly these.

use bytemuck::{Pod, Zeroable};
use serde::{Deserialize, Serialize};

/// A rectangle of pixels, `x, y` from the top-left corner of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tile {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Tile {
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Splits a `width × height` image into tiles of at most `size × size`, row by row.
    pub fn grid(width: u32, height: u32, size: u32) -> Vec<Tile> {
        let size = size.max(1);
        let mut tiles = Vec::new();
        for y in (0..height).step_by(size as usize) {
            for x in (0..width).step_by(size as usize) {
                tiles.push(Tile { x, y, width: size.min(width - x), height: size.min(height - y) });
            }
        }
        tiles
    }
}

/// Sample indices `start..end` of every pixel in a tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SampleRange {
    pub start: u32,
    pub end: u32,
}

impl SampleRange {
    pub fn count(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    /// Splits `0..spp` into consecutive ranges of at most `chunk` samples.
    pub fn split(spp: u32, chunk: u32) -> Vec<SampleRange> {
        let chunk = chunk.max(1);
        (0..spp).step_by(chunk as usize).map(|start| SampleRange { start, end: (start + chunk).min(spp) }).collect()
    }
}

/// One piece of a frame's work. The image size and camera are part of the
/// prepared scene; `tile` must lie inside that image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RenderTask {
    pub frame: u32,
    pub tile: Tile,
    pub samples: SampleRange,
    pub seed: u32,
    pub max_depth: u32,
}

/// Per-pixel sums over the samples of a task. Every field is a sum over samples;
/// divide by `count` for the mean. 64 bytes, the layout GPU backends write.
/// `radiance_sq` (sum of squares) gives the per-pixel variance; `alpha` is the
/// number of camera rays that hit geometry; `depth` sums the camera-ray hit
/// distance (0 for misses).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable, Serialize, Deserialize)]
pub struct PixelSums {
    pub radiance: [f32; 3],
    pub count: u32,
    pub radiance_sq: [f32; 3],
    pub depth: f32,
    pub albedo: [f32; 3],
    pub alpha: f32,
    pub normal: [f32; 3],
    pub _pad: f32,
}

/// What a backend returns for a task: sums for each pixel of `tile`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct TileResult {
    pub frame: u32,
    pub tile: Tile,
    pub samples: SampleRange,
    pub pixels: Vec<PixelSums>,
    /// Rays traced for this task (camera, bounce and shadow rays), for rays/s figures.
    pub rays: u64,
}

impl TileResult {
    pub fn empty(task: &RenderTask) -> Self {
        Self {
            frame: task.frame,
            tile: task.tile,
            samples: task.samples,
            pixels: vec![PixelSums::default(); task.tile.pixel_count()],
            rays: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_image_exactly_once() {
        let tiles = Tile::grid(100, 70, 32);
        assert_eq!(tiles.len(), 4 * 3);
        let covered: usize = tiles.iter().map(Tile::pixel_count).sum();
        assert_eq!(covered, 100 * 70);
        assert_eq!(tiles.last().unwrap(), &Tile { x: 96, y: 64, width: 4, height: 6 });
    }

    #[test]
    fn sample_ranges_cover_all_samples() {
        let ranges = SampleRange::split(10, 4);
        assert_eq!(
            ranges,
            vec![SampleRange { start: 0, end: 4 }, SampleRange { start: 4, end: 8 }, SampleRange { start: 8, end: 10 }]
        );
        assert_eq!(std::mem::size_of::<PixelSums>(), 64);
    }
}
