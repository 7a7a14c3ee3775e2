//! The rayon CPU backend: the reference every other backend is judged against.
