//! Splitting a model at a recorded layer, for unit forcing.
//!
//! Forcing a unit means changing its value *as everything downstream sees
//! it*: the head that turns the layer into logits, and the next step
//! through the recurrent state. The model is therefore run as two graphs:
//! the *front* (tokens and state in → the layer's tensor and the state out;
//! [`pruned_to_outputs`](crate::model::graph::pruned_to_outputs)) and the
//! *back* built here (the layer's tensor in → logits out), so that the
//! forced tensor can be fed to the back.

use std::collections::BTreeSet;

use crate::model::graph::proto;
use crate::model::graph::{Attr, ElemType, Graph};

/// Why a model cannot be split at a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// The outputs also read these tensors, computed before the layer or
    /// fed as graph inputs (a head that reads the embedding as well), and
    /// the graph inputs those come from.
    ReadsMore(Vec<String>, Vec<String>),
    /// The outputs do not depend on the layer at all.
    NotDownstream,
    /// A node of the back part holds a subgraph (`If`, `Loop`, `Scan`),
    /// which may read tensors its inputs do not name.
    Subgraph(String),
    /// The model bytes do not decode as the graph did.
    Undecodable,
}

/// The model bytes cut down to the nodes that compute `outputs` from the
/// tensor `layer`, with `layer` turned into a typed graph input of `rank`
/// symbolic dims (element type `elem`). Every other graph input is dropped
/// unless it backs an initializer the kept nodes read.
pub(crate) fn back_part(
    model_bytes: &[u8],
    graph: &Graph,
    layer: &str,
    outputs: &[&str],
    elem: ElemType,
    rank: usize,
) -> Result<Vec<u8>, SplitError> {
    let mut needed: BTreeSet<&str> = outputs.iter().copied().collect();
    let mut keep = vec![false; graph.nodes.len()];
    loop {
        let mut changed = false;
        for (i, n) in graph.nodes.iter().enumerate().rev() {
            let wanted = n
                .outputs
                .iter()
                .any(|o| o != layer && needed.contains(o.as_str()));
            if keep[i] || !wanted {
                continue;
            }
            if n.attributes.values().any(|a| *a == Attr::Graph) {
                return Err(SplitError::Subgraph(n.name.clone()));
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
    if !needed.contains(layer) {
        return Err(SplitError::NotDownstream);
    }
    let initializers: BTreeSet<&str> = graph.initializers.iter().map(|t| t.name.as_str()).collect();
    let mut produced: BTreeSet<&str> = BTreeSet::new();
    for (n, _) in graph.nodes.iter().zip(&keep).filter(|(_, k)| **k) {
        produced.extend(n.outputs.iter().map(String::as_str));
    }
    // What else the back part reads: the inputs of the nodes downstream of
    // the layer that are neither downstream of it nor constants (weights,
    // and what nodes compute from weights alone).
    let mut downstream: BTreeSet<&str> = BTreeSet::from([layer]);
    let mut constant: BTreeSet<&str> = initializers.clone();
    let mut extra: BTreeSet<String> = BTreeSet::new();
    for n in &graph.nodes {
        let inputs = n.inputs.iter().filter(|s| !s.is_empty());
        if inputs.clone().any(|i| downstream.contains(i.as_str())) {
            for i in inputs {
                if !downstream.contains(i.as_str()) && !constant.contains(i.as_str()) {
                    extra.insert(i.clone());
                }
            }
            downstream.extend(n.outputs.iter().map(String::as_str));
        } else if inputs.clone().all(|i| constant.contains(i.as_str())) {
            constant.extend(n.outputs.iter().map(String::as_str));
        }
    }
    // only what the outputs need counts
    let extra: Vec<String> = extra
        .into_iter()
        .filter(|t| needed.contains(t.as_str()))
        .collect();
    if !extra.is_empty() {
        let mut from: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = extra.iter().map(String::as_str).collect();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        while let Some(t) = todo.pop() {
            if !seen.insert(t) || constant.contains(t) {
                continue;
            }
            match graph.producer(t) {
                Some((n, _)) => todo.extend(
                    n.inputs
                        .iter()
                        .filter(|s| !s.is_empty())
                        .map(String::as_str),
                ),
                None => {
                    from.insert(t);
                }
            }
        }
        let from = from.into_iter().map(str::to_string).collect();
        return Err(SplitError::ReadsMore(extra, from));
    }

    let (mut out, graph_bytes) =
        crate::model::graph::split_graph_field(model_bytes).ok_or(SplitError::Undecodable)?;

    let mut new_graph = Vec::with_capacity(graph_bytes.len());
    let mut old_outputs: Vec<(&str, &[u8])> = Vec::new();
    let (mut node_i, mut init_i, mut input_i, mut vi_i, mut out_i) = (0, 0, 0, 0, 0);
    let mut r = proto::Reader::new(proto::Slice::whole(&graph_bytes));
    let mut start = r.position();
    let bad = || SplitError::Undecodable;
    while let Some(f) = r.next_field().map_err(|_| bad())? {
        let end = r.position();
        let field = graph_bytes.get(start..end).ok_or_else(bad)?;
        start = end;
        let copy = match f.number {
            1 => {
                node_i += 1;
                *keep.get(node_i - 1).ok_or_else(bad)?
            }
            5 | 15 => {
                init_i += 1;
                needed.contains(
                    graph
                        .initializers
                        .get(init_i - 1)
                        .ok_or_else(bad)?
                        .name
                        .as_str(),
                )
            }
            11 => {
                input_i += 1;
                let name = graph.inputs.get(input_i - 1).ok_or_else(bad)?.name.as_str();
                name != layer && needed.contains(name) && initializers.contains(name)
            }
            12 => {
                out_i += 1;
                let name = graph.outputs.get(out_i - 1).ok_or_else(bad)?.name.as_str();
                old_outputs.push((name, field));
                false
            }
            13 => {
                vi_i += 1;
                let name = graph
                    .value_info
                    .get(vi_i - 1)
                    .ok_or_else(bad)?
                    .name
                    .as_str();
                name != layer && (produced.contains(name) || needed.contains(name))
            }
            _ => true,
        };
        if copy {
            new_graph.extend_from_slice(field);
        }
    }
    if node_i != graph.nodes.len() || out_i != graph.outputs.len() {
        return Err(bad());
    }
    // the layer, as a typed input: ValueInfoProto{name, type: TypeProto{
    // tensor_type: Tensor{elem_type, shape: {dim: {dim_param}}...}}}
    let mut shape = Vec::new();
    for d in 0..rank {
        let mut dim = Vec::new();
        proto::put_bytes_field(&mut dim, 2, format!("luigi_{d}").as_bytes());
        proto::put_bytes_field(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    proto::put_varint(&mut tensor, 1 << 3);
    proto::put_varint(&mut tensor, elem.code() as u64);
    proto::put_bytes_field(&mut tensor, 2, &shape);
    let mut type_proto = Vec::new();
    proto::put_bytes_field(&mut type_proto, 1, &tensor);
    let mut input = Vec::new();
    proto::put_bytes_field(&mut input, 1, layer.as_bytes());
    proto::put_bytes_field(&mut input, 2, &type_proto);
    proto::put_bytes_field(&mut new_graph, 11, &input);
    crate::model::graph::push_outputs(&mut new_graph, &old_outputs, outputs);
    proto::put_bytes_field(&mut out, 7, &new_graph);
    Ok(out)
}
