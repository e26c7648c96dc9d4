"""Writes the tiny ONNX fixtures used by the unit tests of `model::graph`.

Run from anywhere (needs the `onnx` Python package; `onnxruntime` optional,
used only to check that the models run):

    python3 luigi-test/src/model/graph/testdata/make_testdata.py

Outputs, next to this script:

- `tiny_lstm.onnx`: a PyTorch-export-like LSTM. x[seq,1,3] -> LSTM(hidden 4)
  -> Y[seq,1,1,4] -> Squeeze(axis 1) -> Transpose -> h_seq[1,seq,4] -> MatMul
  -> Add -> Sigmoid -> prob[1,seq,1]. Outputs prob and Y_h; Y_c is omitted
  (empty output name). value_info comes from ONNX shape inference, with the last
  dimension of `logit` cleared (an unknown dimension). W, R, B, axes, dense weights
  are initializers; W is also listed as a graph input (old-exporter style).
- `if_subgraph.onnx`: an `If` node whose branches are subgraphs, to check
  that subgraph bodies are skipped.

Deterministic: fixed seed, fixed producer fields.
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def tiny_lstm():
    rng = np.random.default_rng(7)
    hidden, feat = 4, 3
    inits = [
        numpy_helper.from_array(rng.normal(size=(1, 4 * hidden, feat)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(size=(1, 4 * hidden, hidden)).astype(np.float32), "R"),
        numpy_helper.from_array(rng.normal(size=(1, 8 * hidden)).astype(np.float32), "B"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "squeeze_axes"),
        numpy_helper.from_array(rng.normal(size=(hidden, 1)).astype(np.float32), "dense_w"),
        numpy_helper.from_array(np.zeros((1,), dtype=np.float32), "dense_b"),
    ]
    nodes = [
        helper.make_node(
            "LSTM", ["x", "W", "R", "B"], ["Y", "Y_h", ""], name="/lstm/LSTM",
            hidden_size=hidden, direction="forward",
            activations=["Sigmoid", "Tanh", "Tanh"], clip=50.0,
        ),
        helper.make_node("Squeeze", ["Y", "squeeze_axes"], ["y_sq"], name="/lstm/Squeeze"),
        helper.make_node("Transpose", ["y_sq"], ["h_seq"], name="/Transpose", perm=[1, 0, 2]),
        helper.make_node("MatMul", ["h_seq", "dense_w"], ["logit_mm"], name="/dense/MatMul"),
        helper.make_node("Add", ["logit_mm", "dense_b"], ["logit"], name="/dense/Add"),
        helper.make_node("Sigmoid", ["logit"], ["prob"], name="/Sigmoid"),
    ]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["seq", 1, feat]),
        helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 4 * hidden, feat]),
    ]
    outputs = [
        helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, "seq", 1]),
        helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, 1, hidden]),
    ]
    graph = helper.make_graph(nodes, "tiny_lstm", inputs, outputs, initializer=inits)
    model = helper.make_model(
        graph, producer_name="luigi-testdata", producer_version="1",
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    model = onnx.shape_inference.infer_shapes(model)
    # A dimension with neither value nor name: Dim::Unknown.
    (vi,) = [v for v in model.graph.value_info if v.name == "logit"]
    vi.type.tensor_type.shape.dim[2].Clear()
    onnx.checker.check_model(model)
    return model


def if_subgraph():
    then_g = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["then_out"], name="then_id")],
        "then", [], [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [2])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["a"], ["else_out"], name="else_neg")],
        "else", [], [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [2])],
    )
    nodes = [helper.make_node("If", ["cond"], ["r"], name="branch",
                              then_branch=then_g, else_branch=else_g)]
    graph = helper.make_graph(
        nodes, "if_subgraph",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("a", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, producer_name="luigi-testdata",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    for name, model in [("tiny_lstm.onnx", tiny_lstm()), ("if_subgraph.onnx", if_subgraph())]:
        path = os.path.join(HERE, name)
        onnx.save(model, path)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    try:
        import onnxruntime as ort
    except ImportError:
        return
    sess = ort.InferenceSession(os.path.join(HERE, "tiny_lstm.onnx"))
    out = sess.run(None, {"x": np.ones((5, 1, 3), dtype=np.float32)})
    print("tiny_lstm runs:", [o.shape for o in out])


if __name__ == "__main__":
    main()
