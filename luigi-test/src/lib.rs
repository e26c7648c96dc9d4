//! # Luigi
//!
//! Assert, under `cargo test`, what a trained sequence model has learned
//! inside. Luigi runs an ONNX model (through ONNX Runtime), records any
//! layer's activations, scores every unit against hypothesis functions,
//! and turns the best pairings into assertions.
//!
//! ```no_run
//! use luigi_test::{Assertion, Expectation, Metric, Threshold};
//!
//! Assertion::new("examples/boolean/boolean.luigi.yaml")
//!     .layer("lstm")
//!     .corpus("examples/boolean/heldout.txt", None)
//!     .hypothesis_builtin(&["boolean", "bool_eval"])
//!     .expect(Expectation::some_unit(Threshold::new(Metric::Eta, 0.8)))
//!     .assert();
//! ```
//!
//! The same assertion as an attribute is [`neural_assert`]; as YAML, a
//! [`spec`]. The [`guide`] goes from an ONNX file to a green test.
//!
//! ## Modules, from the model up
//!
//! Each layer uses only the ones above it (`scripts/module_cycles.py`
//! checks that no two modules import each other).
//!
//! | module | what it owns |
//! |---|---|
//! | [`error`] | the typed [`Error`]: every failure names its file, key or tensor |
//! | [`runtime`] | finding or provisioning ONNX Runtime's shared library |
//! | [`corpus`] | corpora: lines or windows of text, limits, fingerprints |
//! | [`activations`], [`npy`] | recorded `timesteps × units` matrices and their `.npy` files |
//! | [`model`] | cards, the ONNX graph, sessions, recording (long sequences in state-carried pieces), generation, twins |
//! | [`hypothesis`] | hypothesis functions, built-ins, lists in YAML, automata |
//! | [`score`] | the streaming score engine (r, η, MI, AUC, Spearman, significance, within-token) and its [`Ranking`] |
//! | [`probe`] | logistic-regression probes, controls, unit sets, PCA, the `at_most` read-out |
//! | [`verify`] | verification by perturbation and by forcing a unit while the model generates |
//! | [`expect`] | judging an expectation ([`Assertion`], [`Expectation`], [`Threshold`]) and its failure report |
//! | [`inspect`] | the ranking of every unit against every hypothesis, as `luigi inspect` prints it |
//! | [`report`] | reports people read: failure reports and the HTML report |
//! | [`snapshot`] | ranking snapshots for code review (insta) |
//! | [`spec`] | YAML specs of expected units, run as tests |
//!
//! Crate-private: `numeric` (the seeded generator, eigen and Cholesky
//! solvers, rounding), `subject` (a model, corpus and recorded layer, their
//! loaders and the recording cache), `text` (plain-text tables).
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
pub(crate) mod yaml;

#[doc(hidden)]
pub use expect::macro_support as _macro_support;
pub use luigi_macros::neural_assert;

pub use activations::{Activations, RowIndex};
pub use corpus::{Corpus, CorpusFormat, Sequence};
pub use error::{Error, Result};
pub use expect::{Assertion, Expectation, Outcome, Threshold};
pub use hypothesis::{Hypothesis, HypothesisKind};
pub use model::Model;
pub use score::{ranking::Ranking, Metric};

/// The test author's guide (the crate's README): from an ONNX file to a
/// green, meaningful test.
#[doc = include_str!("../README.md")]
pub mod guide {}
