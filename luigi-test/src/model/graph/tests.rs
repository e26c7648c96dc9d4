//! Tests of the ONNX graph reader. Fixtures come from
//! `testdata/make_testdata.py` (see its docstring); hostile inputs are
//! hand-encoded with `proto::enc`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::proto::enc::{fixed32_field, msg, put_bytes_field, put_varint, string, varint_field};
use super::*;

const TINY_LSTM: &[u8] = include_bytes!("testdata/tiny_lstm.onnx");
const IF_SUBGRAPH: &[u8] = include_bytes!("testdata/if_subgraph.onnx");

fn tiny() -> Graph {
    Graph::parse(TINY_LSTM, Path::new("tiny_lstm.onnx")).unwrap()
}

fn graph_message(bytes: &[u8]) -> String {
    match Graph::parse(bytes, Path::new("m.onnx")) {
        Err(Error::Graph { path, message }) => {
            assert_eq!(path, Path::new("m.onnx"));
            message
        }
        other => panic!("expected Error::Graph, got {other:?}"),
    }
}

fn f(n: i64) -> Dim {
    Dim::Fixed(n)
}

fn named(s: &str) -> Dim {
    Dim::Named(s.to_string())
}

/// A model whose graph is built by `g`.
fn model(g: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut m = Vec::new();
    varint_field(&mut m, 1, 9);
    msg(&mut m, 7, g);
    m
}

fn node(out: &mut Vec<u8>, op: &str, domain: &str, inputs: &[&str], outputs: &[&str]) {
    msg(out, 1, |n| {
        for i in inputs {
            string(n, 1, i);
        }
        for o in outputs {
            string(n, 2, o);
        }
        string(n, 4, op);
        if !domain.is_empty() {
            string(n, 7, domain);
        }
    });
}

/// name, dtype, shape.
type Init<'a> = (&'a str, Option<ElemType>, Option<Vec<Dim>>);
/// name, op, node, output index, shape, graph output, hidden state.
type Row<'a> = (
    &'a str,
    &'a str,
    Option<usize>,
    usize,
    Option<Vec<Dim>>,
    bool,
    bool,
);

#[test]
fn model_header_and_initializers_are_read() {
    let g = tiny();
    assert_eq!(g.ir_version, 8);
    assert_eq!(g.producer, "luigi-testdata");
    assert_eq!(g.opsets, vec![(String::new(), 17)]);
    let inits: Vec<Init> = g
        .initializers
        .iter()
        .map(|v| (v.name.as_str(), v.dtype, v.shape.clone()))
        .collect();
    assert_eq!(
        inits,
        vec![
            ("W", Some(ElemType::Float), Some(vec![f(1), f(16), f(3)])),
            ("R", Some(ElemType::Float), Some(vec![f(1), f(16), f(4)])),
            ("B", Some(ElemType::Float), Some(vec![f(1), f(32)])),
            ("squeeze_axes", Some(ElemType::Int64), Some(vec![f(1)])),
            ("dense_w", Some(ElemType::Float), Some(vec![f(4), f(1)])),
            ("dense_b", Some(ElemType::Float), Some(vec![f(1)])),
        ]
    );
}

#[test]
fn nodes_and_attributes_are_read() {
    let g = tiny();
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(
        ops,
        ["LSTM", "Squeeze", "Transpose", "MatMul", "Add", "Sigmoid"]
    );
    let lstm = &g.nodes[0];
    assert_eq!(lstm.name, "/lstm/LSTM");
    assert_eq!(lstm.inputs, ["x", "W", "R", "B"]);
    assert_eq!(lstm.outputs, ["Y", "Y_h", ""]);
    assert_eq!(lstm.attributes["hidden_size"], Attr::Int(4));
    assert_eq!(lstm.attributes["clip"], Attr::Float(50.0));
    assert_eq!(lstm.attributes["direction"], Attr::Str("forward".into()));
    assert_eq!(
        lstm.attributes["activations"],
        Attr::Strs(vec!["Sigmoid".into(), "Tanh".into(), "Tanh".into()])
    );
    assert_eq!(g.nodes[2].attributes["perm"], Attr::Ints(vec![1, 0, 2]));
}

#[test]
fn tensors_are_listed_with_ops_dtypes_shapes_and_flags() {
    let g = tiny();
    let rows = g.tensors();
    let got: Vec<Row> = rows
        .iter()
        .map(|r| {
            assert_eq!(r.dtype, Some(ElemType::Float), "{}", r.name);
            (
                r.name.as_str(),
                r.op.as_str(),
                r.node,
                r.output_index,
                r.shape.clone(),
                r.is_graph_output,
                r.hidden_state,
            )
        })
        .collect();
    // W is an initializer listed as an input: left out. Y_c (empty name): left out.
    assert_eq!(
        got,
        vec![
            (
                "x",
                "input",
                None,
                0,
                Some(vec![named("seq"), f(1), f(3)]),
                false,
                false
            ),
            (
                "Y",
                "LSTM",
                Some(0),
                0,
                Some(vec![named("seq"), f(1), f(1), f(4)]),
                false,
                true
            ),
            (
                "Y_h",
                "LSTM",
                Some(0),
                1,
                Some(vec![f(1), f(1), f(4)]),
                true,
                true
            ),
            (
                "y_sq",
                "Squeeze",
                Some(1),
                0,
                Some(vec![named("seq"), f(1), f(4)]),
                false,
                true
            ),
            (
                "h_seq",
                "Transpose",
                Some(2),
                0,
                Some(vec![f(1), named("seq"), f(4)]),
                false,
                true
            ),
            (
                "logit_mm",
                "MatMul",
                Some(3),
                0,
                Some(vec![f(1), named("seq"), f(1)]),
                false,
                false
            ),
            (
                "logit",
                "Add",
                Some(4),
                0,
                Some(vec![f(1), named("seq"), Dim::Unknown]),
                false,
                false
            ),
            (
                "prob",
                "Sigmoid",
                Some(5),
                0,
                Some(vec![f(1), named("seq"), f(1)]),
                true,
                false
            ),
        ]
    );
    let hidden: Vec<String> = g.hidden_states().into_iter().map(|r| r.name).collect();
    assert_eq!(hidden, ["Y", "Y_h", "y_sq", "h_seq"]);
    assert_eq!(g.tensor("h_seq").unwrap().op, "Transpose");
    assert!(g.tensor("W").is_none());
    assert!(g.tensor("nope").is_none());
}

#[test]
fn lookups_by_name() {
    let g = tiny();
    let (n, i) = g.producer("Y_h").unwrap();
    assert_eq!((n.op_type.as_str(), i), ("LSTM", 1));
    let (n, i) = g.producer("h_seq").unwrap();
    assert_eq!((n.name.as_str(), i), ("/Transpose", 0));
    assert!(g.producer("x").is_none());
    assert!(g.producer("").is_none());
    assert_eq!(g.input("x").unwrap().shape.as_ref().unwrap().len(), 3);
    assert!(g.input("prob").is_none());
    assert_eq!(g.output("prob").unwrap().dtype, Some(ElemType::Float));
    assert!(g.output("x").is_none());
}

#[test]
fn closest_suggests_tensor_names() {
    let g = tiny();
    assert_eq!(g.closest("h_sq", 1), ["h_seq"]);
    assert_eq!(g.closest("Y_H", 2)[0], "Y_h");
    assert_eq!(g.closest("logits", 1), ["logit"]);
    // Initializers are not recordable tensors, so they are not suggested.
    assert!(!g.closest("dense_w", 5).contains(&"dense_w".to_string()));
    assert!(g.closest("zzzzzzzz", 3).is_empty());
}

#[test]
fn hidden_state_rule_follows_shape_ops_from_y_only() {
    let bytes = model(|g| {
        node(g, "GRU", "", &["x", "W", "R"], &["gy", "gy_h"]);
        node(g, "Reshape", "", &["gy", "shape"], &["gy_r"]);
        node(g, "Unsqueeze", "", &["gy_r", "axes"], &["gy_u"]);
        node(g, "Identity", "ai.onnx", &["gy_u"], &["gy_id"]);
        node(g, "Relu", "", &["gy_id"], &["relu"]);
        node(g, "Identity", "", &["relu"], &["relu_id"]);
        // From Y_h: one row per sequence, not marked.
        node(g, "Squeeze", "", &["gy_h"], &["gy_h_sq"]);
        // A shape op whose *second* input is a hidden state: not marked.
        node(g, "Reshape", "", &["other", "gy"], &["reshaped_other"]);
        // Recurrent op of a custom domain: not marked.
        node(g, "LSTM", "com.example", &["x"], &["cy", "cy_h"]);
        // RNN with Y omitted: only Y_h marked.
        node(g, "RNN", "", &["x", "W", "R"], &["", "ry_h"]);
    });
    let g = Graph::parse(&bytes, Path::new("m.onnx")).unwrap();
    let hidden: Vec<String> = g.hidden_states().into_iter().map(|r| r.name).collect();
    assert_eq!(hidden, ["gy", "gy_h", "gy_r", "gy_u", "gy_id", "ry_h"]);
    assert_eq!(g.tensor("ry_h").unwrap().output_index, 1);
}

#[test]
fn with_extra_outputs_adds_untyped_outputs_that_keep_value_info_types() {
    let bytes = with_extra_outputs(TINY_LSTM, &["Y", "h_seq"]);
    assert!(bytes.starts_with(TINY_LSTM));
    let g = Graph::parse(&bytes, Path::new("tiny_lstm.onnx")).unwrap();
    let outs: Vec<&str> = g.outputs.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(outs, ["prob", "Y_h", "Y", "h_seq"]);
    assert_eq!(g.outputs[3].dtype, None);
    assert_eq!(g.outputs[3].shape, None);
    // Everything else is unchanged by the merge.
    let before = tiny();
    assert_eq!(g.nodes, before.nodes);
    assert_eq!(g.initializers, before.initializers);
    assert_eq!(g.opsets, before.opsets);
    let h = g.tensor("h_seq").unwrap();
    assert!(h.is_graph_output);
    assert_eq!(h.dtype, Some(ElemType::Float));
    assert_eq!(h.shape, Some(vec![f(1), named("seq"), f(4)]));
    assert!(!g.tensor("y_sq").unwrap().is_graph_output);
    assert_eq!(with_extra_outputs(TINY_LSTM, &[]), TINY_LSTM);
}

#[test]
fn concatenated_messages_merge_like_protobuf() {
    let mut bytes = model(|g| node(g, "Relu", "", &["a"], &["b"]));
    varint_field(&mut bytes, 1, 10); // last ir_version wins
    msg(&mut bytes, 7, |g| node(g, "Neg", "", &["b"], &["c"]));
    let g = Graph::parse(&bytes, Path::new("m.onnx")).unwrap();
    assert_eq!(g.ir_version, 10);
    let names: Vec<String> = g.tensors().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["b", "c"]);
}

#[test]
fn subgraph_bodies_are_skipped() {
    let g = Graph::parse(IF_SUBGRAPH, Path::new("if.onnx")).unwrap();
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(g.nodes[0].op_type, "If");
    assert_eq!(g.nodes[0].attributes["then_branch"], Attr::Graph);
    assert_eq!(g.nodes[0].attributes["else_branch"], Attr::Graph);
    let names: Vec<String> = g.tensors().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["cond", "a", "r"]);
    assert_eq!(g.tensor("cond").unwrap().dtype, Some(ElemType::Bool));
    assert_eq!(g.tensor("cond").unwrap().shape, Some(vec![]));
}

#[test]
fn attributes_packed_untyped_and_odd() {
    let bytes = model(|g| {
        msg(g, 1, |n| {
            string(n, 4, "Custom");
            // Packed ints and floats with explicit types.
            msg(n, 5, |a| {
                string(a, 1, "ints");
                let mut p = Vec::new();
                for v in [3u64, (-1i64) as u64] {
                    put_varint(&mut p, v);
                }
                put_bytes_field(a, 8, &p);
                varint_field(a, 20, 7);
            });
            msg(n, 5, |a| {
                string(a, 1, "floats");
                let p: Vec<u8> = [0.5f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
                put_bytes_field(a, 7, &p);
                varint_field(a, 20, 6);
            });
            // No type field: inferred from the value present.
            msg(n, 5, |a| {
                string(a, 1, "untyped_f");
                fixed32_field(a, 2, 1.25f32.to_bits());
            });
            msg(n, 5, |a| {
                string(a, 1, "untyped_i");
                varint_field(a, 3, 42);
            });
            // A tensor attribute: kept as Other.
            msg(n, 5, |a| {
                string(a, 1, "value");
                msg(a, 5, |t| varint_field(t, 2, 1));
                varint_field(a, 20, 4);
            });
            // Invalid UTF-8 in a bytes attribute is replaced, not an error.
            msg(n, 5, |a| {
                string(a, 1, "s");
                put_bytes_field(a, 4, &[b'a', 0xfe]);
                varint_field(a, 20, 3);
            });
            msg(n, 5, |a| string(a, 1, "empty"));
        });
    });
    let g = Graph::parse(&bytes, Path::new("m.onnx")).unwrap();
    let a = &g.nodes[0].attributes;
    assert_eq!(a["ints"], Attr::Ints(vec![3, -1]));
    assert_eq!(a["floats"], Attr::Floats(vec![0.5, 2.0]));
    assert_eq!(a["untyped_f"], Attr::Float(1.25));
    assert_eq!(a["untyped_i"], Attr::Int(42));
    assert_eq!(a["value"], Attr::Other);
    assert_eq!(a["s"], Attr::Str("a\u{fffd}".into()));
    assert_eq!(a["empty"], Attr::Other);
}

#[test]
fn elem_types_display_onnx_names_and_round_trip_codes() {
    for code in 1..=30 {
        let t = ElemType::from_code(code).unwrap();
        assert_eq!(t.code(), code);
    }
    assert_eq!(ElemType::from_code(0), None);
    assert_eq!(ElemType::Float.to_string(), "float");
    assert_eq!(ElemType::Int64.to_string(), "int64");
    assert_eq!(ElemType::BFloat16.to_string(), "bfloat16");
    assert_eq!(ElemType::Other(14).to_string(), "complex64");
    assert_eq!(ElemType::Other(99).to_string(), "elem_type(99)");
    assert_eq!(
        [f(3), named("batch"), Dim::Unknown].map(|d| d.to_string()),
        ["3", "batch", "?"]
    );
}

#[test]
fn layers_table_lists_tensors_flags_and_initializers() {
    let table = tiny().layers_table();
    let expected = "\
model tiny_lstm.onnx (producer `luigi-testdata`, ir_version 8, opsets: ai.onnx 17): 6 nodes, 8 tensors
name     | op        | dtype | shape          | flags
x        | input     | float | [seq, 1, 3]    | input
Y        | LSTM      | float | [seq, 1, 1, 4] | hidden-state
Y_h      | LSTM      | float | [1, 1, 4]      | output,hidden-state
y_sq     | Squeeze   | float | [seq, 1, 4]    | hidden-state
h_seq    | Transpose | float | [1, seq, 4]    | hidden-state
logit_mm | MatMul    | float | [1, seq, 1]    |
logit    | Add       | float | [1, seq, ?]    |
prob     | Sigmoid   | float | [1, seq, 1]    | output

initializers (weights, not recordable): 6
  W float [1, 16, 3]
  R float [1, 16, 4]
  B float [1, 32]
  squeeze_axes int64 [1]
  dense_w float [4, 1]
  dense_b float [1]
";
    assert_eq!(table, expected);
}

#[test]
fn layers_table_truncates_long_initializer_lists() {
    let bytes = model(|g| {
        for i in 0..11 {
            msg(g, 5, |t| string(t, 8, &format!("w{i}")));
        }
    });
    let table = Graph::parse(&bytes, Path::new("m.onnx"))
        .unwrap()
        .layers_table();
    assert!(table.contains("initializers (weights, not recordable): 11\n"));
    assert!(table.contains("  w7 ? []\n"), "{table}");
    assert!(!table.contains("w8"), "{table}");
    assert!(table.ends_with("  ... and 3 more\n"), "{table}");
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.onnx");
    std::fs::write(&p, TINY_LSTM).unwrap();
    assert_eq!(Graph::load(&p).unwrap().path, p);
    let missing = dir.path().join("missing.onnx");
    match Graph::load(&missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

// ---- hostile input -------------------------------------------------------

#[test]
fn empty_and_one_byte_files_are_clear_errors() {
    assert!(graph_message(b"").contains("empty"));
    for b in 0..=255u8 {
        let m = graph_message(&[b]);
        assert!(m.starts_with("at byte "), "{b}: {m}");
    }
    let m = graph_message(&[0x08, 0x01]);
    assert!(
        m.contains("expected a ModelProto with a graph (field 7)"),
        "{m}"
    );
    let m = graph_message(b"PK\x03\x04rest of a zip");
    assert!(m.contains("zip archive"), "{m}");
}

#[test]
fn every_truncation_is_handled() {
    // The graph field ends before opset_import, so some cuts are valid models
    // without opsets; all others must be errors pointing inside the file.
    let mut ok = 0;
    for cut in 0..TINY_LSTM.len() {
        match Graph::parse(&TINY_LSTM[..cut], Path::new("m.onnx")) {
            Ok(g) => {
                ok += 1;
                assert!(g.opsets.is_empty());
            }
            Err(Error::Graph { message, .. }) => {
                assert!(message.starts_with("at byte ") || cut == 0, "{message}");
            }
            Err(e) => panic!("unexpected error kind {e:?}"),
        }
    }
    assert!(ok <= 2, "{ok} truncated prefixes parsed");
}

#[test]
fn truncation_is_reported_where_the_outer_length_overruns() {
    let m = graph_message(&TINY_LSTM[..TINY_LSTM.len() / 2]);
    assert!(m.starts_with("at byte "), "{m}");
    assert!(m.contains("field 7 claims a length of"), "{m}");
    assert!(m.contains("(truncated or corrupt file)"), "{m}");
}

#[test]
fn a_flipped_byte_inside_a_node_names_the_field_chain() {
    // Turn the first node's op_type tag (field 4, wire type 2) into a varint tag.
    let tag_at = TINY_LSTM
        .windows(6)
        .position(|w| w == b"\x22\x04LSTM")
        .unwrap();
    let mut bytes = TINY_LSTM.to_vec();
    bytes[tag_at] = 0x20;
    let m = graph_message(&bytes);
    assert_eq!(
        m,
        format!(
            "at byte {tag_at} (in ModelProto.graph > GraphProto.node[0]): field 4 \
             (NodeProto.op_type) should be a length-delimited value (wire type 2), found a \
             varint (wire type 0)"
        )
    );
}

#[test]
fn length_of_two_to_the_sixty_is_rejected_without_allocating() {
    let mut bytes = Vec::new();
    put_varint(&mut bytes, (7 << 3) | 2);
    put_varint(&mut bytes, 1 << 60);
    bytes.extend_from_slice(&[0x0a, 0x00]);
    let m = graph_message(&bytes);
    assert_eq!(
        m,
        "at byte 1: field 7 claims a length of 1152921504606846976 bytes, but only 2 remain \
         in the enclosing message (truncated or corrupt file)"
    );
    // The same inside a packed dims field of an initializer.
    let bytes = model(|g| {
        msg(g, 5, |t| {
            put_varint(t, (1 << 3) | 2);
            put_varint(t, 1 << 60);
        })
    });
    let m = graph_message(&bytes);
    assert!(m.contains("GraphProto.initializer[0]"), "{m}");
    assert!(m.contains("1152921504606846976"), "{m}");
}

#[test]
fn wrong_wire_types_name_the_field_and_what_was_expected() {
    let bytes = model(|g| {
        msg(g, 1, |n| varint_field(n, 4, 3));
    });
    let m = graph_message(&bytes);
    assert_eq!(
        m,
        "at byte 6 (in ModelProto.graph > GraphProto.node[0]): field 4 (NodeProto.op_type) \
         should be a length-delimited value (wire type 2), found a varint (wire type 0)"
    );
    let bytes = model(|g| msg(g, 1, |n| string(n, 1, "x")));
    assert!(graph_message(&bytes).contains("expected a node with an op_type"));
    let bytes = model(|g| {
        msg(g, 11, |v| put_bytes_field(v, 1, &[0xc3, 0x28]));
    });
    let m = graph_message(&bytes);
    assert!(m.contains("GraphProto.input[0]"), "{m}");
    assert!(m.contains("ValueInfoProto.name) should be UTF-8"), "{m}");
}

/// Bytes of nested messages: level `i` is `prefix_i` then field `field_i`
/// holding level `i + 1`; the innermost holds `core`. Built in linear time.
fn nested(levels: &[(Vec<u8>, u32)], core: &[u8]) -> Vec<u8> {
    let mut sizes = vec![0usize; levels.len() + 1];
    sizes[levels.len()] = core.len();
    let mut scratch = Vec::new();
    for i in (0..levels.len()).rev() {
        scratch.clear();
        put_varint(&mut scratch, (u64::from(levels[i].1) << 3) | 2);
        put_varint(&mut scratch, sizes[i + 1] as u64);
        sizes[i] = levels[i].0.len() + scratch.len() + sizes[i + 1];
    }
    let mut out = Vec::with_capacity(sizes[0]);
    for (i, (prefix, field)) in levels.iter().enumerate() {
        out.extend_from_slice(prefix);
        put_varint(&mut out, (u64::from(*field) << 3) | 2);
        put_varint(&mut out, sizes[i + 1] as u64);
    }
    out.extend_from_slice(core);
    assert_eq!(out.len(), sizes[0]);
    out
}

fn assert_fast(start: Instant) {
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn nesting_bombs_are_skipped_not_recursed() {
    const DEPTH: usize = 100_000;
    // Subgraph inside attribute inside node inside subgraph ... 100k times.
    let mut op = Vec::new();
    string(&mut op, 4, "If");
    let mut attr = Vec::new();
    string(&mut attr, 1, "g");
    varint_field(&mut attr, 20, 5);
    let mut levels = vec![(Vec::new(), 7u32)];
    for _ in 0..DEPTH {
        levels.push((Vec::new(), 1)); // GraphProto.node
        levels.push((op.clone(), 5)); // NodeProto.attribute
        levels.push((attr.clone(), 6)); // AttributeProto.g
    }
    let bytes = nested(&levels, &[]);
    let start = Instant::now();
    let g = Graph::parse(&bytes, Path::new("bomb.onnx")).unwrap();
    assert_fast(start);
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(g.nodes[0].attributes["g"], Attr::Graph);

    // TypeProto.sequence_type > Sequence.elem_type > TypeProto ... in an input.
    let mut name = Vec::new();
    string(&mut name, 1, "seq_of_seq");
    let mut levels = vec![(Vec::new(), 7u32), (Vec::new(), 11), (name, 2)];
    for _ in 0..DEPTH {
        levels.push((Vec::new(), 4));
        levels.push((Vec::new(), 1));
    }
    let bytes = nested(&levels, &[]);
    let start = Instant::now();
    let g = Graph::parse(&bytes, Path::new("bomb.onnx")).unwrap();
    assert_fast(start);
    assert_eq!(g.inputs[0].name, "seq_of_seq");
    assert_eq!(
        (g.inputs[0].dtype, g.inputs[0].shape.as_ref()),
        (None, None)
    );

    // An unknown field nested in itself, inside a node.
    let mut levels = vec![(Vec::new(), 7u32), (Vec::new(), 1), (op.clone(), 99)];
    levels.extend(std::iter::repeat_n((Vec::new(), 99u32), DEPTH));
    let bytes = nested(&levels, &[]);
    let g = Graph::parse(&bytes, Path::new("bomb.onnx")).unwrap();
    assert_eq!(g.nodes[0].op_type, "If");

    // The same bomb cut short: an error, not a crash.
    let m = graph_message(&bytes[..bytes.len() / 2]);
    assert!(m.contains("claims a length of"), "{m}");
}

#[test]
fn huge_repeated_counts_cost_linear_time() {
    const N: usize = 200_000;
    let bytes = model(|g| {
        msg(g, 11, |v| {
            string(v, 1, "wide");
            msg(v, 2, |t| {
                msg(t, 1, |tt| {
                    varint_field(tt, 1, 1);
                    msg(tt, 2, |s| {
                        for _ in 0..N {
                            msg(s, 1, |d| varint_field(d, 1, 2));
                        }
                    });
                });
            });
        });
        msg(g, 5, |t| {
            let mut p = Vec::new();
            for _ in 0..N {
                put_varint(&mut p, 1);
            }
            put_bytes_field(t, 1, &p);
        });
    });
    let start = Instant::now();
    let g = Graph::parse(&bytes, Path::new("wide.onnx")).unwrap();
    assert_fast(start);
    assert_eq!(g.inputs[0].shape.as_ref().unwrap().len(), N);
    assert_eq!(g.initializers[0].shape.as_ref().unwrap().len(), N);
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match m {
        Mutation::Set(i, b) => {
            if !bytes.is_empty() {
                bytes[i % len] = *b;
            }
        }
        Mutation::Truncate(i) => bytes.truncate(i % len),
        Mutation::Insert(i, b) => {
            let at = i % (bytes.len() + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let at = i % len;
            let end = (at + n).min(bytes.len());
            if at < end {
                bytes.drain(at..end);
            }
        }
    }
}

/// Parsing must return `Ok` or an `Error::Graph` that points inside the file.
fn check_no_panic(bytes: &[u8]) -> std::result::Result<(), TestCaseError> {
    match Graph::parse(bytes, Path::new("fuzz.onnx")) {
        Ok(g) => {
            // Whatever decoded must be usable.
            let _ = g.tensors();
            let _ = g.layers_table();
        }
        Err(Error::Graph { message, .. }) => {
            if bytes.is_empty() {
                prop_assert!(message.contains("empty"));
            } else {
                let offset: usize = message
                    .strip_prefix("at byte ")
                    .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| TestCaseError::fail(format!("no offset: {message}")))?;
                prop_assert!(
                    offset <= bytes.len(),
                    "{offset} > {}: {message}",
                    bytes.len()
                );
            }
        }
        Err(e) => prop_assert!(false, "unexpected error kind: {e:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn mutated_models_never_panic(muts in proptest::collection::vec(mutation(), 1..6),
                                  base in prop_oneof![Just(TINY_LSTM), Just(IF_SUBGRAPH)],
                                  extra in any::<bool>()) {
        let mut bytes = if extra { with_extra_outputs(base, &["Y", "r"]) } else { base.to_vec() };
        for m in &muts {
            apply(&mut bytes, m);
        }
        check_no_panic(&bytes)?;
        // A graph that decodes can be cut to any of its tensors, and the
        // cut decodes too.
        if let Ok(g) = Graph::parse(&bytes, Path::new("m.onnx")) {
            for t in g.tensors().iter().take(4) {
                if let Some(cut) = pruned_to_outputs(&bytes, &g, &[&t.name]) {
                    prop_assert!(Graph::parse(&cut, Path::new("m.onnx")).is_ok());
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_no_panic(&bytes)?;
    }
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(name).collect()
}

/// `bytes` cut down to `outputs`, decoded again.
fn cut(bytes: &[u8], outputs: &[&str]) -> Graph {
    let g = Graph::parse(bytes, Path::new("m.onnx")).unwrap();
    let cut = pruned_to_outputs(bytes, &g, outputs).unwrap();
    Graph::parse(&cut, Path::new("m.onnx")).unwrap()
}

#[test]
fn pruning_keeps_only_what_an_intermediate_tensor_needs() {
    let g = cut(TINY_LSTM, &["h_seq"]);
    let before = tiny();
    assert_eq!(
        names(&g.nodes, |n| &n.name),
        ["/lstm/LSTM", "/lstm/Squeeze", "/Transpose"]
    );
    assert_eq!(g.nodes[..], before.nodes[..3]);
    assert_eq!(names(&g.outputs, |v| &v.name), ["h_seq"]);
    assert_eq!(g.outputs[0].dtype, None, "an added output is untyped");
    assert_eq!(
        names(&g.initializers, |t| &t.name),
        ["W", "R", "B", "squeeze_axes"]
    );
    assert_eq!(names(&g.inputs, |v| &v.name), ["x", "W"]);
    let vi = names(&g.value_info, |v| &v.name);
    assert!(vi.contains(&"y_sq") && vi.contains(&"h_seq"), "{vi:?}");
    assert!(
        !vi.contains(&"logit") && !vi.contains(&"logit_mm"),
        "{vi:?}"
    );
    assert_eq!(
        g.tensor("h_seq").unwrap().shape,
        Some(vec![f(1), named("seq"), f(4)])
    );
    assert_eq!(
        (g.ir_version, &g.producer, &g.opsets),
        (before.ir_version, &before.producer, &before.opsets)
    );
}

#[test]
fn pruning_to_existing_outputs_keeps_their_types_and_order() {
    let g = cut(TINY_LSTM, &["Y_h"]);
    assert_eq!(names(&g.nodes, |n| &n.name), ["/lstm/LSTM"]);
    assert_eq!(g.outputs, tiny().outputs[1..]);
    assert_eq!(names(&g.initializers, |t| &t.name), ["W", "R", "B"]);

    // Everything needed: the whole graph, with the outputs in the order asked.
    let g = cut(TINY_LSTM, &["Y", "prob"]);
    assert_eq!(g.nodes, tiny().nodes);
    assert_eq!(g.initializers, tiny().initializers);
    assert_eq!(names(&g.outputs, |v| &v.name), ["Y", "prob"]);
    assert_eq!(g.outputs[1], tiny().outputs[0]);
}

#[test]
fn pruning_to_a_graph_input_drops_every_node_and_unused_initializer_inputs() {
    let g = cut(TINY_LSTM, &["x"]);
    assert!(g.nodes.is_empty());
    assert!(g.initializers.is_empty());
    // W is an initializer listed as an input: without its initializer it
    // would become an input to feed, so it goes too; x stays.
    assert_eq!(names(&g.inputs, |v| &v.name), ["x"]);
}

#[test]
fn pruning_refuses_a_kept_node_with_a_subgraph_and_follows_merged_graphs() {
    let g = Graph::parse(IF_SUBGRAPH, Path::new("if.onnx")).unwrap();
    assert_eq!(pruned_to_outputs(IF_SUBGRAPH, &g, &["r"]), None);
    // The If node is not needed for its own input.
    assert!(cut(IF_SUBGRAPH, &["cond"]).nodes.is_empty());

    // A graph given in two `graph` fields (protobuf merges them).
    let mut bytes = model(|g| node(g, "Relu", "", &["a"], &["b"]));
    msg(&mut bytes, 7, |g| {
        node(g, "Neg", "", &["b"], &["c"]);
        node(g, "Abs", "", &["a"], &["d"]);
    });
    let g = cut(&bytes, &["c"]);
    assert_eq!(names(&g.nodes, |n| &n.op_type), ["Relu", "Neg"]);
    assert_eq!(g.ir_version, 9);

    // Nodes out of topological order are still followed back.
    let bytes = model(|g| {
        node(g, "Neg", "", &["b"], &["c"]);
        node(g, "Relu", "", &["a"], &["b"]);
    });
    assert_eq!(
        names(&cut(&bytes, &["c"]).nodes, |n| &n.op_type),
        ["Neg", "Relu"]
    );
}
