//! # Luigi
//!
//! Assert, under `cargo test`, what a trained sequence model has learned
//! inside. Luigi runs an ONNX model (through ONNX Runtime), records any
//! layer's activations, scores every unit against hypothesis functions,
//! and turns the best pairings into assertions.
//!
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod activations;
pub mod corpus;
pub mod error;
pub mod expect;
pub mod hypothesis;
pub mod inspect;
pub mod model;
pub mod npy;
pub(crate) mod numeric;
pub mod probe;

pub mod report;
pub mod runtime;
pub mod score;
pub use score::ranking;
pub mod snapshot;
pub mod spec;
pub(crate) mod subject;
pub(crate) mod text;
pub mod verify;

#[doc(hidden)]
pub use expect::macro_support as _macro_support;
pub use luigi_macros::neural_assert;

pub use activations::{Activations, RowIndex};
pub use corpus::{Corpus, CorpusFormat, Sequence};
pub use error::{Error, Result};
