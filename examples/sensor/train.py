"""A GRU that reads a numeric sensor stream with a hidden regime, trained to
name the regime at every step, exported to ONNX with its card, metadata and
data (numpy `.npy`, the corpus format Luigi reads for `input.encoding:
float`).

The signal (`stream` below): two features per step. Feature 1 is a switch
event, 1 with probability 0.08 and otherwise 0 (with a little noise). The
regime starts at 0 and flips at every event. Feature 0 is a level that
follows the regime weakly: mean -0.5 in regime 0, +0.5 in regime 1, with
noise of standard deviation 1. To name the regime the model must count the
events mod 2 (the level alone is a poor guide): the known internal logic is
a two-state automaton over feature 1, which Luigi's list format writes as
`fsm: {…, over: {feature: 1, cuts: [0.5]}}`.

    pip install torch onnx
    python3 examples/sensor/train.py        # about a minute on 2 CPU cores

writes examples/sensor/sensor.onnx, sensor.luigi.yaml, sensor.meta.json,
heldout.npy (with heldout.lengths.npy) and train.npy. The graph outputs:
`hidden` (the GRU's output, [batch, time, 16]) and `logits` ([batch, time,
2], the regime).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent


def stream(rng: np.random.Generator, n: int, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` sequences of `t` steps: inputs [n, t, 2], regimes [n, t], lengths [n]."""
    events = (rng.random((n, t)) < 0.08).astype(np.float32)
    regime = (np.cumsum(events, axis=1) % 2).astype(np.int64)
    x = np.zeros((n, t, 2), dtype=np.float32)
    x[:, :, 0] = (regime - 0.5) + rng.normal(size=(n, t))
    x[:, :, 1] = events + 0.05 * rng.normal(size=(n, t))
    lengths = rng.integers(t // 2, t + 1, size=n).astype(np.int64)
    return x, regime, lengths


class Model(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor):
        h, _ = self.gru(x)
        return self.head(h), h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    x, y, lengths = stream(rng, 4000, 100)
    hx, hy, hl = stream(np.random.default_rng(args.seed + 1000), 500, 100)
    model = Model(args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    started = time.time()
    for step in range(1, args.steps + 1):
        idx = rng.integers(0, len(x), size=64)
        logits, _ = model(torch.from_numpy(x[idx]))
        loss = loss_fn(logits.reshape(-1, 2), torch.from_numpy(y[idx]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0:
            print(f"step {step} loss {loss.item():.4f} ({time.time() - started:.0f} s)", flush=True)
    seconds = time.time() - started
    model.eval()
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(hx))
    pred = logits.argmax(-1).numpy()
    mask = np.arange(hx.shape[1])[None, :] < hl[:, None]
    accuracy = float((pred == hy)[mask].mean())
    level_only = float((((hx[:, :, 0] > 0).astype(np.int64)) == hy)[mask].mean())
    print(json.dumps({"heldout_accuracy": accuracy, "level_only_accuracy": level_only}))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "heldout.npy", hx)
    np.save(out / "heldout.lengths.npy", hl)
    np.save(out / "train.npy", x[:500])
    np.save(out / "train.lengths.npy", lengths[:500])
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.zeros((2, 5, 2)),),
            str(out / "sensor.onnx"),
            input_names=["x"],
            output_names=["logits", "hidden"],
            dynamic_axes={n: {0: "batch", 1: "time"} for n in ("x", "logits", "hidden")},
            opset_version=17,
            dynamo=False,
        )
    card = f"""# Card of sensor.onnx: a GRU ({args.hidden} units) reading a 2-feature sensor stream,
# trained to name the hidden regime by examples/sensor/train.py.
model: sensor.onnx
input:
  name: x
  encoding: float       # feature vectors: [batch, time, 2]
  layout: batch-major
  causal: true          # a unidirectional GRU: right padding cannot change earlier steps
logits: logits
layers:
  gru: hidden           # [batch, time, {args.hidden}] the GRU's output at every step
untrained: sensor-untrained.onnx
"""
    (out / "sensor.luigi.yaml").write_text(card)
    root = HERE.parent.parent
    meta = {
        "command": "python3 examples/sensor/train.py",
        "args": {k: (str(Path(v).resolve().relative_to(root)) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "heldout": {"sequences": int(len(hx)), "accuracy": accuracy, "level_only_accuracy": level_only},
        "final_train_loss": round(float(loss.item()), 4),
    }
    (out / "sensor.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out / 'sensor.onnx'} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
