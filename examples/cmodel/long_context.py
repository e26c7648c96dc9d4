"""Next-character accuracy of a C model under two protocols on the held-out
kernel C files (see ``corpus.py``): ``windows`` is ``corpus.EVAL_PROTOCOL``
(256-character windows, each from zero state); ``whole_files`` runs every
file as one sequence from zero state, the state carried through the file,
and scores every position but each file's last.

Command (from the repository root; a few minutes per model)::

    python3 examples/cmodel/long_context.py examples/cmodel/cmodel.onnx examples/cmodel/cmodel-tbptt.onnx
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import evaluate  # noqa: E402


def whole_files(sess, files: list[np.ndarray]) -> dict:
    correct = scored = 0
    for ids in files:
        if len(ids) < 2:
            continue
        z = np.zeros((corpus.state_layers(sess), 1, evaluate.HIDDEN), dtype=np.float32)
        logits = sess.run(["logits"], {"tokens": ids[None, :], "h0": z, "c0": z})[0]
        pred = logits[0, :-1].argmax(-1)
        correct += int((pred == ids[1:]).sum())
        scored += len(ids) - 1
    return {"accuracy": correct / scored, "correct": correct, "scored": scored, "files": len(files)}


def main(paths: list[str]) -> None:
    _, _, held_text = corpus.provenance()
    root = corpus.kernel_tree()
    kept, _ = corpus.kernel_files(root, held_text)
    _, held = corpus.split_kernel_files(kept)
    files = [corpus.encode(corpus.read_text([str(root / f)])) for f in held]
    out = {}
    for p in paths:
        sess = evaluate.session(Path(p))
        out[Path(p).name] = {
            "windows": corpus.onnx_accuracy(sess, np.concatenate(files), evaluate.HIDDEN),
            "whole_files": whole_files(sess, files),
        }
        print(json.dumps({Path(p).name: out[Path(p).name]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
