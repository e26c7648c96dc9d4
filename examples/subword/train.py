"""A small causal transformer that reads subword tokens: a BPE tokenizer
trained with the `tokenizers` package on generated lines of nested calls,
and the same 2-block transformer as examples/dyck (imported from there),
trained to predict the next token, exported to ONNX with its card,
tokenizer and metadata.

The language (`line` below): words and parentheses, separated by spaces,
closed by ` ;`, e.g. `call ( alpha beta ( gamma ) ) delta ;`. Parentheses
balance, at most 6 deep; `;` only comes at depth 0. The tokenizer
(vocabulary 80, SentencePiece-style `Metaspace` pre-tokenizer and decoder:
a word's first token carries the space before it as `▁`) keeps frequent
words whole and splits the rarer ones into pieces, so a word may be
several timesteps. To predict the next token the model must know the
parenthesis depth: `)` only at depth > 0, `;` only at depth 0. Luigi's
`depth: '('` hypothesis computes it over characters; each token takes the
value at its last character (`align: last`).

    pip install tokenizers torch onnx
    python3 examples/subword/train.py         # about 3 minutes on 2 CPU cores

writes examples/subword/subword.onnx, subword.luigi.yaml, tokenizer.json,
subword.meta.json, train.txt and heldout.txt. The graph outputs are those
of examples/dyck: `resid1`/`resid2`, `attn1`/`attn2`, `mlp1`/`mlp2`, each
`[batch, time, 64]`, and `logits`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "dyck"))
from train import Transformer  # noqa: E402  (the dyck example's model)

# frequent words stay whole; the long, rare ones are split into pieces
COMMON = ["call", "x", "y", "z", "let", "get"]
RARE = ["alphabet", "betamax", "gamma", "deltoid", "epsilon", "zetafunction", "omega", "kappa"]


def line(rng: random.Random, max_tokens: int = 24, max_depth: int = 6) -> str:
    """One balanced line of words and parentheses, closed by `;`."""
    target = rng.randint(3, max_tokens)
    out: list[str] = []
    depth = 0
    while len(out) + depth < target:
        r = rng.random()
        if depth < max_depth and r < 0.25:
            out.append("(")
            depth += 1
        elif depth > 0 and r < 0.45:
            out.append(")")
            depth -= 1
        else:
            out.append(rng.choice(COMMON) if rng.random() < 0.6 else rng.choice(RARE))
    out.extend(")" * depth)
    out.append(";")
    return " ".join(out)


def train_tokenizer(lines: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=80, special_tokens=["[PAD]", "[UNK]"], show_progress=False)
    tok.train_from_iterator(lines, trainer)
    return tok


def encode(tok: Tokenizer, lines: list[str]) -> tuple[torch.Tensor, list[int]]:
    encoded = [tok.encode(s).ids for s in lines]
    width = max(len(e) for e in encoded)
    ids = torch.zeros((len(lines), width), dtype=torch.int64)  # [PAD] = 0
    for r, e in enumerate(encoded):
        ids[r, : len(e)] = torch.tensor(e)
    return ids, [len(e) for e in encoded]


def rates(model: Transformer, tok: Tokenizer, lines: list[str]) -> dict[str, float]:
    """The probability the model gives an illegal `)` (at depth 0) or `;`
    (at depth > 0) after each token, and how often its most likely next
    token is one of those two illegal ones."""
    ids, lengths = encode(tok, lines)
    with torch.no_grad():
        probs = model(ids)[0].softmax(-1)
    close, end = tok.token_to_id("▁)"), tok.token_to_id("▁;")
    bad_close, bad_end, wrong, total = [], [], 0, 0
    for r, s in enumerate(lines):
        enc = tok.encode(s)
        depth = 0
        for t, piece in enumerate(enc.tokens[: lengths[r] - 1]):
            depth += 1 if piece == "▁(" else -1 if piece == "▁)" else 0
            p = probs[r, t]
            top = int(p.argmax())
            wrong += (top == close and depth == 0) or (top == end and depth > 0)
            total += 1
            (bad_close if depth == 0 else bad_end).append(float(p[close] if depth == 0 else p[end]))
    return {
        "top1_illegal_bracket_or_end": wrong / total,
        "mean_p_close_at_depth0": sum(bad_close) / max(1, len(bad_close)),
        "mean_p_end_inside": sum(bad_end) / max(1, len(bad_end)),
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
    tok = train_tokenizer(train)
    # lines the context cannot hold (rare words split into many pieces) are left out
    fits = lambda s: len(tok.encode(s).ids) < context  # noqa: E731
    train = [s for s in train if fits(s)]
    heldout = [s for s in heldout if fits(s)]
    vocab = tok.get_vocab_size(with_added_tokens=True)
    model = Transformer(vocab, args.width, args.layers, args.heads, context)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    started = time.time()
    loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
    for step in range(1, args.steps + 1):
        batch = rng.sample(train, args.batch)
        ids, lengths = encode(tok, batch)
        target = ids[:, 1:].clone()
        for r, n in enumerate(lengths):
            target[r, n - 1 :] = -1
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
    measured = rates(model, tok, heldout[:500])
    print(json.dumps(measured))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    (out / "train.txt").write_text("\n".join(train[:2000]) + "\n")
    (out / "heldout.txt").write_text("\n".join(heldout) + "\n")
    names = ["logits"] + [f"{k}{i + 1}" for k in ("resid", "attn", "mlp") for i in range(args.layers)]
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.zeros((2, 8), dtype=torch.int64),),
            str(out / "subword.onnx"),
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
    card = f"""# Card of subword.onnx: a causal transformer ({args.layers} blocks, width {args.width}, {args.heads} heads,
# context {context} tokens) reading BPE tokens, trained by examples/subword/train.py.
model: subword.onnx
input:
  name: tokens
  encoding: ids
  layout: batch-major
  causal: true          # causal attention: right padding cannot change earlier steps
vocabulary:
  tokenizer: tokenizer.json   # BPE, {vocab} tokens, trained with the `tokenizers` package
  align: last                 # a token takes a hypothesis's value at its last character
logits: logits
layers:
{layers}
untrained: subword-untrained.onnx
"""
    (out / "subword.luigi.yaml").write_text(card)
    meta = {
        "command": "python3 examples/subword/train.py",
        "args": {k: (str(Path(v).resolve().relative_to(HERE.parent.parent)) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "context": context,
        "vocabulary": vocab,
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "heldout_first_500": measured,
        "final_train_loss": round(float(loss.item()), 4),
    }
    (out / "subword.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out / 'subword.onnx'} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
