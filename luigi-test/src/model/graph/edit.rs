//! Editing a model's bytes without decoding it whole: extra graph outputs,
//! a graph cut down to the nodes some outputs need, and the pieces
//! [`crate::model::split`] and [`crate::model::twin`] rebuild a graph from.

use std::collections::BTreeSet;

use super::{proto, Attr, Graph};

/// Returns the model bytes with extra graph outputs appended: protobuf merges
/// repeated fields of concatenated messages, so appending the encoding of
/// `ModelProto{graph(7): GraphProto{output(12): ValueInfoProto{name(1): n}}}`
/// per name adds graph outputs (ONNX Runtime 1.32 accepts them untyped and
/// infers the shape).
///
/// Every name must be a tensor of the main graph (check with
/// [`Graph::tensor`]): ONNX Runtime rejects an output that nothing produces.
/// Naming an existing output again is accepted (it is returned twice).
/// With no names the bytes are returned unchanged.
pub fn with_extra_outputs(model_bytes: &[u8], names: &[&str]) -> Vec<u8> {
    let mut out = model_bytes.to_vec();
    if names.is_empty() {
        return out;
    }
    let mut graph = Vec::new();
    let mut value_info = Vec::new();
    for name in names {
        value_info.clear();
        proto::put_bytes_field(&mut value_info, 1, name.as_bytes());
        proto::put_bytes_field(&mut graph, 12, &value_info);
    }
    proto::put_bytes_field(&mut out, 7, &graph);
    out
}

/// Returns the model bytes cut down to what computing `names` needs: the
/// graph outputs become exactly `names` (in that order), and only the nodes
/// those tensors depend on stay, with the initializers, value_info and
/// initializer-backed inputs they use. Everything else of the model (opsets,
/// functions, metadata, other graph fields) is copied byte for byte.
///
/// ONNX Runtime runs every node of a graph on every run, whichever outputs
/// are fetched, and does not drop nodes that feed no output: without this, a
/// recording of a hidden layer also pays for the model's head (logits,
/// softmax, transposes) on every batch.
///
/// Graph inputs that are not initializers are all kept (a caller feeds
/// them whether or not the kept nodes read them). Returns `None` when the
/// cut cannot be made safely, and the caller should run the whole graph
/// (see [`with_extra_outputs`]): when a kept node holds a subgraph (`If`,
/// `Loop`, `Scan`, ...), which may read main-graph tensors that its inputs
/// do not name, or when the bytes do not decode as `graph` did.
///
/// Every name must be a tensor of `graph`, the graph decoded from
/// `model_bytes` (check with [`Graph::tensor`]).
pub fn pruned_to_outputs(model_bytes: &[u8], graph: &Graph, names: &[&str]) -> Option<Vec<u8>> {
    // Nodes are meant to be in topological order, so one backward pass
    // finds every producer; the loop only repeats for graphs that are not.
    let mut needed: BTreeSet<&str> = names.iter().copied().collect();
    let mut keep = vec![false; graph.nodes.len()];
    loop {
        let mut changed = false;
        for (i, n) in graph.nodes.iter().enumerate().rev() {
            if keep[i] || !n.outputs.iter().any(|o| needed.contains(o.as_str())) {
                continue;
            }
            if n.attributes.values().any(|a| *a == Attr::Graph) {
                return None;
            }
            keep[i] = true;
            changed = true;
            needed.extend(
                n.inputs
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(String::as_str),
            );
        }
        if !changed {
            break;
        }
    }
    let mut alive = needed.clone();
    for (n, _) in graph.nodes.iter().zip(&keep).filter(|(_, k)| **k) {
        alive.extend(n.outputs.iter().map(String::as_str));
    }
    let initializers: BTreeSet<&str> = graph.initializers.iter().map(|t| t.name.as_str()).collect();

    let (mut out, graph_bytes) = split_graph_field(model_bytes)?;

    let mut new_graph = Vec::with_capacity(graph_bytes.len());
    let mut old_outputs: Vec<(&str, &[u8])> = Vec::new();
    let (mut node_i, mut init_i, mut input_i, mut vi_i, mut out_i) = (0, 0, 0, 0, 0);
    let mut r = proto::Reader::new(proto::Slice::whole(&graph_bytes));
    let mut start = r.position();
    while let Some(f) = r.next_field().ok()? {
        let end = r.position();
        let field = graph_bytes.get(start..end)?;
        start = end;
        let copy = match f.number {
            1 => {
                node_i += 1;
                *keep.get(node_i - 1)?
            }
            5 | 15 => {
                init_i += 1;
                needed.contains(graph.initializers.get(init_i - 1)?.name.as_str())
            }
            11 => {
                input_i += 1;
                let name = graph.inputs.get(input_i - 1)?.name.as_str();
                needed.contains(name) || !initializers.contains(name)
            }
            12 => {
                out_i += 1;
                let name = graph.outputs.get(out_i - 1)?.name.as_str();
                old_outputs.push((name, field));
                false
            }
            13 => {
                vi_i += 1;
                alive.contains(graph.value_info.get(vi_i - 1)?.name.as_str())
            }
            _ => true,
        };
        if copy {
            new_graph.extend_from_slice(field);
        }
    }
    if node_i != graph.nodes.len() || out_i != graph.outputs.len() {
        return None;
    }
    push_outputs(&mut new_graph, &old_outputs, names);
    proto::put_bytes_field(&mut out, 7, &new_graph);
    Some(out)
}

/// Appends a graph output field per name: the old field (declared type
/// and shape kept) when the name was an output, else an untyped one.
pub(crate) fn push_outputs(new_graph: &mut Vec<u8>, old_outputs: &[(&str, &[u8])], names: &[&str]) {
    for name in names {
        match old_outputs.iter().find(|(n, _)| n == name) {
            Some((_, field)) => new_graph.extend_from_slice(field),
            None => {
                let mut value_info = Vec::new();
                proto::put_bytes_field(&mut value_info, 1, name.as_bytes());
                proto::put_bytes_field(new_graph, 12, &value_info);
            }
        }
    }
}

/// The model bytes without their `graph` fields, and the graph's bytes
/// (the payloads of every `graph` field, concatenated: protobuf merges
/// them into one GraphProto). `None` when the bytes do not decode.
pub(crate) fn split_graph_field(model_bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::with_capacity(model_bytes.len());
    let mut graph_bytes = Vec::new();
    let mut r = proto::Reader::new(proto::Slice::whole(model_bytes));
    let mut start = r.position();
    while let Some(f) = r.next_field().ok()? {
        let end = r.position();
        if f.number == 7 {
            graph_bytes.extend_from_slice(f.bytes("ModelProto.graph").ok()?.bytes);
        } else {
            out.extend_from_slice(model_bytes.get(start..end)?);
        }
        start = end;
    }
    Some((out, graph_bytes))
}
