//! Models: an ONNX file plus its card; graph reading, recording and stepwise runs.

pub mod card;
pub mod graph;
pub mod record;
pub mod session;
pub mod stepwise;

pub use card::{Card, CardFile, Encoding, Layout, StatePair};
