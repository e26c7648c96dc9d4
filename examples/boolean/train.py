"""Trains, exports and measures the paper's Boolean-expression LSTM.

Architecture (as in the paper's footnote 1): one-hot input over ``X01|&``,
one LSTM layer with 4 hidden units, a dense layer with a sigmoid on top;
binary cross-entropy on the last timestep plus an L2 activity penalty on the
LSTM output (``reg * mean over the batch of sum_units h_T^2``, as Keras'
``ActivityRegularization(l2=reg)`` on an LSTM that returns its last state);
Adam; 5,000 training and 5,000 held-out sequences (``data.py``).

Writes, beside this file:

* ``boolean.onnx`` / ``boolean-untrained.onnx`` (the untrained twin: the same
  architecture with its random initial weights, seed ``--untrained-seed``);
* ``boolean.luigi.yaml`` / ``boolean-untrained.luigi.yaml`` (model cards);
* ``boolean.meta.json`` (training config, versions, and the accuracies that
  ``evaluate.py`` measures by running the exported ONNX files).

ONNX interface (opset 17, batch-major, batch and time dynamic):
inputs ``tokens`` int64 [batch, time], ``h0`` / ``c0`` float32 [1, batch, 4];
outputs ``prob`` float32 [batch, time] (sigmoid of the dense layer at every
step; a sequence's prediction is its last step), ``hidden`` float32
[batch, time, 4] (the LSTM's hidden sequence), ``hn`` / ``cn`` [1, batch, 4].

Command (from the repository root)::

    python3 examples/boolean/train.py
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402
import evaluate  # noqa: E402

HIDDEN = 4
COMMAND = "python3 examples/boolean/train.py"


class BooleanLSTM(nn.Module):
    """One-hot -> LSTM(4) -> Linear(1) -> sigmoid at every timestep."""

    def __init__(self, vocab: int = len(data.VOCAB), hidden: int = HIDDEN):
        super().__init__()
        self.register_buffer("onehot", torch.eye(vocab), persistent=False)
        self.lstm = nn.LSTM(vocab, hidden, batch_first=True)
        self.dense = nn.Linear(hidden, 1)

    def forward(self, tokens, h0, c0):
        x = self.onehot[tokens]
        hidden, (hn, cn) = self.lstm(x, (h0, c0))
        prob = torch.sigmoid(self.dense(hidden)).squeeze(-1)
        return prob, hidden, hn, cn


def encode(seqs: list[str]) -> torch.Tensor:
    ids = {c: i for i, c in enumerate(data.VOCAB)}
    return torch.tensor([[ids[c] for c in s] for s in seqs], dtype=torch.int64)


def zeros(batch: int) -> torch.Tensor:
    return torch.zeros(1, batch, HIDDEN)


def accuracy(model: BooleanLSTM, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        prob, _, _, _ = model(x, zeros(len(x)), zeros(len(x)))
    return float(((prob[:, -1] > 0.5).float() == y).float().mean())


def export(model: BooleanLSTM, path: Path) -> None:
    model.eval()
    tokens = encode(["XXXXX1|0&1", "XXXXXXXXX1"])
    args = (tokens, zeros(2), zeros(2))
    torch.onnx.export(
        model,
        args,
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["tokens", "h0", "c0"],
        output_names=["prob", "hidden", "hn", "cn"],
        dynamic_axes={
            "tokens": {0: "batch", 1: "time"},
            "h0": {1: "batch"},
            "c0": {1: "batch"},
            "prob": {0: "batch", 1: "time"},
            "hidden": {0: "batch", 1: "time"},
            "hn": {1: "batch"},
            "cn": {1: "batch"},
        },
    )


def write_card(path: Path, model_file: str, untrained: str | None, lstm_y: str) -> None:
    lines = [
        f"# Model card for {model_file}: the paper's Boolean-expression LSTM",
        "# (examples/boolean/train.py). Inputs are X-left-padded expressions",
        "# over 0/1 with | and & evaluated left to right; prob[:, -1] > 0.5 is",
        "# the predicted value of the whole expression.",
        f"model: {model_file}",
        "input:",
        "  name: tokens",
        "  encoding: ids",
        "  layout: batch-major",
        "  causal: true",
        "vocabulary:",
        f'  chars: "{data.VOCAB}"',
        "state:",
        "  - { input: h0, output: hn, layer: lstm }",
        "  - { input: c0, output: cn }",
        "layers:",
        "  lstm: hidden          # [batch, time, 4], graph output",
        f"  lstm_y: {lstm_y}   # the ONNX LSTM's Y, [time, 1, batch, 4]",
    ]
    if untrained:
        lines.append(f"untrained: {untrained}")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--untrained-seed", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--reg", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    train_s, train_y = data.read("train")
    held_s, held_y = data.read("heldout")
    xtr, ytr = encode(train_s), torch.tensor(train_y, dtype=torch.float32)
    xho, yho = encode(held_s), torch.tensor(held_y, dtype=torch.float32)

    torch.manual_seed(args.untrained_seed)
    untrained = BooleanLSTM()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    model = BooleanLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    bce = nn.BCELoss()
    gen = torch.Generator().manual_seed(args.seed)
    history = []
    t0 = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i : i + args.batch]
            xb, yb = xtr[idx], ytr[idx]
            prob, hidden, _, _ = model(xb, zeros(len(xb)), zeros(len(xb)))
            h_last = hidden[:, -1, :]
            loss = bce(prob[:, -1], yb) + args.reg * (h_last**2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        model.eval()
        row = {
            "epoch": epoch,
            "loss": total / len(xtr),
            "train_accuracy": accuracy(model, xtr, ytr),
            "heldout_accuracy": accuracy(model, xho, yho),
        }
        history.append(row)
        print(json.dumps(row), flush=True)
    seconds = time.time() - t0

    export(model, HERE / "boolean.onnx")
    export(untrained, HERE / "boolean-untrained.onnx")
    lstm_y = evaluate.lstm_y_name(HERE / "boolean.onnx")
    write_card(HERE / "boolean.luigi.yaml", "boolean.onnx", "boolean-untrained.onnx", lstm_y)
    write_card(
        HERE / "boolean-untrained.luigi.yaml",
        "boolean-untrained.onnx",
        None,
        evaluate.lstm_y_name(HERE / "boolean-untrained.onnx"),
    )

    import onnx
    import onnxruntime

    meta = {
        "model": "boolean.onnx",
        "untrained": "boolean-untrained.onnx",
        "task": "evaluate X-left-padded Boolean expressions over 0/1 with | and & "
        "under left-to-right precedence (see examples/boolean/data.py)",
        "architecture": {
            "input": f"one-hot over {data.VOCAB!r} (id = position)",
            "lstm_hidden_units": HIDDEN,
            "head": "Linear(4, 1) + sigmoid at every timestep",
        },
        "training": {
            "seed": args.seed,
            "untrained_seed": args.untrained_seed,
            "epochs": args.epochs,
            "batch": args.batch,
            "optimizer": "Adam",
            "lr": args.lr,
            "loss": "binary cross-entropy on the last timestep + reg * mean_batch(sum_units h_T^2)",
            "activity_l2": args.reg,
            "sequence_length": data.LENGTH,
            "threads": args.threads,
            "wall_seconds": round(seconds, 1),
            "history": history,
            "note": "the paper trained 5 epochs with Keras; this run trains "
            f"{args.epochs} epochs with lr {args.lr} (see README)",
        },
        "data": {
            "generator": "examples/boolean/data.py (seed %d)" % data.SEED,
            "train": "examples/boolean/train.txt + train.labels (5,000)",
            "heldout": "examples/boolean/heldout.txt + heldout.labels (5,000)",
            "length": data.LENGTH,
            "max_operands": data.MAX_OPERANDS,
        },
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
            "opset": 17,
        },
        "command": COMMAND,
    }
    (HERE / "boolean.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    evaluate.main([])


if __name__ == "__main__":
    main()
