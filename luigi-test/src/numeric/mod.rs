//! Numerical helpers shared by every layer: the seeded generator and a
//! small symmetric eigen-solver.

pub(crate) mod eigen;
pub(crate) mod rng;
