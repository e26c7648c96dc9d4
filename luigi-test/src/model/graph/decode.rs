//! ONNX messages on top of the wire reader: `ModelProto` and the parts of
//! it that Luigi lists.
//!
//! Decoders follow protobuf merge semantics (a singular message field seen
//! twice is merged, repeated fields append, scalars: last one wins), which is
//! what makes [`super::with_extra_outputs`] work.
//!
//! The recursion depth is fixed by the message types decoded here
//! (`ModelProto > GraphProto > NodeProto > AttributeProto`, `ValueInfoProto >
//! TypeProto > Tensor > TensorShapeProto > Dimension`): the recursive parts of
//! ONNX (subgraphs in attributes `g`/`graphs`, nested `TypeProto`s of
//! sequences, maps and optionals, functions, training info) are skipped as
//! opaque bytes, so a nesting bomb costs nothing.
//!
//! Skipped entirely: tensor payloads (`raw_data`, `float_data`, ...),
//! subgraph bodies, doc strings, metadata, functions, quantization
//! annotations.

use std::collections::BTreeMap;

use super::proto::{DResult, DecodeError, Field, Reader, Slice};
use super::{Attr, Dim, ElemType, Graph, Node, ValueInfo};

/// Decodes a whole `ModelProto` into `graph` (whose `path` is already set).
pub(super) fn model(bytes: &[u8], graph: &mut Graph) -> DResult<()> {
    let mut reader = Reader::new(Slice::whole(bytes));
    let mut seen_graph = false;
    while let Some(f) = reader.next_field()? {
        match f.number {
            1 => graph.ir_version = f.int64("ModelProto.ir_version")?,
            2 => graph.producer = f.string("ModelProto.producer_name")?,
            7 => {
                let s = f.bytes("ModelProto.graph")?;
                graph_proto(s, graph).map_err(|e| e.within("ModelProto.graph"))?;
                seen_graph = true;
            }
            8 => {
                let i = graph.opsets.len();
                let s = f.bytes("ModelProto.opset_import")?;
                let opset =
                    opset(s).map_err(|e| e.within(format!("ModelProto.opset_import[{i}]")))?;
                graph.opsets.push(opset);
            }
            _ => {}
        }
    }
    if !seen_graph {
        return Err(DecodeError::new(
            bytes.len(),
            "expected a ModelProto with a graph (field 7), found none; is this an ONNX model?",
        ));
    }
    Ok(())
}

fn opset(s: Slice<'_>) -> DResult<(String, i64)> {
    let mut domain = String::new();
    let mut version = 0;
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => domain = f.string("OperatorSetIdProto.domain")?,
            2 => version = f.int64("OperatorSetIdProto.version")?,
            _ => {}
        }
    }
    Ok((domain, version))
}

fn graph_proto(s: Slice<'_>, g: &mut Graph) -> DResult<()> {
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => {
                let i = g.nodes.len();
                let n = node(f.bytes("GraphProto.node")?)
                    .map_err(|e| e.within(format!("GraphProto.node[{i}]")))?;
                g.nodes.push(n);
            }
            5 => {
                let i = g.initializers.len();
                let t = tensor(f.bytes("GraphProto.initializer")?)
                    .map_err(|e| e.within(format!("GraphProto.initializer[{i}]")))?;
                g.initializers.push(t);
            }
            15 => {
                let i = g.initializers.len();
                let t = sparse_tensor(f.bytes("GraphProto.sparse_initializer")?)
                    .map_err(|e| e.within(format!("GraphProto.sparse_initializer[{i}]")))?;
                g.initializers.push(t);
            }
            11 => push_value_info(&f, "GraphProto.input", &mut g.inputs)?,
            12 => push_value_info(&f, "GraphProto.output", &mut g.outputs)?,
            13 => push_value_info(&f, "GraphProto.value_info", &mut g.value_info)?,
            _ => {}
        }
    }
    Ok(())
}

fn push_value_info(f: &Field<'_>, what: &str, list: &mut Vec<ValueInfo>) -> DResult<()> {
    let i = list.len();
    let v = value_info(f.bytes(what)?).map_err(|e| e.within(format!("{what}[{i}]")))?;
    list.push(v);
    Ok(())
}

fn value_info(s: Slice<'_>) -> DResult<ValueInfo> {
    let mut v = ValueInfo {
        name: String::new(),
        dtype: None,
        shape: None,
    };
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => v.name = f.string("ValueInfoProto.name")?,
            2 => type_proto(f.bytes("ValueInfoProto.type")?, &mut v)
                .map_err(|e| e.within("ValueInfoProto.type"))?,
            _ => {}
        }
    }
    Ok(v)
}

/// `TypeProto`: only `tensor_type` (1) is read; sequence, map, optional,
/// sparse and opaque types are skipped (dtype and shape stay unknown).
fn type_proto(s: Slice<'_>, v: &mut ValueInfo) -> DResult<()> {
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        if f.number == 1 {
            let t = f.bytes("TypeProto.tensor_type")?;
            tensor_type(t, v).map_err(|e| e.within("TypeProto.tensor_type"))?;
        }
    }
    Ok(())
}

fn tensor_type(s: Slice<'_>, v: &mut ValueInfo) -> DResult<()> {
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => v.dtype = ElemType::from_code(f.int32("TypeProto.Tensor.elem_type")?),
            2 => {
                let dims = v.shape.get_or_insert_with(Vec::new);
                shape(f.bytes("TypeProto.Tensor.shape")?, dims)
                    .map_err(|e| e.within("TypeProto.Tensor.shape"))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn shape(s: Slice<'_>, dims: &mut Vec<Dim>) -> DResult<()> {
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        if f.number == 1 {
            let i = dims.len();
            let d = dim(f.bytes("TensorShapeProto.dim")?)
                .map_err(|e| e.within(format!("TensorShapeProto.dim[{i}]")))?;
            dims.push(d);
        }
    }
    Ok(())
}

fn dim(s: Slice<'_>) -> DResult<Dim> {
    // `value` is a oneof: the last member seen wins.
    let mut d = Dim::Unknown;
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => d = Dim::Fixed(f.int64("Dimension.dim_value")?),
            2 => d = Dim::Named(f.string("Dimension.dim_param")?),
            _ => {}
        }
    }
    Ok(d)
}

/// `TensorProto`: name, data type and dims; the payload is skipped.
fn tensor(s: Slice<'_>) -> DResult<ValueInfo> {
    let mut name = String::new();
    let mut dtype = None;
    let mut dims = Vec::new();
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => f.push_int64s("TensorProto.dims", &mut dims)?,
            2 => dtype = ElemType::from_code(f.int32("TensorProto.data_type")?),
            8 => name = f.string("TensorProto.name")?,
            _ => {}
        }
    }
    Ok(ValueInfo {
        name,
        dtype,
        shape: Some(dims.into_iter().map(Dim::Fixed).collect()),
    })
}

/// `SparseTensorProto`: the name and dtype of `values` (1), the dense `dims` (3).
fn sparse_tensor(s: Slice<'_>) -> DResult<ValueInfo> {
    let mut out = ValueInfo {
        name: String::new(),
        dtype: None,
        shape: None,
    };
    let mut dims = Vec::new();
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => {
                let values = tensor(f.bytes("SparseTensorProto.values")?)
                    .map_err(|e| e.within("SparseTensorProto.values"))?;
                out.name = values.name;
                out.dtype = values.dtype;
            }
            3 => f.push_int64s("SparseTensorProto.dims", &mut dims)?,
            _ => {}
        }
    }
    out.shape = Some(dims.into_iter().map(Dim::Fixed).collect());
    Ok(out)
}

fn node(s: Slice<'_>) -> DResult<Node> {
    let mut n = Node {
        name: String::new(),
        op_type: String::new(),
        domain: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attributes: BTreeMap::new(),
    };
    let mut r = Reader::new(s);
    let mut attr_index = 0usize;
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => n.inputs.push(f.string("NodeProto.input")?),
            2 => n.outputs.push(f.string("NodeProto.output")?),
            3 => n.name = f.string("NodeProto.name")?,
            4 => n.op_type = f.string("NodeProto.op_type")?,
            7 => n.domain = f.string("NodeProto.domain")?,
            5 => {
                let (name, value) = attribute(f.bytes("NodeProto.attribute")?)
                    .map_err(|e| e.within(format!("NodeProto.attribute[{attr_index}]")))?;
                attr_index += 1;
                n.attributes.insert(name, value);
            }
            _ => {}
        }
    }
    if n.op_type.is_empty() {
        return Err(DecodeError::new(
            s.offset,
            format!(
                "expected a node with an op_type (field 4), found none (node name `{}`)",
                n.name
            ),
        ));
    }
    Ok(n)
}

/// `AttributeProto` type codes Luigi keeps.
const ATTR_FLOAT: i32 = 1;
const ATTR_INT: i32 = 2;
const ATTR_STRING: i32 = 3;
const ATTR_FLOATS: i32 = 6;
const ATTR_INTS: i32 = 7;
const ATTR_STRINGS: i32 = 8;
const ATTR_GRAPH: i32 = 5;
const ATTR_GRAPHS: i32 = 10;

fn attribute(s: Slice<'_>) -> DResult<(String, Attr)> {
    let mut name = String::new();
    let mut ty: Option<i32> = None;
    let mut f_val = None;
    let mut i_val = None;
    let mut s_val = None;
    let mut floats = Vec::new();
    let mut ints = Vec::new();
    let mut strings = Vec::new();
    let mut other = false;
    let mut subgraph = false;
    let mut r = Reader::new(s);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => name = f.string("AttributeProto.name")?,
            20 => ty = Some(f.int32("AttributeProto.type")?),
            2 => f_val = Some(f.float("AttributeProto.f")?),
            3 => i_val = Some(f.int64("AttributeProto.i")?),
            4 => s_val = Some(f.lossy_string("AttributeProto.s")?),
            7 => f.push_floats("AttributeProto.floats", &mut floats)?,
            8 => f.push_int64s("AttributeProto.ints", &mut ints)?,
            9 => strings.push(f.lossy_string("AttributeProto.strings")?),
            // g, graphs: subgraph bodies, not decoded.
            6 | 11 => subgraph = true,
            // t, tensors, sparse tensors, type protos: not decoded.
            5 | 10 | 14 | 15 | 22 | 23 => other = true,
            _ => {}
        }
    }
    // 0 is `UNDEFINED`: treated like an absent type.
    let value = match ty.filter(|&t| t != 0) {
        Some(ATTR_FLOAT) => Attr::Float(f_val.unwrap_or(0.0)),
        Some(ATTR_INT) => Attr::Int(i_val.unwrap_or(0)),
        Some(ATTR_STRING) => Attr::Str(s_val.unwrap_or_default()),
        Some(ATTR_FLOATS) => Attr::Floats(floats),
        Some(ATTR_INTS) => Attr::Ints(ints),
        Some(ATTR_STRINGS) => Attr::Strs(strings),
        Some(ATTR_GRAPH | ATTR_GRAPHS) => Attr::Graph,
        // A declared type that disagrees with a subgraph field still hides
        // a subgraph from anyone who prunes by data flow: say so.
        Some(_) if subgraph => Attr::Graph,
        Some(_) => Attr::Other,
        // No type (very old files): infer it from the field present.
        None => {
            if subgraph {
                Attr::Graph
            } else if other {
                Attr::Other
            } else if !floats.is_empty() {
                Attr::Floats(floats)
            } else if !ints.is_empty() {
                Attr::Ints(ints)
            } else if !strings.is_empty() {
                Attr::Strs(strings)
            } else if let Some(v) = s_val {
                Attr::Str(v)
            } else if let Some(v) = f_val {
                Attr::Float(v)
            } else if let Some(v) = i_val {
                Attr::Int(v)
            } else {
                Attr::Other
            }
        }
    };
    Ok((name, value))
}
