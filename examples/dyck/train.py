"""A small causal transformer that reads bracket strings, trained to predict
the next character, exported to ONNX with its card and metadata.

The language (`line` below): lines of balanced parentheses with
letters between them, e.g. `(ab(c)d)(a)`, at most 8 deep and at most 62
characters, ended by a newline. To predict the next character the model
must know whether it is inside a bracket: `)` can only come at depth > 0,
and the newline only at depth 0. The known internal logic is the
parenthesis depth, which Luigi's built-in `depth: '('` hypothesis computes.

    python3 examples/dyck/train.py            # about 3 minutes on 2 CPU cores

writes examples/dyck/dyck.onnx, dyck.luigi.yaml, dyck.meta.json,
train.txt and heldout.txt. The graph outputs, each `[batch, time, 64]`:
`resid1`/`resid2` (the residual stream after each block), `attn1`/`attn2`
(each block's attention output) and `mlp1`/`mlp2` (each block's MLP
output), besides `logits`; the card names them `block1`, `block2`,
`attn1`, `attn2`, `mlp1`, `mlp2`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
VOCAB = ["\ufffd", "\n", "(", ")", "a", "b", "c", "d"]


def line(rng: random.Random, max_len: int = 62, max_depth: int = 8) -> str:
    """One balanced line: opens, closes and letters, closed at the end."""
    target = rng.randint(4, max_len)
    out: list[str] = []
    depth = 0
    while len(out) + depth < target:
        r = rng.random()
        if depth < max_depth and r < 0.3:
            out.append("(")
            depth += 1
        elif depth > 0 and r < 0.55:
            out.append(")")
            depth -= 1
        else:
            out.append(rng.choice("abcd"))
    out.extend(")" * depth)
    return "".join(out)


class Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        b, t, w = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(w, dim=-1)
        q = q.reshape(b, t, h, w // h).transpose(1, 2)
        k = k.reshape(b, t, h, w // h).transpose(1, 2)
        v = v.reshape(b, t, h, w // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(w // h)) + mask
        attn = self.proj((att.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, w))
        x = x + attn
        mlp = self.down(torch.nn.functional.gelu(self.up(self.ln2(x))))
        return x + mlp, attn, mlp


class Transformer(nn.Module):
    def __init__(self, vocab: int, width: int, layers: int, heads: int, context: int) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor):
        t = tokens.shape[1]
        x = self.tok(tokens) + self.pos(torch.arange(t, device=tokens.device))
        mask = torch.full((t, t), float("-inf")).triu(1)
        resid, attns, mlps = [], [], []
        for block in self.blocks:
            x, a, m = block(x, mask)
            resid.append(x)
            attns.append(a)
            mlps.append(m)
        return (self.head(self.ln(x)), *resid, *attns, *mlps)


def encode(lines: list[str]) -> torch.Tensor:
    index = {c: i for i, c in enumerate(VOCAB)}
    width = max(len(s) for s in lines) + 1
    ids = torch.zeros((len(lines), width), dtype=torch.int64)
    for r, s in enumerate(lines):
        for c, ch in enumerate(s + "\n"):
            ids[r, c] = index[ch]
    return ids


def legal_rates(model: Transformer, lines: list[str]) -> dict[str, float]:
    """How often the model's most likely next character is legal, and the
    probability it gives an illegal `)` (at depth 0) or newline (at depth > 0)."""
    ids = encode(lines)
    with torch.no_grad():
        probs = model(ids)[0].softmax(-1)
    close, newline = VOCAB.index(")"), VOCAB.index("\n")
    legal = total = 0
    bad_close: list[float] = []
    bad_newline: list[float] = []
    for r, s in enumerate(lines):
        depth = 0
        for c, ch in enumerate(s):
            depth += 1 if ch == "(" else -1 if ch == ")" else 0
            p = probs[r, c]
            top = int(p.argmax())
            ok = not ((top == close and depth == 0) or (top == newline and depth > 0) or top == 0)
            legal += ok
            total += 1
            if depth == 0:
                bad_close.append(float(p[close]))
            else:
                bad_newline.append(float(p[newline]))
    return {
        "top1_legal": legal / total,
        "mean_p_close_at_depth0": sum(bad_close) / max(1, len(bad_close)),
        "mean_p_newline_inside": sum(bad_newline) / max(1, len(bad_newline)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    train = [line(rng) for _ in range(20000)]
    heldout = [line(random.Random(args.seed + 1000 + i)) for i in range(2000)]
    context = 64
    model = Transformer(len(VOCAB), args.width, args.layers, args.heads, context)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    started = time.time()
    loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
    for step in range(1, args.steps + 1):
        batch = rng.sample(train, args.batch)
        ids = encode(batch)
        target = ids[:, 1:].clone()
        for r, s in enumerate(batch):
            target[r, len(s) :] = -1
        logits = model(ids[:, :-1])[0]
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (args.steps - step) / (0.3 * args.steps) + 1e-3)
        if step % 500 == 0:
            print(f"step {step} loss {loss.item():.4f} ({time.time() - started:.0f} s)", flush=True)
    model.eval()
    seconds = time.time() - started
    rates = legal_rates(model, heldout[:500])
    print(json.dumps(rates))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.txt").write_text("\n".join(train[:2000]) + "\n")
    (out / "heldout.txt").write_text("\n".join(heldout) + "\n")
    names = ["logits"] + [f"{k}{i + 1}" for k in ("resid", "attn", "mlp") for i in range(args.layers)]
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.zeros((2, 8), dtype=torch.int64),),
            str(out / "dyck.onnx"),
            input_names=["tokens"],
            output_names=names,
            dynamic_axes={"tokens": {0: "batch", 1: "time"}, **{n: {0: "batch", 1: "time"} for n in names}},
            opset_version=17,
            dynamo=False,
        )
    layers = "\n".join(
        [f"  block{i + 1}: resid{i + 1}    # [batch, time, {args.width}] residual stream after block {i + 1}" for i in range(args.layers)]
        + [f"  attn{i + 1}: attn{i + 1}      # [batch, time, {args.width}] attention output of block {i + 1}" for i in range(args.layers)]
        + [f"  mlp{i + 1}: mlp{i + 1}        # [batch, time, {args.width}] MLP output of block {i + 1}" for i in range(args.layers)]
    )
    chars = "".join(VOCAB).replace("\n", "\\n")
    card = f"""# Card of dyck.onnx: a causal transformer ({args.layers} blocks, width {args.width}, {args.heads} heads,
# context {context}) trained on bracket strings by examples/dyck/train.py.
model: dyck.onnx
input:
  name: tokens
  encoding: ids
  layout: batch-major
  causal: true          # causal attention: right padding cannot change earlier steps
vocabulary:
  chars: "{chars}"   # id 0 = unknown (U+FFFD)
  unknown: 0
logits: logits
layers:
{layers}
untrained: dyck-untrained.onnx
"""
    (out / "dyck.luigi.yaml").write_text(card)
    meta = {
        "command": "python3 examples/dyck/train.py",
        # paths relative to the repository, as the command is run from its root
        "args": {k: (str(Path(v).resolve().relative_to(HERE.parent.parent)) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "context": context,
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "heldout_first_500": rates,
        "final_train_loss": round(float(loss.item()), 4),
    }
    (out / "dyck.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out / 'dyck.onnx'} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
