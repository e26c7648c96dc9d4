//! Numerical helpers shared by every layer: the seeded generator and a
//! small symmetric eigen-solver, Cholesky solves.

pub(crate) mod eigen;
pub(crate) mod linalg;
pub(crate) mod rng;
