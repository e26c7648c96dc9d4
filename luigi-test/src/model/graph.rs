//! Reading an ONNX model's graph: which tensors exist, which op makes each,
//! their dtypes and shapes, and which are recurrent hidden states.
//!
//! The reader is a small hand-written protobuf decoder (no dependency, no
//! generated code) built to survive hostile files: a truncated file, flipped
//! bytes, a length field of 2^60 or a nesting bomb give an
//! [`Error::Graph`] naming the byte offset, the chain of fields and what was
//! expected; it never panics, never allocates more than a small multiple of
//! the file's size, and never recurses deeper than the fixed depth of the
//! ONNX messages it decodes.
//!
//! What is read: `ModelProto` (ir_version, producer_name, opset_import,
//! graph), the main `GraphProto`'s nodes (with their int/float/string(s)
//! attributes), inputs, outputs, value_info, and the name, dtype and dims of
//! initializers (dense and sparse). Tensor payloads are skipped unread.
//!
//! **Subgraphs** (the `then_branch`/`else_branch` of `If`, the `body` of
//! `Loop` and `Scan`, and any other graph-valued attribute) are skipped as
//! opaque bytes: their attributes appear as [`Attr::Graph`] and their tensors
//! are not listed. ONNX Runtime can only return tensors of the main graph as
//! outputs, so those are the ones Luigi can record.
//!
//! **Hidden states** ([`TensorRow::hidden_state`]): output 0 (`Y`, the hidden
//! sequence) and output 1 (`Y_h`, the last hidden state) of every `LSTM`,
//! `GRU` and `RNN` node of the default ONNX domain, plus every tensor derived
//! from such a `Y` through a chain of shape-only ops (`Squeeze`, `Transpose`,
//! `Reshape`, `Unsqueeze`, `Identity`, data input 0 to output 0), e.g. the
//! `Squeeze`/`Transpose` that PyTorch exports put after an `LSTM`. Tensors
//! derived from `Y_h` are not marked: they hold one row per sequence, not
//! per timestep. `Y_c` (the LSTM cell state) is not marked either.

mod decode;
mod edit;
pub(crate) mod proto;

pub use edit::{pruned_to_outputs, with_extra_outputs};
pub(crate) use edit::{push_outputs, split_graph_field};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{closest_names, Error, Result};

/// The main graph of an ONNX model, as far as Luigi needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The model file (used in messages).
    pub path: PathBuf,
    /// `ModelProto.ir_version`.
    pub ir_version: i64,
    /// Imported operator sets: (domain, version); the domain `""` is `ai.onnx`.
    pub opsets: Vec<(String, i64)>,
    /// `ModelProto.producer_name` (e.g. `pytorch`).
    pub producer: String,
    /// Graph inputs, in order (older exporters list initializers here too).
    pub inputs: Vec<ValueInfo>,
    /// Graph outputs, in order.
    pub outputs: Vec<ValueInfo>,
    /// Type annotations of intermediate tensors (from shape inference).
    pub value_info: Vec<ValueInfo>,
    /// Initializers (weights): name, dtype and dims only; dense then sparse
    /// in file order.
    pub initializers: Vec<ValueInfo>,
    /// Nodes, in file order (topological in a valid model).
    pub nodes: Vec<Node>,
}

/// A named tensor with its type, where known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueInfo {
    /// Tensor name.
    pub name: String,
    /// Element type; `None` when undeclared or not a tensor (sequence, map, ...).
    pub dtype: Option<ElemType>,
    /// Dimensions; `None` when the rank is unknown, `Some(vec![])` for a scalar.
    pub shape: Option<Vec<Dim>>,
}

/// One dimension of a shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A symbolic size (e.g. `batch`, `seq`).
    Named(String),
    /// Neither size nor name given.
    Unknown,
}

impl fmt::Display for Dim {
    /// `4`, `seq`, or `?` for an unknown dimension.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Named(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// ONNX tensor element types (`TensorProto.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ElemType {
    /// `float` (f32), code 1.
    Float,
    /// `uint8`, code 2.
    Uint8,
    /// `int8`, code 3.
    Int8,
    /// `uint16`, code 4.
    Uint16,
    /// `int16`, code 5.
    Int16,
    /// `int32`, code 6.
    Int32,
    /// `int64`, code 7.
    Int64,
    /// `string`, code 8.
    String,
    /// `bool`, code 9.
    Bool,
    /// `float16`, code 10.
    Float16,
    /// `double` (f64), code 11.
    Double,
    /// `uint32`, code 12.
    Uint32,
    /// `uint64`, code 13.
    Uint64,
    /// `bfloat16`, code 16.
    BFloat16,
    /// Any other code (complex, float8, int4, ... or unknown).
    Other(i32),
}

impl ElemType {
    /// The type for an ONNX `TensorProto.DataType` code; `None` for 0 (`UNDEFINED`).
    pub fn from_code(code: i32) -> Option<ElemType> {
        Some(match code {
            0 => return None,
            1 => ElemType::Float,
            2 => ElemType::Uint8,
            3 => ElemType::Int8,
            4 => ElemType::Uint16,
            5 => ElemType::Int16,
            6 => ElemType::Int32,
            7 => ElemType::Int64,
            8 => ElemType::String,
            9 => ElemType::Bool,
            10 => ElemType::Float16,
            11 => ElemType::Double,
            12 => ElemType::Uint32,
            13 => ElemType::Uint64,
            16 => ElemType::BFloat16,
            other => ElemType::Other(other),
        })
    }

    /// The ONNX `TensorProto.DataType` code.
    pub fn code(self) -> i32 {
        match self {
            ElemType::Float => 1,
            ElemType::Uint8 => 2,
            ElemType::Int8 => 3,
            ElemType::Uint16 => 4,
            ElemType::Int16 => 5,
            ElemType::Int32 => 6,
            ElemType::Int64 => 7,
            ElemType::String => 8,
            ElemType::Bool => 9,
            ElemType::Float16 => 10,
            ElemType::Double => 11,
            ElemType::Uint32 => 12,
            ElemType::Uint64 => 13,
            ElemType::BFloat16 => 16,
            ElemType::Other(c) => c,
        }
    }
}

impl fmt::Display for ElemType {
    /// ONNX's lower-case names: `float`, `int64`, `bfloat16`, `complex64`, ...;
    /// `elem_type(N)` for a code ONNX does not define.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ElemType::Float => "float",
            ElemType::Uint8 => "uint8",
            ElemType::Int8 => "int8",
            ElemType::Uint16 => "uint16",
            ElemType::Int16 => "int16",
            ElemType::Int32 => "int32",
            ElemType::Int64 => "int64",
            ElemType::String => "string",
            ElemType::Bool => "bool",
            ElemType::Float16 => "float16",
            ElemType::Double => "double",
            ElemType::Uint32 => "uint32",
            ElemType::Uint64 => "uint64",
            ElemType::BFloat16 => "bfloat16",
            ElemType::Other(14) => "complex64",
            ElemType::Other(15) => "complex128",
            ElemType::Other(17) => "float8e4m3fn",
            ElemType::Other(18) => "float8e4m3fnuz",
            ElemType::Other(19) => "float8e5m2",
            ElemType::Other(20) => "float8e5m2fnuz",
            ElemType::Other(21) => "uint4",
            ElemType::Other(22) => "int4",
            ElemType::Other(23) => "float4e2m1",
            ElemType::Other(24) => "float8e8m0",
            ElemType::Other(25) => "uint2",
            ElemType::Other(26) => "int2",
            ElemType::Other(27) => "float6e2m3",
            ElemType::Other(28) => "float6e3m2",
            ElemType::Other(c) => return write!(f, "elem_type({c})"),
        };
        f.write_str(name)
    }
}

/// One operator of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Node name (may be empty).
    pub name: String,
    /// Operator, e.g. `LSTM`.
    pub op_type: String,
    /// Operator domain; `""` is the default `ai.onnx`.
    pub domain: String,
    /// Input tensor names; `""` marks an omitted optional input.
    pub inputs: Vec<String>,
    /// Output tensor names; `""` marks an omitted optional output.
    pub outputs: Vec<String>,
    /// Attributes by name.
    pub attributes: BTreeMap<String, Attr>,
}

/// A node attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// `INT`.
    Int(i64),
    /// `FLOAT`.
    Float(f32),
    /// `STRING` (bytes read as UTF-8, invalid sequences replaced).
    Str(String),
    /// `INTS`.
    Ints(Vec<i64>),
    /// `FLOATS`.
    Floats(Vec<f32>),
    /// `STRINGS`.
    Strs(Vec<String>),
    /// `GRAPH` or `GRAPHS`: subgraph bodies (not decoded). A node holding
    /// one may read tensors of the main graph that its inputs do not name.
    Graph,
    /// Tensors, types, sparse tensors (not decoded).
    Other,
}

/// One recordable tensor of the graph: a graph input or a node output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorRow {
    /// Tensor name.
    pub name: String,
    /// The producing node's `op_type`, or `"input"` for a graph input.
    pub op: String,
    /// Index of the producing node in [`Graph::nodes`]; `None` for a graph input.
    pub node: Option<usize>,
    /// Which output of the node this is; for a graph input, its index in [`Graph::inputs`].
    pub output_index: usize,
    /// Element type, where declared (graph inputs/outputs, value_info).
    pub dtype: Option<ElemType>,
    /// Shape, where declared.
    pub shape: Option<Vec<Dim>>,
    /// True when the tensor is a graph output.
    pub is_graph_output: bool,
    /// True for recurrent hidden states (see the module docs for the rule).
    pub hidden_state: bool,
}

/// Ops whose output 0 is a hidden state sequence (and output 1 the last state).
const RECURRENT_OPS: [&str; 3] = ["LSTM", "GRU", "RNN"];
/// Ops that only rearrange their data input 0.
const SHAPE_OPS: [&str; 5] = ["Squeeze", "Transpose", "Reshape", "Unsqueeze", "Identity"];
/// How many initializers [`Graph::layers_table`] lists.
const TABLE_INITIALIZERS: usize = 8;

fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

fn shape_string(shape: Option<&[Dim]>) -> String {
    match shape {
        None => "?".to_string(),
        Some(dims) => {
            let parts: Vec<String> = dims.iter().map(Dim::to_string).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

fn dtype_string(dtype: Option<ElemType>) -> String {
    dtype.map_or_else(|| "?".to_string(), |d| d.to_string())
}

impl Graph {
    /// What the name of `input`'s first dimension says of its layout: a
    /// name like `time`, `seq`, `len` or `step` is time-major, one like
    /// `batch` batch-major; `None` when unnamed, both or neither.
    pub fn named_layout(&self, input: &str) -> Option<super::card::Layout> {
        let Some(Dim::Named(first)) = self.input(input)?.shape.as_ref()?.first() else {
            return None;
        };
        let f = first.to_ascii_lowercase();
        let timeish = ["time", "seq", "len", "step"].iter().any(|w| f.contains(w));
        let batchish = f.contains("batch");
        match (timeish, batchish) {
            (true, false) => Some(super::card::Layout::TimeMajor),
            (false, true) => Some(super::card::Layout::BatchMajor),
            _ => None,
        }
    }

    /// The rows of the token table an ids input indexes: the first
    /// dimension of the initializer a `Gather` reads with `input` as its
    /// indices. `None` when there is no such table of fixed size.
    pub fn token_table_rows(&self, input: &str) -> Option<i64> {
        let gather = self
            .nodes
            .iter()
            .find(|n| n.op_type == "Gather" && n.inputs.get(1).is_some_and(|i| i == input))?;
        let data = gather.inputs.first()?;
        match self
            .initializers
            .iter()
            .find(|t| &t.name == data)?
            .shape
            .as_ref()?
            .first()
        {
            Some(Dim::Fixed(rows)) => Some(*rows),
            _ => None,
        }
    }

    /// Decodes an ONNX `ModelProto`. `path` is used only in messages.
    ///
    /// Errors: [`Error::Graph`] with the byte offset, the field chain and
    /// what was expected, for anything that is not a well-formed model with
    /// a graph.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Graph> {
        let fail = |message: String| Error::Graph {
            path: path.to_path_buf(),
            message,
        };
        if bytes.is_empty() {
            return Err(fail(
                "the file is empty (0 bytes); re-export or re-download the model".to_string(),
            ));
        }
        let mut graph = Graph {
            path: path.to_path_buf(),
            ir_version: 0,
            opsets: Vec::new(),
            producer: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            value_info: Vec::new(),
            initializers: Vec::new(),
            nodes: Vec::new(),
        };
        match decode::model(bytes, &mut graph) {
            Ok(()) => Ok(graph),
            Err(e) => {
                let mut message = e.to_string();
                if bytes.starts_with(b"PK\x03\x04") {
                    message.push_str(
                        "; the file is a zip archive (a PyTorch checkpoint?), not ONNX: \
                         export the model with torch.onnx.export",
                    );
                } else if bytes.starts_with(b"\x80\x02") || bytes.starts_with(b"\x80\x04") {
                    message.push_str("; the file looks like a Python pickle, not ONNX");
                }
                Err(fail(message))
            }
        }
    }

    /// Reads and decodes an ONNX file: [`Error::Io`] when it cannot be read,
    /// [`Error::Graph`] when it cannot be decoded.
    pub fn load(path: &Path) -> Result<Graph> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Graph::parse(&bytes, path)
    }

    /// Declared (dtype, shape) per tensor name, merged from outputs, inputs,
    /// then value_info: the first declaration that has a field wins for it.
    fn declared(&self) -> BTreeMap<&str, (Option<ElemType>, Option<&[Dim]>)> {
        let mut map: BTreeMap<&str, (Option<ElemType>, Option<&[Dim]>)> = BTreeMap::new();
        for v in self
            .outputs
            .iter()
            .chain(&self.inputs)
            .chain(&self.value_info)
        {
            let entry = map.entry(v.name.as_str()).or_insert((None, None));
            if entry.0.is_none() {
                entry.0 = v.dtype;
            }
            if entry.1.is_none() {
                entry.1 = v.shape.as_deref();
            }
        }
        map
    }

    /// Names of hidden-state tensors (rule in the module docs).
    fn hidden_names(&self) -> BTreeSet<&str> {
        let mut hidden = BTreeSet::new();
        let mut frontier: Vec<&str> = Vec::new();
        for n in &self.nodes {
            if is_default_domain(&n.domain) && RECURRENT_OPS.contains(&n.op_type.as_str()) {
                if let Some(y) = n.outputs.first().filter(|y| !y.is_empty()) {
                    hidden.insert(y.as_str());
                    frontier.push(y.as_str());
                }
                if let Some(y_h) = n.outputs.get(1).filter(|y| !y.is_empty()) {
                    hidden.insert(y_h.as_str());
                }
            }
        }
        // Shape-only consumers, by their data input.
        let mut consumers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for n in &self.nodes {
            if is_default_domain(&n.domain) && SHAPE_OPS.contains(&n.op_type.as_str()) {
                if let (Some(i), Some(o)) = (n.inputs.first(), n.outputs.first()) {
                    if !i.is_empty() && !o.is_empty() {
                        consumers.entry(i.as_str()).or_default().push(o.as_str());
                    }
                }
            }
        }
        let mut derived: BTreeSet<&str> = frontier.iter().copied().collect();
        while let Some(t) = frontier.pop() {
            for &o in consumers.get(t).map(Vec::as_slice).unwrap_or_default() {
                if derived.insert(o) {
                    hidden.insert(o);
                    frontier.push(o);
                }
            }
        }
        hidden
    }

    /// Every recordable tensor: graph inputs (except initializers that older
    /// exporters also list as inputs), then every named node output in node
    /// order. Initializers are not included. dtype and shape come from the
    /// graph outputs, inputs and value_info, where declared.
    pub fn tensors(&self) -> Vec<TensorRow> {
        let declared = self.declared();
        let hidden = self.hidden_names();
        let outputs: BTreeSet<&str> = self.outputs.iter().map(|v| v.name.as_str()).collect();
        let weights: BTreeSet<&str> = self.initializers.iter().map(|v| v.name.as_str()).collect();
        let row = |name: &str, op: &str, node: Option<usize>, output_index: usize| {
            let (dtype, shape) = declared.get(name).copied().unwrap_or((None, None));
            TensorRow {
                name: name.to_string(),
                op: op.to_string(),
                node,
                output_index,
                dtype,
                shape: shape.map(<[Dim]>::to_vec),
                is_graph_output: outputs.contains(name),
                hidden_state: hidden.contains(name),
            }
        };
        let mut rows = Vec::new();
        for (i, v) in self.inputs.iter().enumerate() {
            if !weights.contains(v.name.as_str()) {
                rows.push(row(&v.name, "input", None, i));
            }
        }
        for (ni, n) in self.nodes.iter().enumerate() {
            for (oi, o) in n.outputs.iter().enumerate() {
                if !o.is_empty() {
                    rows.push(row(o, &n.op_type, Some(ni), oi));
                }
            }
        }
        rows
    }

    /// The row of one tensor (as in [`Graph::tensors`]), if it exists.
    pub fn tensor(&self, name: &str) -> Option<TensorRow> {
        self.tensors().into_iter().find(|r| r.name == name)
    }

    /// The first node that outputs `name`, with the output's index.
    pub fn producer(&self, name: &str) -> Option<(&Node, usize)> {
        if name.is_empty() {
            return None;
        }
        self.nodes
            .iter()
            .find_map(|n| n.outputs.iter().position(|o| o == name).map(|i| (n, i)))
    }

    /// The graph input called `name`.
    pub fn input(&self, name: &str) -> Option<&ValueInfo> {
        self.inputs.iter().find(|v| v.name == name)
    }

    /// The graph output called `name`.
    pub fn output(&self, name: &str) -> Option<&ValueInfo> {
        self.outputs.iter().find(|v| v.name == name)
    }

    /// Up to `max` tensor names (of [`Graph::tensors`]) closest to `name`,
    /// for "did you mean" messages.
    pub fn closest(&self, name: &str, max: usize) -> Vec<String> {
        let rows = self.tensors();
        closest_names(name, rows.iter().map(|r| r.name.as_str()), max)
    }

    /// The tensor whose numbers `tensor` holds: followed back through
    /// shape-only operators (`Identity`, `Squeeze`, `Unsqueeze`,
    /// `Transpose`, `Reshape`, `Flatten`) to the first tensor another
    /// operator made; `tensor` itself when it is not such a view.
    pub fn view_root(&self, tensor: &str) -> String {
        const VIEW_OPS: [&str; 6] = [
            "Identity",
            "Squeeze",
            "Unsqueeze",
            "Transpose",
            "Reshape",
            "Flatten",
        ];
        let mut t = tensor.to_string();
        for _ in 0..self.nodes.len() {
            match self.producer(&t) {
                Some((n, 0)) if VIEW_OPS.contains(&n.op_type.as_str()) => match n.inputs.first() {
                    Some(i) if !i.is_empty() => t = i.clone(),
                    _ => break,
                },
                _ => break,
            }
        }
        t
    }

    /// The tensors marked [`TensorRow::hidden_state`], in [`Graph::tensors`] order.
    pub fn hidden_states(&self) -> Vec<TensorRow> {
        self.tensors()
            .into_iter()
            .filter(|r| r.hidden_state)
            .collect()
    }

    /// A human-readable table for `luigi layers`: a header line, then one
    /// row per tensor (`name | op | dtype | shape | flags`, flags among
    /// `input`, `output`, `hidden-state`), then the initializers (count and
    /// the first few).
    pub fn layers_table(&self) -> String {
        let header = ["name", "op", "dtype", "shape", "flags"];
        let mut cells: Vec<[String; 5]> = vec![header.map(str::to_string)];
        for r in self.tensors() {
            let mut flags = Vec::new();
            if r.node.is_none() {
                flags.push("input");
            }
            if r.is_graph_output {
                flags.push("output");
            }
            if r.hidden_state {
                flags.push("hidden-state");
            }
            cells.push([
                r.name,
                r.op,
                dtype_string(r.dtype),
                shape_string(r.shape.as_deref()),
                flags.join(","),
            ]);
        }
        let mut widths = [0usize; 5];
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }

        let opsets: Vec<String> = self
            .opsets
            .iter()
            .map(|(d, v)| {
                let d = if d.is_empty() { "ai.onnx" } else { d };
                format!("{d} {v}")
            })
            .collect();
        let mut out = format!(
            "model {} (producer `{}`, ir_version {}, opsets: {}): {} nodes, {} tensors\n",
            self.path.display(),
            self.producer,
            self.ir_version,
            if opsets.is_empty() {
                "none".to_string()
            } else {
                opsets.join(", ")
            },
            self.nodes.len(),
            cells.len() - 1,
        );
        for row in &cells {
            let mut line = String::new();
            for (i, (c, w)) in row.iter().zip(widths).enumerate() {
                if i > 0 {
                    line.push_str(" | ");
                }
                line.push_str(c);
                if i + 1 < row.len() {
                    line.extend(std::iter::repeat_n(' ', w - c.chars().count()));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }

        out.push_str(&format!(
            "\ninitializers (weights, not recordable): {}\n",
            self.initializers.len()
        ));
        for v in self.initializers.iter().take(TABLE_INITIALIZERS) {
            out.push_str(&format!(
                "  {} {} {}\n",
                v.name,
                dtype_string(v.dtype),
                shape_string(v.shape.as_deref())
            ));
        }
        if self.initializers.len() > TABLE_INITIALIZERS {
            out.push_str(&format!(
                "  ... and {} more\n",
                self.initializers.len() - TABLE_INITIALIZERS
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests;
