"""A randomly initialised GPT-style causal transformer of GPT-2 small's shape
(12 layers, width 768, 12 heads, MLP 3,072), exported to ONNX with its card,
for the scale benchmark (`cargo bench -p luigi-cli --bench scale`).

The weights are random (seeded) and never trained: the benchmark measures
recording and scoring 12 x 768 units, not what they mean. The input is
character ids over the C model's vocabulary (examples/cmodel/vocab.json), so
the model reads any text Luigi reads. Each block's residual stream
(`[batch, time, 768]`) is a graph output and a card alias `block1` ...
`block12`; `logits` is the head.

    python3 examples/scale/make_model.py --out target/scale

writes target/scale/gpt12.onnx (about 350 MB, not committed) and
target/scale/gpt12.luigi.yaml.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
VOCAB = HERE.parent / "cmodel" / "vocab.json"


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

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(w, dim=-1)
        q = q.reshape(b, t, h, w // h).transpose(1, 2)
        k = k.reshape(b, t, h, w // h).transpose(1, 2)
        v = v.reshape(b, t, h, w // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(w // h) + mask
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, w)
        x = x + self.proj(y)
        return x + self.down(torch.nn.functional.gelu(self.up(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab: int, width: int, layers: int, heads: int, context: int) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor):
        t = tokens.shape[1]
        positions = torch.arange(t, device=tokens.device)
        x = self.tok(tokens) + self.pos(positions)
        mask = torch.full((t, t), float("-inf")).triu(1)
        residuals = []
        for block in self.blocks:
            x = block(x, mask)
            residuals.append(x)
        return (self.head(self.ln(x)), *residuals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("target/scale"))
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    vocab = json.loads(VOCAB.read_text())
    model = Gpt(len(vocab), args.width, args.layers, args.heads, args.context).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"gpt{args.layers}"
    onnx_path = args.out / f"{name}.onnx"
    outputs = ["logits"] + [f"resid{i + 1}" for i in range(args.layers)]
    example = torch.zeros((2, 8), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(onnx_path),
            input_names=["tokens"],
            output_names=outputs,
            dynamic_axes={"tokens": {0: "batch", 1: "time"}, **{o: {0: "batch", 1: "time"} for o in outputs}},
            opset_version=17,
            dynamo=False,
        )
    shutil.copy(VOCAB, args.out / "vocab.json")
    layers = "\n".join(f"  block{i + 1}: resid{i + 1}     # [batch, time, {args.width}], residual stream after block {i + 1}" for i in range(args.layers))
    card = f"""# Card of {name}.onnx: a randomly initialised GPT-style transformer ({args.layers} layers,
# width {args.width}, {args.heads} heads), written by examples/scale/make_model.py (seed {args.seed}).
model: {name}.onnx
input:
  name: tokens
  encoding: ids
  layout: batch-major
  causal: true
vocabulary:
  file: vocab.json
  unknown: 0
logits: logits
layers:
{layers}
"""
    (args.out / f"{name}.luigi.yaml").write_text(card)
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.0f} MB) and {args.out / (name + '.luigi.yaml')}")


if __name__ == "__main__":
    main()
