"""The Python side of the scale benchmark: onnxruntime extracting the same
tensors Luigi records (`resid1` ... `resid12` of make_model.py's model) over
the same windows, in batches, keeping only a running sum per unit (so every
value is read and nothing is kept).

    python3 examples/scale/ort_extract.py target/scale/gpt12.onnx CORPUS --window 1024 --batch 4

Prints one JSON line: seconds, peak resident memory (KB), timesteps.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    start = time.perf_counter()
    vocab = json.loads((args.model.parent / "vocab.json").read_text())
    index = {c: i for i, c in enumerate(vocab)}
    text = args.corpus.read_text()
    ids = np.array([index.get(c, 0) for c in text], dtype=np.int64)
    windows = [ids[i : i + args.window] for i in range(0, len(ids), args.window)]
    session = ort.InferenceSession(str(args.model), providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs() if o.name.startswith("resid")]
    sums = None
    steps = 0
    # Windows of equal length batch together; the last may be shorter.
    by_len: dict[int, list[np.ndarray]] = {}
    for w in windows:
        by_len.setdefault(len(w), []).append(w)
    for length, group in by_len.items():
        for b in range(0, len(group), args.batch):
            batch = np.stack(group[b : b + args.batch])
            got = session.run(outputs, {"tokens": batch})
            flat = np.concatenate([g.reshape(-1, g.shape[-1]) for g in got], axis=1)
            s = flat.sum(axis=0, dtype=np.float64)
            sums = s if sums is None else sums + s
            steps += batch.size
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_kb": peak_kb, "timesteps": steps, "units": int(sums.shape[0])}))


if __name__ == "__main__":
    main()
