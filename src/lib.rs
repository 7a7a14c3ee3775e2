//! Tessera: a physically based path tracer with CPU, wgpu and CUDA backends,
//! Open Image Denoise, and a render farm that moves `RenderTask`s and `TileResult`s.

pub mod accel;
pub mod backend;
pub mod denoise;
pub mod farm;
pub mod output;
pub mod render;
pub mod sampling;
pub mod scene;
