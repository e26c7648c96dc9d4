"""Helper of `cargo bench -p luigi-test --bench record` (not run by tests).

`make DIR`: writes a 128-unit LSTM over a one-hot vocabulary of 100
(random weights, fixed seed) as DIR/bench.onnx with its card, a copy whose
hidden sequence is a graph output (DIR/bench_py.onnx, since Python's
onnxruntime can only fetch graph outputs), and a corpus DIR/corpus.txt.

`serve DIR BATCH`: makes a Python onnxruntime session, reads the corpus
lines, prints their timestep count, then for each `run` line on stdin
records the hidden sequence of every line at that batch size, as Luigi does:
characters to ids, ids to one-hot, run, one contiguous array per sequence.
It prints two numbers: the seconds of the whole pass, and the seconds of its
first step (characters to ids), so the bench can also compare against the
model run alone. Stops at `quit` or the end of stdin.
"""
import sys
import time

import numpy as np

VOCAB = [chr(c) for c in range(32, 127)] + ["\n", "\t", "\r", "\x0b", "\x0c"]  # 100 symbols
UNITS = 128


def make(out):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    v, h = len(VOCAB), UNITS
    W = rng.normal(0, 0.3, (1, 4 * h, v)).astype(np.float32)
    R = rng.normal(0, 0.1, (1, 4 * h, h)).astype(np.float32)
    B = rng.normal(0, 0.1, (1, 8 * h)).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2], name="/Transpose"),
        helper.make_node("LSTM", ["xt", "W", "R", "B"], ["/lstm/Y", "hn", "cn"], hidden_size=h, name="/lstm/LSTM"),
        helper.make_node("Squeeze", ["/lstm/Y", "axes"], ["/lstm/Ys"], name="/Squeeze"),
        helper.make_node("Transpose", ["/lstm/Ys"], ["hidden"], perm=[1, 0, 2], name="/Transpose_1"),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in [(W, "W"), (R, "R"), (B, "B")]]
    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"))

    def model(outputs):
        g = helper.make_graph(
            nodes,
            "bench",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "time", v])],
            outputs,
            inits,
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m

    out_hidden = helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "time", h])
    onnx.save(model([out_hidden]), f"{out}/bench.onnx")
    out_y = helper.make_tensor_value_info("/lstm/Y", TensorProto.FLOAT, ["time", 1, "batch", h])
    onnx.save(model([out_hidden, out_y]), f"{out}/bench_py.onnx")
    import json

    with open(f"{out}/bench.luigi.yaml", "w") as f:
        f.write("input: {name: x, encoding: one-hot, layout: batch-major, causal: true}\n")
        f.write("vocabulary: {chars: %s}\n" % json.dumps("".join(VOCAB)))
        f.write("layers: {lstm: /lstm/Y}\n")
    lines = []
    printable = [c for c in VOCAB if c.isprintable()]
    for i in range(800):
        lines.append("".join(rng.choice(printable, 256)))
    with open(f"{out}/corpus.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


def serve(out, batch):
    import onnxruntime as ort

    sess = ort.InferenceSession(f"{out}/bench_py.onnx", providers=["CPUExecutionProvider"])
    index = {c: i for i, c in enumerate(VOCAB)}
    lines = [line for line in open(f"{out}/corpus.txt").read().split("\n") if line]
    eye = np.eye(len(VOCAB), dtype=np.float32)
    print(sum(len(s) for s in lines), flush=True)
    for command in sys.stdin:
        if command.strip() != "run":
            break
        t0 = time.perf_counter()
        seqs = [np.array([index[c] for c in line], dtype=np.int64) for line in lines]
        encoded = time.perf_counter() - t0
        kept = []
        for i in range(0, len(seqs), batch):
            ids = np.stack(seqs[i : i + batch])
            (y,) = sess.run(["/lstm/Y"], {"x": eye[ids]})
            # [time, 1, batch, h] -> one [len, h] block per sequence
            for b in range(y.shape[2]):
                kept.append(np.ascontiguousarray(y[:, 0, b, :]))
        seconds = time.perf_counter() - t0
        del kept
        print(seconds, encoded, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(f"usage: {sys.argv[0]} make DIR | serve DIR BATCH")
