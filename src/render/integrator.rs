//! The CPU reference path tracer.
