"""Trains, exports and measures the character-level C model (the paper's
replication of Karpathy et al.): next-character prediction with one LSTM
layer of 128 units over one-hot characters, then a linear layer to logits.

Training text: the training split of the headers of Debian's
``linux-libc-dev`` and the C of the Linux kernel from Debian's
``linux-source-6.1`` (see ``corpus.py`` for the file lists, the split, the
overlap filter and the vocabulary).  Every step takes ``--batch`` windows of
``--seq + 1`` characters, each from the headers with probability
``--header-share`` and otherwise from the kernel text, at a random offset
(numpy ``default_rng(--seed)``), runs each from zero state (as the
evaluation protocol does) and minimises the mean cross-entropy of the next
character at every position; Adam, gradient norm clipped to ``--clip``,
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

Command (from the repository root; it downloads the 139 MB kernel package
once into ``~/.cache/luigi-cmodel``; the wall time of the committed model's
training is ``training.wall_seconds`` in ``cmodel.meta.json``, then a few
minutes of measurement)::

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


class CharLSTM2(nn.Module):
    """One-hot -> LSTM(128) -> LSTM(128) -> Linear(128, vocab), each layer a
    module of its own so that the export exposes both hidden sequences
    (``hidden`` for the first layer, ``hidden2`` for the second).  The state
    inputs stack the layers: ``h0`` / ``c0`` are [2, batch, 128]."""

    layers = 2

    def __init__(self, vocab: int = VOCAB, hidden: int = HIDDEN):
        super().__init__()
        self.register_buffer("onehot", torch.eye(vocab), persistent=False)
        self.lstm = nn.LSTM(vocab, hidden, batch_first=True)
        self.lstm2 = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens, h0, c0):
        x = self.onehot[tokens]
        hidden, (h1, c1) = self.lstm(x, (h0[0:1], c0[0:1]))
        hidden2, (h2, c2) = self.lstm2(hidden, (h0[1:2], c0[1:2]))
        hn = torch.cat([h1, h2], 0)
        cn = torch.cat([c1, c2], 0)
        return self.head(hidden2), hidden, hidden2, hn, cn


def load_onnx_weights(model, path: Path) -> None:
    """Copies the weights of an exported ``CharLSTM`` or ``CharLSTM2``
    (``export`` below) back into ``model``: each LSTM node's W, R, B in graph
    order (ONNX gate order i, o, f, c; torch's is i, f, c, o) and the head's
    MatMul and Add initializers.  The layer counts must agree."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type == "LSTM"]
    targets = [model.lstm] + ([model.lstm2] if hasattr(model, "lstm2") else [])
    if len(nodes) != len(targets):
        raise SystemExit(f"--init {path}: {len(nodes)} LSTM layer(s) in the file, "
                         f"{len(targets)} in the model; match --layers to the file")
    matmul = next(n for n in m.graph.node if n.op_type == "MatMul")
    add = next(n for n in m.graph.node if n.op_type == "Add")
    head_w = init[matmul.input[1]]
    head_b = next(init[i] for i in add.input if i in init)
    h = HIDDEN

    def reorder(x: np.ndarray) -> torch.Tensor:
        i, o, f, c = (x[k * h : (k + 1) * h] for k in range(4))
        return torch.from_numpy(np.concatenate([i, f, c, o]).copy())

    with torch.no_grad():
        for node, lstm in zip(nodes, targets):
            w, r, b = (init[name][0] for name in node.input[1:4])
            lstm.weight_ih_l0.copy_(reorder(w))
            lstm.weight_hh_l0.copy_(reorder(r))
            lstm.bias_ih_l0.copy_(reorder(b[: 4 * h]))
            lstm.bias_hh_l0.copy_(reorder(b[4 * h :]))
        model.head.weight.copy_(torch.from_numpy(head_w.T.copy()))
        model.head.bias.copy_(torch.from_numpy(head_b.copy()))


LAYERS = 1


def zeros(batch: int) -> torch.Tensor:
    return torch.zeros(LAYERS, batch, HIDDEN)


def run(model, tokens, h0, c0):
    """(logits, hn, cn) of either architecture."""
    out = model(tokens, h0, c0)
    return out[0], out[-2], out[-1]


def export(model, path: Path) -> None:
    model.eval()
    tokens = torch.tensor(corpus.encode("int main(void)\n{\n\treturn 0;\n}\n")[None, :].repeat(2, 0))
    hiddens = ["hidden", "hidden2"][: getattr(model, "layers", 1)]
    torch.onnx.export(
        model,
        (tokens, zeros(2), zeros(2)),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["tokens", "h0", "c0"],
        output_names=["logits", *hiddens, "hn", "cn"],
        dynamic_axes={
            "tokens": {0: "batch", 1: "time"},
            "h0": {1: "batch"},
            "c0": {1: "batch"},
            "logits": {0: "batch", 1: "time"},
            **{h: {0: "batch", 1: "time"} for h in hiddens},
            "hn": {1: "batch"},
            "cn": {1: "batch"},
        },
    )


def write_card(path: Path, model_file: str, untrained: str | None, lstm_y: str,
               layers: int = 1) -> None:
    shape = "128 units" if layers == 1 else f"{layers} layers of 128 units"
    lines = [
        f"# Model card for {model_file}: character-level LSTM ({shape}) predicting",
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
        "  - { input: h0, output: hn, layer: "
        + ("lstm }" if layers == 1 else "[" + ", ".join(["lstm", "lstm2"][:layers]) + "] }"),
        "  - { input: c0, output: cn }",
        "logits: logits",
        "layers:",
        "  lstm: hidden          # [batch, time, 128], graph output"
        + (" (first layer)" if layers > 1 else ""),
    ]
    if layers > 1:
        lines.append("  lstm2: hidden2        # [batch, time, 128], graph output (second layer)")
    lines.append(f"  lstm_y: {lstm_y}   # the first ONNX LSTM's Y, [time, 1, batch, 128]")
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
    ap.add_argument("--steps", type=int, default=24000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=256,
                    help="characters per truncated-backpropagation chunk")
    ap.add_argument("--reset-prob", type=float, default=0.1,
                    help="per step and stream: probability of jumping to a random offset and "
                    "starting from zero state (1 = every chunk from zero state)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=250)
    ap.add_argument("--header-share", type=float, default=0.05,
                    help="share of training windows taken from the linux-libc-dev headers "
                    "(the rest from the kernel source)")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from the weights of this exported model (an earlier cmodel.onnx, or cmodel2.onnx with --layers 2) "
                    "instead of random ones")
    ap.add_argument("--time-only", type=int, default=0, help="time this many steps and exit")
    ap.add_argument("--layers", type=int, choices=(1, 2), default=1,
                    help="LSTM layers of 128 (2: both hidden sequences are graph outputs)")
    ap.add_argument("--name", default="cmodel",
                    help="file stem of the outputs (NAME.onnx, NAME-untrained.onnx, NAME.luigi.yaml, "
                    "NAME.meta.json); evaluate.py runs only for the default stem")
    ap.add_argument("--export-every", type=int, default=0,
                    help="also export NAME.onnx every this many steps (a usable model if the run "
                    "is stopped early)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    global LAYERS
    LAYERS = args.layers
    arch = CharLSTM2 if args.layers == 2 else CharLSTM

    prov, train_text, held_text = corpus.provenance()
    kprov, kernel_text, kernel_held = corpus.kernel_provenance(held_text)
    prov["kernel"] = kprov
    sources = [torch.from_numpy(corpus.encode(train_text).astype(np.uint8)),
               torch.from_numpy(corpus.encode(kernel_text).astype(np.uint8))]
    del kernel_text
    held_ids = corpus.encode(held_text)
    print(
        f"train {prov['train_chars']} header chars in {prov['train_files']} files "
        f"+ {kprov['train_chars']} kernel chars in {kprov['train_files']} files "
        f"({len(kprov['dropped_for_overlap'])} dropped for overlap), "
        f"held-out {prov['heldout_chars']} chars in {prov['heldout_files']} files",
        flush=True,
    )
    # a fixed held-out probe for the training log (torch, not the reported
    # number): every 8th full window of the held-out headers
    probe = torch.from_numpy(np.stack([w for w in corpus.windows(held_ids) if len(w) ==
                                       corpus.WINDOW][::8]))
    # and every 40th full window of the held-out kernel C
    kprobe = torch.from_numpy(np.stack([w for w in corpus.windows(corpus.encode(kernel_held))
                                        if len(w) == corpus.WINDOW][::40]))
    del kernel_held

    torch.manual_seed(args.untrained_seed)
    untrained = arch()
    torch.manual_seed(args.seed)
    model = arch()
    init_note = None
    if args.init is not None:
        load_onnx_weights(model, args.init)
        import hashlib

        init_note = {"file": args.init.name,
                     "sha256": hashlib.sha256(args.init.read_bytes()).hexdigest()}
        model.eval()
        with torch.no_grad():
            kl, _, _ = run(model, kprobe, zeros(len(kprobe)), zeros(len(kprobe)))
            kacc = float((kl[:, :-1].argmax(-1) == kprobe[:, 1:]).float().mean())
        print(json.dumps({"step": 0, "init": init_note,
                          "heldout_kernel_probe_accuracy": kacc}), flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    loss_fn = nn.CrossEntropyLoss()
    offsets_max = [len(src) - args.seq - 1 for src in sources]
    history = []
    t0 = time.time()
    steps = args.time_only or args.steps
    run_loss = run_acc = 0.0
    # the streams: which text, where the next chunk starts, and the state
    # each ended its previous chunk in
    stream_src = np.zeros(args.batch, dtype=np.int64)
    stream_pos = np.zeros(args.batch, dtype=np.int64)
    h_state, c_state = zeros(args.batch), zeros(args.batch)

    def jump(i: int) -> None:
        src = 0 if rng.random() < args.header_share else 1
        stream_src[i] = src
        stream_pos[i] = int(rng.integers(0, offsets_max[src]))

    for i in range(args.batch):
        jump(i)
    resets = 0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, args.lr)
        keep = torch.ones(1, args.batch, 1)
        for i in range(args.batch):
            if (step > 0 and rng.random() < args.reset_prob) or \
                    stream_pos[i] > offsets_max[stream_src[i]]:
                jump(i)
                keep[0, i, 0] = 0.0
                resets += 1
        if step == 0:
            keep.zero_()
        rows = [sources[stream_src[i]][stream_pos[i] : stream_pos[i] + args.seq + 1]
                for i in range(args.batch)]
        stream_pos += args.seq
        chunk = torch.stack(rows).long()
        x, y = chunk[:, :-1], chunk[:, 1:]
        model.train()
        logits, hn, cn = run(model, x, h_state * keep, c_state * keep)
        h_state, c_state = hn.detach(), cn.detach()
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
                pl, _, _ = run(model, probe, zeros(len(probe)), zeros(len(probe)))
                pacc = float((pl[:, :-1].argmax(-1) == probe[:, 1:]).float().mean())
                kl, _, _ = run(model, kprobe, zeros(len(kprobe)), zeros(len(kprobe)))
                kacc = float((kl[:, :-1].argmax(-1) == kprobe[:, 1:]).float().mean())
            row = {
                "step": step + 1,
                "seconds": round(time.time() - t0, 1),
                "lr": opt.param_groups[0]["lr"],
                "train_loss": run_loss / n,
                "train_batch_accuracy": run_acc / n,
                "heldout_probe_accuracy": pacc,
                "heldout_kernel_probe_accuracy": kacc,
            }
            history.append(row)
            print(json.dumps(row), flush=True)
            run_loss = run_acc = 0.0
        if args.export_every and (step + 1) % args.export_every == 0 and not args.time_only:
            export(model, HERE / f"{args.name}.onnx")
            (HERE / f"{args.name}.partial.json").write_text(json.dumps(
                {"step": step + 1, "of": steps, "seconds": round(time.time() - t0, 1),
                 "history": history}, indent=1) + "\n")
            print(f"exported {args.name}.onnx at step {step + 1}", flush=True)
    seconds = time.time() - t0
    if args.time_only:
        print(f"{args.time_only} steps: {seconds:.1f}s, {seconds / args.time_only:.3f}s/step")
        return

    name = args.name
    corpus.write_vocab(HERE / "vocab.json")
    export(model, HERE / f"{name}.onnx")
    export(untrained, HERE / f"{name}-untrained.onnx")
    (HERE / f"{name}.partial.json").unlink(missing_ok=True)
    import evaluate  # noqa: E402
    import onnx
    import onnxruntime

    write_card(HERE / f"{name}.luigi.yaml", f"{name}.onnx", f"{name}-untrained.onnx",
               evaluate.lstm_y_name(HERE / f"{name}.onnx"), args.layers)
    write_card(HERE / f"{name}-untrained.luigi.yaml", f"{name}-untrained.onnx", None,
               evaluate.lstm_y_name(HERE / f"{name}-untrained.onnx"), args.layers)
    chars_seen = steps * args.batch * args.seq
    meta = {
        "model": f"{name}.onnx",
        "untrained": f"{name}-untrained.onnx",
        "task": "next-character prediction on C source",
        "architecture": {
            "input": f"one-hot over vocab.json ({VOCAB} ids, id 0 = unknown)",
            "lstm_layers": args.layers,
            "lstm_hidden_units": HIDDEN,
            "head": f"Linear({HIDDEN}, {VOCAB}) -> logits",
        },
        "training": {
            "seed": args.seed,
            "untrained_seed": args.untrained_seed,
            "steps": steps,
            "batch": args.batch,
            "sequence_length": args.seq,
            "header_share": args.header_share,
            "reset_prob": args.reset_prob,
            "sampling": "truncated backpropagation through time over `batch` contiguous "
            "streams (numpy default_rng(seed)). A stream starts at a uniform random offset of "
            "the training headers (a uniform draw < header_share) or else of the kernel text; "
            "each step feeds the next sequence_length+1 ids of every stream (consecutive "
            "chunks overlap by one id, the last target of one is the first input of the next), "
            "starting from the state the stream's previous chunk ended in (detached). Before "
            "each step after the first, each stream jumps to a fresh random start and starts "
            "from zero state with probability reset_prob, and whenever it has run off the end "
            "of its text",
            "zero_state_restarts": resets,
            "optimizer": "Adam",
            "lr": args.lr,
            "lr_schedule": "constant for the first 70% of steps, then linear decay to 10%",
            "grad_clip_norm": args.clip,
            "loss": "mean cross-entropy of the next character at every position",
            "characters_seen": chars_seen,
            "epochs_equivalent_headers": round(chars_seen * args.header_share / prov["train_chars"], 3),
            "epochs_equivalent_kernel": round(chars_seen * (1 - args.header_share) / kprov["train_chars"], 3),
            "threads": args.threads,
            "initialised_from": init_note,
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
        "command": " ".join([COMMAND, *sys.argv[1:]]),
        "eval_protocol": corpus.EVAL_PROTOCOL,
    }
    (HERE / f"{name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if name == "cmodel":
        evaluate.main([])
    else:
        print(f"measure with: python3 examples/cmodel/long_context.py examples/cmodel/{name}.onnx")


if __name__ == "__main__":
    main()
