"""Writes a copy of the boolean LSTM whose hidden units are permuted.

The permuted model computes exactly the same function (the same
probabilities at every step); only the order of its 4 hidden units
changes: unit ``j`` of the new model is unit ``perm[j]`` of the original.
It stands in for a retrained model whose units came out in another order:
"some unit" assertions must still pass on it, and a ranking snapshot of the
original must diff as moves ("unit 2 -> unit 0") rather than as a new
model.

The ONNX ``LSTM`` stores, per gate (order i, o, f, c), a block of ``H``
rows in ``W`` ``[1, 4H, input]``, ``R`` ``[1, 4H, H]`` and ``B``
``[1, 8H]`` (the input biases then the recurrent biases). Permuting the
hidden units permutes the rows of every gate block of ``W``, ``R`` and both
halves of ``B``, the columns of ``R`` (which multiply the previous hidden
state), and the rows of the dense head ``[H, 1]`` that reads ``hidden``.
The initial states ``h0``/``c0`` are inputs (zeros in practice) and need no
change.

Writes, beside this file: ``boolean-permuted.onnx`` and its card
``boolean-permuted.luigi.yaml``; then runs both models in onnxruntime on the
first 500 held-out expressions and stops with an error unless the hidden
states match after permutation and the probabilities match, to 1e-6.

Command (from the repository root)::

    python3 examples/boolean/permute_units.py            # perm 2,0,3,1
    python3 examples/boolean/permute_units.py --perm 3,2,1,0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
VOCAB = "X01|&"


def permute(model: onnx.ModelProto, perm: list[int]) -> onnx.ModelProto:
    """Returns a copy of ``model`` with the LSTM's hidden units permuted."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    lstm = [n for n in g.node if n.op_type == "LSTM"]
    if len(lstm) != 1:
        sys.exit(f"expected one LSTM node, found {len(lstm)}")
    node = lstm[0]
    hidden = next(a.i for a in node.attribute if a.name == "hidden_size")
    if sorted(perm) != list(range(hidden)):
        sys.exit(f"--perm must be a permutation of 0..{hidden - 1}, got {perm}")
    inits = {i.name: i for i in g.initializer}
    w_name, r_name, b_name = node.input[1], node.input[2], node.input[3]
    # Rows of each of the 4 gate blocks, in the new order.
    rows = np.concatenate([np.array(perm) + k * hidden for k in range(4)])

    def replace(name: str, array: np.ndarray) -> None:
        t = numpy_helper.from_array(array.astype(np.float32), name)
        inits[name].CopyFrom(t)

    w = numpy_helper.to_array(inits[w_name])  # [1, 4H, input]
    replace(w_name, w[:, rows, :])
    r = numpy_helper.to_array(inits[r_name])  # [1, 4H, H]
    replace(r_name, r[:, rows, :][:, :, perm])
    b = numpy_helper.to_array(inits[b_name])  # [1, 8H]
    replace(b_name, np.concatenate([b[:, :4 * hidden][:, rows], b[:, 4 * hidden:][:, rows]], axis=1))
    # The dense head reads `hidden` [batch, time, H] with MatMul by [H, 1].
    heads = [n for n in g.node if n.op_type == "MatMul" and "hidden" in n.input]
    if len(heads) != 1:
        sys.exit(f"expected one MatMul reading `hidden`, found {len(heads)}")
    head = next(i for i in heads[0].input if i in inits)
    d = numpy_helper.to_array(inits[head])  # [H, 1]
    replace(head, d[perm, :])
    return out


def encode(lines: list[str]) -> np.ndarray:
    ids = [[VOCAB.index(c) for c in line] for line in lines]
    return np.array(ids, dtype=np.int64)


def run(path: Path, tokens: np.ndarray) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    zeros = np.zeros((1, tokens.shape[0], 4), dtype=np.float32)
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, {"tokens": tokens, "h0": zeros, "c0": zeros})
    return dict(zip(names, outs))


def write_card(path: Path, model_file: str, perm: list[int]) -> None:
    original = (HERE / "boolean.luigi.yaml").read_text()
    body = [line for line in original.splitlines() if not line.startswith("#")]
    body = [f"model: {model_file}" if line.startswith("model:") else line for line in body]
    header = [
        f"# Model card for {model_file}: boolean.onnx with its 4 hidden units permuted",
        "# (written by examples/boolean/permute_units.py; do not edit by hand).",
        f"# Unit j of this model is unit perm[j] of boolean.onnx, perm = {perm}.",
    ]
    path.write_text("\n".join(header + body) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--perm", default="2,0,3,1", help="new unit j = old unit perm[j]")
    args = ap.parse_args()
    perm = [int(x) for x in args.perm.split(",")]
    src = HERE / "boolean.onnx"
    dst = HERE / "boolean-permuted.onnx"
    onnx.save(permute(onnx.load(str(src)), perm), str(dst))
    write_card(HERE / "boolean-permuted.luigi.yaml", dst.name, perm)

    lines = (HERE / "heldout.txt").read_text().split()[:500]
    tokens = encode(lines)
    a, b = run(src, tokens), run(dst, tokens)
    dh = np.abs(a["hidden"][:, :, perm] - b["hidden"]).max()
    dp = np.abs(a["prob"] - b["prob"]).max()
    if dh > 1e-6 or dp > 1e-6:
        sys.exit(f"permuted model differs: hidden {dh:.2e}, prob {dp:.2e}")
    print(f"wrote {dst.relative_to(HERE.parent.parent)} (perm {perm}); "
          f"max |hidden diff| after permutation {dh:.1e}, max |prob diff| {dp:.1e}")


if __name__ == "__main__":
    main()
