"""Trains, exports and measures the character-level C model (the paper's
replication of Karpathy et al.): next-character prediction with one LSTM
layer of 128 units over one-hot characters, then a linear layer to logits.

Training text: the headers of Debian's ``linux-libc-dev`` (see
``corpus.py`` for the file list, split and vocabulary).  Every step takes
``--batch`` windows of ``--seq + 1`` characters at random offsets of the
training text (numpy ``default_rng(--seed)``), runs each from zero state (as
the evaluation protocol does) and minimises the mean cross-entropy of the
next character at every position; Adam, gradient norm clipped to ``--clip``,
learning rate constant for the first 70% of the steps and then decayed
linearly to 10% of ``--lr``.

Writes, beside this file: ``cmodel.onnx``, ``cmodel-untrained.onnx`` (same
architecture, its random initial weights, seed ``--untrained-seed``), their
cards ``cmodel.luigi.yaml`` / ``cmodel-untrained.luigi.yaml``, ``vocab.json``
and ``cmodel.meta.json``; then runs ``evaluate.py`` to measure them with
onnxruntime.

ONNX interface (opset 17, batch-major, batch and time dynamic): inputs
``tokens`` int64 [batch, time], ``h0`` / ``c0`` float32 [1, batch, 128];
outputs ``logits`` float32 [batch, time, 98], ``hidden`` float32
[batch, time, 128] (the LSTM's hidden sequence), ``hn`` / ``cn``.

Command (from the repository root; about 30 minutes of training on 2 shared CPU
threads, then a few minutes of measurement)::

    python3 examples/cmodel/train.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# On a shared, oversubscribed machine OpenMP threads that spin while waiting
# slow every step down several times; let them sleep instead.  Set before
# torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

HIDDEN = 128
VOCAB = len(corpus.VOCAB)
COMMAND = "python3 examples/cmodel/train.py"


class CharLSTM(nn.Module):
    """One-hot -> LSTM(128) -> Linear(128, vocab)."""

    def __init__(self, vocab: int = VOCAB, hidden: int = HIDDEN):
        super().__init__()
        self.register_buffer("onehot", torch.eye(vocab), persistent=False)
        self.lstm = nn.LSTM(vocab, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens, h0, c0):
        x = self.onehot[tokens]
        hidden, (hn, cn) = self.lstm(x, (h0, c0))
        return self.head(hidden), hidden, hn, cn


def zeros(batch: int) -> torch.Tensor:
    return torch.zeros(1, batch, HIDDEN)


def export(model: CharLSTM, path: Path) -> None:
    model.eval()
    tokens = torch.tensor(corpus.encode("int main(void)\n{\n\treturn 0;\n}\n")[None, :].repeat(2, 0))
    torch.onnx.export(
        model,
        (tokens, zeros(2), zeros(2)),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["tokens", "h0", "c0"],
        output_names=["logits", "hidden", "hn", "cn"],
        dynamic_axes={
            "tokens": {0: "batch", 1: "time"},
            "h0": {1: "batch"},
            "c0": {1: "batch"},
            "logits": {0: "batch", 1: "time"},
            "hidden": {0: "batch", 1: "time"},
            "hn": {1: "batch"},
            "cn": {1: "batch"},
        },
    )


def write_card(path: Path, model_file: str, untrained: str | None, lstm_y: str) -> None:
    lines = [
        f"# Model card for {model_file}: character-level LSTM (128 units) predicting",
        "# the next character of C source (examples/cmodel/train.py).",
        f"model: {model_file}",
        "input:",
        "  name: tokens",
        "  encoding: ids",
        "  layout: batch-major",
        "  causal: true",
        "vocabulary:",
        "  file: vocab.json     # id 0 = unknown (U+FFFD), then \\t, \\n, ' '..'~'",
        f"  unknown: {corpus.UNKNOWN}",
        "state:",
        "  - { input: h0, output: hn }",
        "  - { input: c0, output: cn }",
        "logits: logits",
        "layers:",
        "  lstm: hidden          # [batch, time, 128], graph output",
        f"  lstm_y: {lstm_y}   # the ONNX LSTM's Y, [time, 1, batch, 128]",
    ]
    if untrained:
        lines.append(f"untrained: {untrained}")
    path.write_text("\n".join(lines) + "\n")


def lr_at(step: int, steps: int, lr: float) -> float:
    start = int(0.7 * steps)
    if step < start:
        return lr
    return lr * (1.0 - 0.9 * (step - start) / max(1, steps - start))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--untrained-seed", type=int, default=2)
    ap.add_argument("--steps", type=int, default=12000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--time-only", type=int, default=0, help="time this many steps and exit")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    prov, train_text, held_text = corpus.provenance()
    train_ids = torch.from_numpy(corpus.encode(train_text))
    held_ids = corpus.encode(held_text)
    print(
        f"train {prov['train_chars']} chars in {prov['train_files']} files, "
        f"held-out {prov['heldout_chars']} chars in {prov['heldout_files']} files",
        flush=True,
    )
    # a fixed held-out probe for the training log (torch, not the reported number)
    probe = torch.from_numpy(np.stack(corpus.windows(held_ids)[:64]))

    torch.manual_seed(args.untrained_seed)
    untrained = CharLSTM()
    torch.manual_seed(args.seed)
    model = CharLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    loss_fn = nn.CrossEntropyLoss()
    offsets_max = len(train_ids) - args.seq - 1
    ar = torch.arange(args.seq + 1)
    history = []
    t0 = time.time()
    steps = args.time_only or args.steps
    run_loss = run_acc = 0.0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, args.lr)
        starts = torch.from_numpy(rng.integers(0, offsets_max, size=args.batch))
        chunk = train_ids[starts[:, None] + ar[None, :]]
        x, y = chunk[:, :-1], chunk[:, 1:]
        model.train()
        logits, _, _, _ = model(x, zeros(args.batch), zeros(args.batch))
        loss = loss_fn(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        run_loss += loss.item()
        run_acc += float((logits.argmax(-1) == y).float().mean())
        if (step + 1) % args.log_every == 0 or step + 1 == steps:
            n = (step + 1) % args.log_every or args.log_every
            model.eval()
            with torch.no_grad():
                pl, _, _, _ = model(probe, zeros(len(probe)), zeros(len(probe)))
                pacc = float((pl[:, :-1].argmax(-1) == probe[:, 1:]).float().mean())
            row = {
                "step": step + 1,
                "seconds": round(time.time() - t0, 1),
                "lr": opt.param_groups[0]["lr"],
                "train_loss": run_loss / n,
                "train_batch_accuracy": run_acc / n,
                "heldout_probe_accuracy": pacc,
            }
            history.append(row)
            print(json.dumps(row), flush=True)
            run_loss = run_acc = 0.0
    seconds = time.time() - t0
    if args.time_only:
        print(f"{args.time_only} steps: {seconds:.1f}s, {seconds / args.time_only:.3f}s/step")
        return

    corpus.write_vocab(HERE / "vocab.json")
    export(model, HERE / "cmodel.onnx")
    export(untrained, HERE / "cmodel-untrained.onnx")
    import evaluate  # noqa: E402
    import onnx
    import onnxruntime

    write_card(HERE / "cmodel.luigi.yaml", "cmodel.onnx", "cmodel-untrained.onnx",
               evaluate.lstm_y_name(HERE / "cmodel.onnx"))
    write_card(HERE / "cmodel-untrained.luigi.yaml", "cmodel-untrained.onnx", None,
               evaluate.lstm_y_name(HERE / "cmodel-untrained.onnx"))
    chars_seen = steps * args.batch * args.seq
    meta = {
        "model": "cmodel.onnx",
        "untrained": "cmodel-untrained.onnx",
        "task": "next-character prediction on C source",
        "architecture": {
            "input": f"one-hot over vocab.json ({VOCAB} ids, id 0 = unknown)",
            "lstm_hidden_units": HIDDEN,
            "head": f"Linear({HIDDEN}, {VOCAB}) -> logits",
        },
        "training": {
            "seed": args.seed,
            "untrained_seed": args.untrained_seed,
            "steps": steps,
            "batch": args.batch,
            "sequence_length": args.seq,
            "sampling": "each step: batch windows of sequence_length+1 ids at uniform random "
            "offsets of the training text (numpy default_rng(seed)), each run from zero state",
            "optimizer": "Adam",
            "lr": args.lr,
            "lr_schedule": "constant for the first 70% of steps, then linear decay to 10%",
            "grad_clip_norm": args.clip,
            "loss": "mean cross-entropy of the next character at every position",
            "characters_seen": chars_seen,
            "epochs_equivalent": round(chars_seen / prov["train_chars"], 3),
            "threads": args.threads,
            "wall_seconds": round(seconds, 1),
            "history": history,
        },
        "data": prov,
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
            "opset": 17,
        },
        "command": COMMAND,
        "eval_protocol": corpus.EVAL_PROTOCOL,
    }
    (HERE / "cmodel.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    evaluate.main([])


if __name__ == "__main__":
    main()
