//! Models: an ONNX file plus its card; graph reading, recording and stepwise runs.

pub mod card;
pub(crate) mod check;
mod discover;
pub mod generate;
pub mod graph;
pub mod layout;
pub mod onnx_model;
mod plan;
pub mod record;
pub mod selection;
pub(crate) mod session;
pub(crate) mod split;
pub mod starter;
pub mod stepwise;
pub mod twin;

pub use card::{Card, CardFile, Carried, Encoding, Layout, StatePair};
pub use generate::{Clamp, Force, GenerateOptions, Generated, Generator, Request, Sampling};
pub use layout::LayerLayout;
pub use onnx_model::Model;
pub use record::{RecordOptions, RecordedChunk, MAX_SEQUENCE};
pub use stepwise::{StateTensor, Step, Stepper};
