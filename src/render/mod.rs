//! Tasks, tile decomposition, the film, and the CPU reference integrator.

pub mod film;
pub mod integrator;
pub mod settings;
pub mod task;
