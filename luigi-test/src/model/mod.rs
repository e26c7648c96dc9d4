//! Models: an ONNX file plus its card; graph reading, recording and stepwise runs.

pub mod card;

pub use card::{Card, CardFile, Encoding, Layout, StatePair};
