//! Image output: EXR (linear, multi-layer) and PNG (tone-mapped sRGB).
