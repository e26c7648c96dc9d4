"""Helper of `cargo bench -p luigi-test --bench record` (not run by tests).

`make DIR`: writes the benchmark's inputs into DIR:
- the synthetic model: a 128-unit LSTM over a one-hot vocabulary of 100
  (random weights, fixed seed) as DIR/bench.onnx with its card, and a corpus
  DIR/corpus.txt of 800 random lines of 256 characters;
- DIR/bench_py.onnx: bench.onnx with the LSTM's hidden sequence `/lstm/Y`
  added as a graph output (Python's onnxruntime can only fetch graph
  outputs), its own output kept: what a Python user would run;
- DIR/bench_cut.onnx and DIR/cmodel_cut.onnx: the synthetic model and the
  example C model (examples/cmodel/cmodel.onnx) cut by `onnx.utils` down to
  the nodes that the recorded tensor needs: what Luigi runs, for the
  strictest comparison.

`serve DIR MODEL BATCH` (MODEL: `synthetic` or `cmodel`): makes Python
onnxruntime sessions, reads the corpus (synthetic: DIR/corpus.txt, one
sequence per line; cmodel: examples/cmodel/eval.c three times over, cut
into windows of 256 characters, as `Corpus::from_text_windows` cuts it),
prints its timestep count, then for each line on stdin records the hidden
sequence of every sequence at that batch size, as Luigi does: characters to
ids, ids to the model's input, run, one contiguous array per sequence.
`run` runs the model as it comes (the synthetic one with `/lstm/Y` added),
`cut` the cut graph. It prints two numbers: the seconds of the whole pass,
and the seconds of its first step (characters to ids). Stops at `quit` or
the end of stdin.
"""
import json
import os
import sys
import time

import numpy as np

VOCAB = [chr(c) for c in range(32, 127)] + ["\n", "\t", "\r", "\x0b", "\x0c"]  # 100 symbols
UNITS = 128
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CMODEL = os.path.join(ROOT, "examples", "cmodel")
WINDOW = 256


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
    onnx.utils.extract_model(f"{out}/bench_py.onnx", f"{out}/bench_cut.onnx", ["x"], ["/lstm/Y"])
    onnx.utils.extract_model(
        os.path.join(CMODEL, "cmodel.onnx"), f"{out}/cmodel_cut.onnx", ["tokens", "h0", "c0"], ["hidden"]
    )
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


def cmodel_text():
    """The C model's bench corpus text: eval.c three times over."""
    with open(os.path.join(CMODEL, "eval.c"), encoding="utf-8") as f:
        return f.read() * 3


class Synthetic:
    """The one-hot LSTM: `/lstm/Y` is [time, 1, batch, 128]."""

    def __init__(self, out, ort):
        self.sessions = {
            "run": ort.InferenceSession(f"{out}/bench_py.onnx", providers=["CPUExecutionProvider"]),
            "cut": ort.InferenceSession(f"{out}/bench_cut.onnx", providers=["CPUExecutionProvider"]),
        }
        self.index = {c: i for i, c in enumerate(VOCAB)}
        self.texts = [line for line in open(f"{out}/corpus.txt").read().split("\n") if line]
        self.eye = np.eye(len(VOCAB), dtype=np.float32)

    def ids(self, text):
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def run(self, which, seqs, kept):
        ids = np.stack(seqs)
        (y,) = self.sessions[which].run(["/lstm/Y"], {"x": self.eye[ids]})
        for b in range(y.shape[2]):
            kept.append(np.ascontiguousarray(y[:, 0, b, :]))


class CModel:
    """examples/cmodel: int64 ids, state inputs h0/c0, `hidden` is [batch, time, 128]."""

    def __init__(self, out, ort):
        self.sessions = {
            "run": ort.InferenceSession(os.path.join(CMODEL, "cmodel.onnx"), providers=["CPUExecutionProvider"]),
            "cut": ort.InferenceSession(f"{out}/cmodel_cut.onnx", providers=["CPUExecutionProvider"]),
        }
        with open(os.path.join(CMODEL, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        self.index = {c: i for i, c in enumerate(vocab)}
        text = cmodel_text()
        self.texts = [text[i : i + WINDOW] for i in range(0, len(text), WINDOW)]

    def ids(self, text):
        return np.array([self.index.get(c, 0) for c in text], dtype=np.int64)

    def run(self, which, seqs, kept):
        # The last window may be shorter: right-padded with the unknown id
        # (the model is causal), the padding cut off the kept rows.
        time_ = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), time_), dtype=np.int64)
        for b, s in enumerate(seqs):
            ids[b, : len(s)] = s
        zeros = np.zeros((1, len(seqs), UNITS), dtype=np.float32)
        (y,) = self.sessions[which].run(["hidden"], {"tokens": ids, "h0": zeros, "c0": zeros})
        # `hidden` is batch-major, so each sequence's rows are already
        # contiguous in `y`: copy them, as Luigi copies them into its own
        # buffers (a view would keep the whole batch's output alive instead).
        for b, s in enumerate(seqs):
            kept.append(y[b, : len(s), :].copy())


def serve(out, name, batch):
    import onnxruntime as ort

    model = {"synthetic": Synthetic, "cmodel": CModel}[name](out, ort)
    print(sum(len(s) for s in model.texts), flush=True)
    for command in sys.stdin:
        which = command.strip()
        if which not in ("run", "cut"):
            break
        t0 = time.perf_counter()
        seqs = [model.ids(text) for text in model.texts]
        encoded = time.perf_counter() - t0
        kept = []
        for i in range(0, len(seqs), batch):
            model.run(which, seqs[i : i + batch], kept)
        seconds = time.perf_counter() - t0
        del kept
        print(seconds, encoded, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"usage: {sys.argv[0]} make DIR | serve DIR synthetic|cmodel BATCH")
