//! Tasks, tile decomposition, the film, and the CPU reference integrator.

pub mod bench;
pub mod film;
pub mod frame;
pub mod integrator;
pub mod motion;
pub mod settings;
pub mod surface;
pub mod task;
