"""Measures the exported C models with onnxruntime and records the numbers
in ``cmodel.meta.json`` (key ``onnx_measurements``).

Next-character accuracy follows ``corpus.EVAL_PROTOCOL`` (also written to
the metadata as ``eval_protocol``) on four texts: ``eval.c`` (committed),
the held-out headers and the training headers (both rebuilt from the
installed ``linux-libc-dev``, see ``corpus.py``), and a sample of the kernel
training text (``train_kernel_sample``: every 25th window of 256 characters
of it, concatenated; windows are cut as the protocol says, so the sample's
windows are exactly those windows), the held-out kernel C
(``heldout_kernel``: files of the same directories as the kernel training
text, split by file) and a sample of the kernel's drivers
(``heldout_drivers``: ``.c`` files under ``drivers/``, a directory no
training text comes from).  Rules in ``corpus.py``.

Also checks, on the first 4 windows of ``eval.c``, that running the model one
token at a time (feeding ``hn``/``cn`` back as ``h0``/``c0``) reproduces the
full-window ``hidden`` and ``logits`` (max abs difference must be < 1e-5), and
that the ``lstm_y`` alias (the ONNX LSTM's ``Y``) holds the same numbers as
``hidden``.

Command (from the repository root; a few minutes)::

    python3 examples/cmodel/evaluate.py
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

import corpus  # noqa: E402

COMMAND = "python3 examples/cmodel/evaluate.py"
HIDDEN = 128
KERNEL_SAMPLE_EVERY = 25


def lstm_y_name(path: Path) -> str:
    """The name of the first LSTM node's ``Y`` output."""
    for node in onnx.load(str(path)).graph.node:
        if node.op_type == "LSTM":
            return node.output[0]
    raise ValueError(f"{path}: no LSTM node")


def session(path: Path, extra_output: str | None = None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model = str(path)
    if extra_output is not None:
        m = onnx.load(model)
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(extra_output))
        model = m.SerializeToString()
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def stepwise_check(path: Path, ids: np.ndarray) -> dict:
    tokens = np.stack(corpus.windows(ids)[:4])
    y_name = lstm_y_name(path)
    full = session(path, extra_output=y_name)
    z = np.zeros((1, len(tokens), HIDDEN), dtype=np.float32)
    logits, hidden, hn, cn, y = full.run(None, {"tokens": tokens, "h0": z, "c0": z})
    y_diff = float(np.abs(np.transpose(y[:, 0], (1, 0, 2)) - hidden).max())
    sess = session(path)
    h, c = z, z
    step_h, step_l = [], []
    for t in range(tokens.shape[1]):
        lg, hid, h, c = sess.run(None, {"tokens": tokens[:, t : t + 1], "h0": h, "c0": c})
        step_h.append(hid[:, 0])
        step_l.append(lg[:, 0])
    hidden_diff = float(np.abs(np.stack(step_h, 1) - hidden).max())
    logits_diff = float(np.abs(np.stack(step_l, 1) - logits).max())
    state_diff = float(max(np.abs(h - hn).max(), np.abs(c - cn).max()))
    return {
        "windows": int(len(tokens)),
        "steps": int(tokens.shape[1]),
        "max_abs_diff_hidden": hidden_diff,
        "max_abs_diff_logits": logits_diff,
        "max_abs_diff_final_state": state_diff,
        "max_abs_diff_lstm_y_vs_hidden": y_diff,
        "passed": bool(max(hidden_diff, logits_diff, state_diff, y_diff) < 1e-5),
    }


def main(argv: list[str]) -> None:
    del argv
    vocab = json.loads((HERE / "vocab.json").read_text())
    if vocab != corpus.VOCAB:
        raise SystemExit("vocab.json differs from corpus.VOCAB")
    eval_ids = corpus.encode((HERE / "eval.c").read_text(encoding="utf-8"))
    _, train_text, held_text = corpus.provenance()
    _, kernel_text, heldout_kernel_text = corpus.kernel_provenance(held_text)
    drivers_prov, drivers_text = corpus.heldout_drivers_provenance()
    kernel_ids = corpus.encode(kernel_text)
    del kernel_text
    # every KERNEL_SAMPLE_EVERY-th window of the kernel training text
    kernel_sample = np.concatenate(corpus.windows(kernel_ids)[::KERNEL_SAMPLE_EVERY])
    texts = {
        "eval_c": eval_ids,
        "heldout": corpus.encode(held_text),
        "train": corpus.encode(train_text),
        "train_kernel_sample": kernel_sample,
        "heldout_kernel": corpus.encode(heldout_kernel_text),
        "heldout_drivers": corpus.encode(drivers_text),
    }
    result = {"command": COMMAND, "onnxruntime": ort.__version__,
              "eval_protocol": corpus.EVAL_PROTOCOL}
    for key, name in (("trained", "cmodel.onnx"), ("untrained", "cmodel-untrained.onnx")):
        path = HERE / name
        sess = session(path)
        r = {name_: corpus.onnx_accuracy(sess, ids, HIDDEN) for name_, ids in texts.items()}
        r["lstm_y_tensor"] = lstm_y_name(path)
        r["inputs"] = [i.name for i in sess.get_inputs()]
        r["outputs"] = [o.name for o in sess.get_outputs()]
        r["stepwise_check"] = stepwise_check(path, eval_ids)
        result[key] = r
        print(key, json.dumps({k: v for k, v in r.items()}, indent=1), flush=True)
    meta_path = HERE / "cmodel.meta.json"
    meta = json.loads(meta_path.read_text())
    meta["onnx_measurements"] = result
    meta["data"]["heldout_drivers"] = drivers_prov
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    if not result["trained"]["stepwise_check"]["passed"]:
        raise SystemExit("stepwise check failed")


if __name__ == "__main__":
    main(sys.argv[1:])
