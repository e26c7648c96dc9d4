"""Measures the exported Boolean models with onnxruntime and records the
numbers in ``boolean.meta.json`` (key ``onnx_measurements``).

Protocol: every line of ``<split>.txt`` is encoded with the card's
vocabulary (``X01|&``, id = position) and run as one sequence from zero state
(``h0 = c0 = 0``); the prediction is ``prob[:, -1] > 0.5``; accuracy =
correct / lines, against ``<split>.labels``.

Also checks, on the first 64 held-out lines, that running the model one token
at a time (feeding ``hn``/``cn`` back as ``h0``/``c0``) reproduces the
full-sequence ``hidden`` and ``prob`` (max abs difference reported, must be
< 1e-5), and that the ``lstm_y`` alias (the ONNX LSTM's ``Y``) holds the same
numbers as ``hidden``.

Command (from the repository root)::

    python3 examples/boolean/evaluate.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402

COMMAND = "python3 examples/boolean/evaluate.py"
HIDDEN = 4


def lstm_y_name(path: Path) -> str:
    """The name of the first LSTM node's ``Y`` output."""
    g = onnx.load(str(path)).graph
    for node in g.node:
        if node.op_type == "LSTM":
            return node.output[0]
    raise ValueError(f"{path}: no LSTM node")


def session(path: Path, extra_output: str | None = None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if extra_output is None:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    m = onnx.load(str(path))
    m.graph.output.append(onnx.helper.make_empty_tensor_value_info(extra_output))
    return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def encode(seqs: list[str]) -> np.ndarray:
    ids = {c: i for i, c in enumerate(data.VOCAB)}
    return np.array([[ids[c] for c in s] for s in seqs], dtype=np.int64)


def run(sess: ort.InferenceSession, tokens: np.ndarray, h=None, c=None):
    b = tokens.shape[0]
    z = np.zeros((1, b, HIDDEN), dtype=np.float32)
    feeds = {"tokens": tokens, "h0": z if h is None else h, "c0": z if c is None else c}
    return sess.run(None, feeds)


def split_accuracy(sess, split: str) -> float:
    seqs, labels = data.read(split)
    prob = run(sess, encode(seqs))[0]
    pred = (prob[:, -1] > 0.5).astype(np.int64)
    return float((pred == np.array(labels)).mean())


def stepwise_check(path: Path) -> dict:
    seqs, _ = data.read("heldout")
    tokens = encode(seqs[:64])
    y_name = lstm_y_name(path)
    sess = session(path, extra_output=y_name)
    prob, hidden, hn, cn, y = run(sess, tokens)
    # Y is [time, num_directions=1, batch, hidden]
    y_diff = float(np.abs(np.transpose(y[:, 0], (1, 0, 2)) - hidden).max())
    h = c = None
    step_h, step_p = [], []
    for t in range(tokens.shape[1]):
        p, hid, h, c = run(session_plain(path), tokens[:, t : t + 1], h, c)[:4]
        step_h.append(hid[:, 0])
        step_p.append(p[:, 0])
    sh = np.stack(step_h, axis=1)
    sp = np.stack(step_p, axis=1)
    hidden_diff = float(np.abs(sh - hidden).max())
    prob_diff = float(np.abs(sp - prob).max())
    state_diff = float(max(np.abs(h - hn).max(), np.abs(c - cn).max()))
    ok = max(hidden_diff, prob_diff, state_diff, y_diff) < 1e-5
    return {
        "sequences": int(tokens.shape[0]),
        "max_abs_diff_hidden": hidden_diff,
        "max_abs_diff_prob": prob_diff,
        "max_abs_diff_final_state": state_diff,
        "max_abs_diff_lstm_y_vs_hidden": y_diff,
        "passed": bool(ok),
    }


_SESSIONS: dict[str, ort.InferenceSession] = {}


def session_plain(path: Path) -> ort.InferenceSession:
    key = str(path)
    if key not in _SESSIONS:
        _SESSIONS[key] = session(path)
    return _SESSIONS[key]


def measure(path: Path) -> dict:
    sess = session_plain(path)
    return {
        "heldout_accuracy": split_accuracy(sess, "heldout"),
        "train_accuracy": split_accuracy(sess, "train"),
        "lstm_y_tensor": lstm_y_name(path),
        "inputs": [i.name for i in sess.get_inputs()],
        "outputs": [o.name for o in sess.get_outputs()],
        "stepwise_check": stepwise_check(path),
    }


def main(argv: list[str]) -> None:
    del argv
    meta_path = HERE / "boolean.meta.json"
    meta = json.loads(meta_path.read_text())
    result = {
        "command": COMMAND,
        "onnxruntime": ort.__version__,
        "protocol": (
            "each line of examples/boolean/<split>.txt encoded with vocabulary 'X01|&' "
            "(id = position), run alone from zero h0/c0; prediction = prob[:, -1] > 0.5; "
            "accuracy = correct / lines against <split>.labels"
        ),
        "trained": measure(HERE / "boolean.onnx"),
        "untrained": measure(HERE / "boolean-untrained.onnx"),
    }
    meta["onnx_measurements"] = result
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not result["trained"]["stepwise_check"]["passed"]:
        raise SystemExit("stepwise check failed")


if __name__ == "__main__":
    main(sys.argv[1:])
