//! Denoising with Intel Open Image Denoise (feature `oidn`).
