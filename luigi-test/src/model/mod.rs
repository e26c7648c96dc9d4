//! Models: an ONNX file plus its card; graph reading, recording and stepwise runs.

pub mod card;
pub mod graph;
pub mod record;
pub(crate) mod session;
pub mod stepwise;

pub use card::{Card, CardFile, Encoding, Layout, StatePair};
pub use record::{LayerLayout, Model, RecordOptions, RecordedChunk};
pub use stepwise::{StateTensor, Step, Stepper};
