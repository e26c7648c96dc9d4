"""Boolean-expression data set for the paper's toy model.

Grammar (no parentheses, no operator priority)::

    expr    := operand (op operand)*
    operand := '0' | '1'
    op      := '|' | '&'

An expression is evaluated strictly left to right, so ``1|0&1&1`` means
``((1|0)&1)&1`` = true and ``1|1&0`` means ``(1|1)&0`` = false.  Every
expression is left-padded with ``X`` to exactly ``LENGTH`` (15) characters,
e.g. ``XXXXXXXX1|0&1&1`` (true).

Distribution of one draw:

* the number of operands ``n`` is uniform on ``1..=MAX_OPERANDS`` (8), so the
  unpadded length ``2n - 1`` is one of 1, 3, ..., 15;
* every operand is uniform on {0, 1} and every operator uniform on {|, &},
  all independent.

Under this distribution the label is exactly balanced for every ``n``: flipping
every operand and swapping ``|`` with ``&`` (De Morgan) negates the result and
is a bijection between true and false expressions.

The committed files are built from draws of that distribution with a fixed
seed (``SEED``), keeping only expressions not seen before (so every line in
train and held-out together is distinct) and only while its class still has
room, until there are ``PER_SPLIT`` (5,000) true and as many false
expressions; each class is shuffled, its first half goes to train and its
second half to held-out, and each split is shuffled again.  Short expressions
are few (2 with one operand, 8 with two, ...) so the deduplicated sets hold
every one of them and are weighted towards long expressions; the exact
histogram of operand counts is printed by ``python3 data.py --stats``.

Files (one line per sequence, ``\\n``-terminated, no header):

* ``train.txt`` / ``heldout.txt``: the padded expressions;
* ``train.labels`` / ``heldout.labels``: ``1`` (true) or ``0`` (false), line
  for line.

Run ``python3 examples/boolean/data.py`` to (re)write them; the output is
byte-identical on every run.
"""

from __future__ import annotations

import argparse
import collections
import random
from pathlib import Path

LENGTH = 15
MAX_OPERANDS = 8
PAD = "X"
SEED = 20180530
PER_SPLIT = 5000
VOCAB = "X01|&"  # id = position; the model card uses the same string

HERE = Path(__file__).resolve().parent


def evaluate(expr: str) -> bool:
    """Evaluates an unpadded or padded expression left to right."""
    expr = expr.lstrip(PAD)
    if not expr or len(expr) % 2 == 0:
        raise ValueError(f"not an expression: {expr!r}")
    value = expr[0] == "1"
    for i in range(1, len(expr), 2):
        op, operand = expr[i], expr[i + 1] == "1"
        if op == "|":
            value = value or operand
        elif op == "&":
            value = value and operand
        else:
            raise ValueError(f"bad operator {op!r} in {expr!r}")
    return value


def pad(expr: str) -> str:
    """Left-pads with ``X`` to ``LENGTH`` characters."""
    if len(expr) > LENGTH:
        raise ValueError(f"{expr!r} is longer than {LENGTH}")
    return PAD * (LENGTH - len(expr)) + expr


def draw(rng: random.Random) -> str:
    """One unpadded expression from the documented distribution."""
    n = rng.randint(1, MAX_OPERANDS)
    parts = [rng.choice("01")]
    for _ in range(n - 1):
        parts.append(rng.choice("|&"))
        parts.append(rng.choice("01"))
    return "".join(parts)


def build(seed: int = SEED, per_split: int = PER_SPLIT):
    """Returns ``(train, heldout)``, each a list of ``(padded, label)``."""
    rng = random.Random(seed)
    per_class = per_split  # per_split/2 per class and split, two splits
    seen: set[str] = set()
    classes: dict[bool, list[str]] = {True: [], False: []}
    while len(classes[True]) < per_class or len(classes[False]) < per_class:
        e = draw(rng)
        if e in seen:
            continue
        seen.add(e)
        label = evaluate(e)
        if len(classes[label]) < per_class:
            classes[label].append(pad(e))
    train, heldout = [], []
    half = per_class // 2
    for label in (True, False):
        items = classes[label]
        rng.shuffle(items)
        train += [(s, int(label)) for s in items[:half]]
        heldout += [(s, int(label)) for s in items[half:]]
    rng.shuffle(train)
    rng.shuffle(heldout)
    return train, heldout


def write(split: str, rows) -> None:
    (HERE / f"{split}.txt").write_text("".join(s + "\n" for s, _ in rows))
    (HERE / f"{split}.labels").write_text("".join(f"{y}\n" for _, y in rows))


def read(split: str):
    """Reads ``<split>.txt`` and ``<split>.labels``: ``(sequences, labels)``."""
    seqs = (HERE / f"{split}.txt").read_text().splitlines()
    labels = [int(x) for x in (HERE / f"{split}.labels").read_text().splitlines()]
    if len(seqs) != len(labels):
        raise ValueError(f"{split}: {len(seqs)} sequences but {len(labels)} labels")
    return seqs, labels


def stats(rows) -> dict:
    hist = collections.Counter((len(s.lstrip(PAD)) + 1) // 2 for s, _ in rows)
    return {
        "operands_histogram": {str(k): hist[k] for k in sorted(hist)},
        "true": sum(y for _, y in rows),
        "false": sum(1 - y for _, y in rows),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stats", action="store_true", help="print histograms only")
    args = ap.parse_args()
    train, heldout = build()
    assert not {s for s, _ in train} & {s for s, _ in heldout}
    for s, y in train + heldout:
        assert len(s) == LENGTH and evaluate(s) == bool(y)
    if not args.stats:
        write("train", train)
        write("heldout", heldout)
    print("train", stats(train))
    print("heldout", stats(heldout))


if __name__ == "__main__":
    main()
