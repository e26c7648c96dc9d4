//! An untrained-like twin of a model (`luigi twin`): the same graph with
//! each weight tensor's entries shuffled.
//!
//! The untrained twin is the control that tells learnt structure from what
//! any network of the same architecture shows on the same text. Without the
//! training code there is no way to draw fresh initial weights, but
//! shuffling the entries of every weight tensor keeps each tensor's shape,
//! scale and distribution of values while destroying what training
//! arranged: the result behaves like a random initialisation of the same
//! size. Indicator tensors (every entry 0 or 1, e.g. a one-hot embedding
//! table) and single numbers are kept: they are structure, not learnt
//! weights. Only float32 initializers stored in the file are shuffled;
//! others are listed as kept.

use super::graph::proto::{self, Reader, Slice};
use super::graph::split_graph_field;
use crate::error::{Error, Result};
use crate::numeric::rng::Rng;

/// What happened to one initializer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwinTensor {
    /// The initializer's name.
    pub name: String,
    /// Its number of entries (0 when not read).
    pub len: usize,
    /// Whether its entries were shuffled.
    pub shuffled: bool,
    /// Why it was kept, when it was.
    pub kept_because: Option<String>,
}

/// The twin's bytes and what was done to each initializer.
#[derive(Debug, Clone)]
pub struct Twin {
    /// The new ONNX model.
    pub bytes: Vec<u8>,
    /// Every initializer, in file order.
    pub tensors: Vec<TwinTensor>,
}

/// `TensorProto` fields.
const DIMS: u32 = 1;
const DATA_TYPE: u32 = 2;
const FLOAT_DATA: u32 = 4;
const NAME: u32 = 8;
const RAW_DATA: u32 = 9;
const DATA_LOCATION: u32 = 14;
/// `TensorProto.DataType.FLOAT`.
const FLOAT: i32 = 1;

fn decode_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid(what, format!("the ONNX file does not decode: {e}"))
}

/// Shuffles one `TensorProto` (its encoded bytes), returning the new bytes
/// or the reason it was kept.
fn shuffle_tensor(
    bytes: &[u8],
    rng: &mut Rng,
) -> std::result::Result<(Vec<u8>, TwinTensor), String> {
    let mut name = String::new();
    let mut dtype = 0;
    let mut values: Vec<f32> = Vec::new();
    let mut raw: Option<&[u8]> = None;
    let mut external = false;
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut r = Reader::new(Slice::whole(bytes));
    let mut start = r.position();
    while let Some(f) = r.next_field().map_err(|e| e.to_string())? {
        let end = r.position();
        let field = &bytes[start..end];
        start = end;
        match f.number {
            NAME => {
                name = f.string("TensorProto.name").map_err(|e| e.to_string())?;
                kept.push(field);
            }
            DATA_TYPE => {
                dtype = f
                    .int32("TensorProto.data_type")
                    .map_err(|e| e.to_string())?;
                kept.push(field);
            }
            DATA_LOCATION => {
                external = f
                    .int32("TensorProto.data_location")
                    .map_err(|e| e.to_string())?
                    == 1;
                kept.push(field);
            }
            FLOAT_DATA => f
                .push_floats("TensorProto.float_data", &mut values)
                .map_err(|e| e.to_string())?,
            RAW_DATA => {
                raw = Some(
                    f.bytes("TensorProto.raw_data")
                        .map_err(|e| e.to_string())?
                        .bytes,
                )
            }
            DIMS => kept.push(field),
            _ => kept.push(field),
        }
    }
    let keep = |why: &str, len: usize| TwinTensor {
        name: name.clone(),
        len,
        shuffled: false,
        kept_because: Some(why.to_string()),
    };
    if dtype != FLOAT {
        return Ok((bytes.to_vec(), keep("not float32", 0)));
    }
    if external {
        return Ok((
            bytes.to_vec(),
            keep("stored outside the file (external data)", 0),
        ));
    }
    if let Some(raw) = raw {
        if raw.len() % 4 != 0 {
            return Err(format!(
                "initializer `{name}`: raw_data of {} bytes is not whole float32s",
                raw.len()
            ));
        }
        values = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
    }
    let n = values.len();
    if n < 2 {
        return Ok((bytes.to_vec(), keep("a single number", n)));
    }
    if values.iter().all(|&v| v == 0.0 || v == 1.0) {
        return Ok((
            bytes.to_vec(),
            keep("an indicator table (every entry 0 or 1)", n),
        ));
    }
    rng.shuffle(&mut values);
    let mut out = Vec::with_capacity(bytes.len());
    for f in kept {
        out.extend_from_slice(f);
    }
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    proto::put_bytes_field(&mut out, RAW_DATA, &data);
    Ok((
        out,
        TwinTensor {
            name,
            len: n,
            shuffled: true,
            kept_because: None,
        },
    ))
}

/// The twin of `model_bytes` (an ONNX `ModelProto`): every float32 weight
/// initializer's entries shuffled with `seed` (see the module docs).
/// `what` names the file in errors.
pub fn shuffled_twin(model_bytes: &[u8], seed: u64, what: &str) -> Result<Twin> {
    let (mut out, graph) = split_graph_field(model_bytes)
        .ok_or_else(|| decode_err(what, "no readable graph field"))?;
    let mut new_graph = Vec::with_capacity(graph.len());
    let mut tensors = Vec::new();
    let mut r = Reader::new(Slice::whole(&graph));
    let mut start = r.position();
    let mut index = 0u64;
    while let Some(f) = r.next_field().map_err(|e| decode_err(what, e))? {
        let end = r.position();
        let field = &graph[start..end];
        start = end;
        if f.number == 5 {
            let body = f
                .bytes("GraphProto.initializer")
                .map_err(|e| decode_err(what, e))?;
            // each tensor its own stream, so one tensor's draw does not
            // depend on the others
            let mut rng = Rng::stream(seed, index);
            index += 1;
            let (bytes, t) =
                shuffle_tensor(body.bytes, &mut rng).map_err(|e| decode_err(what, e))?;
            proto::put_bytes_field(&mut new_graph, 5, &bytes);
            tensors.push(t);
        } else {
            new_graph.extend_from_slice(field);
        }
    }
    if !tensors.iter().any(|t| t.shuffled) {
        return Err(Error::invalid(
            what,
            "no float32 weight tensor to shuffle: the model keeps its weights elsewhere (external data, Constant nodes) or has none",
        ));
    }
    proto::put_bytes_field(&mut out, 7, &new_graph);
    Ok(Twin {
        bytes: out,
        tensors,
    })
}
