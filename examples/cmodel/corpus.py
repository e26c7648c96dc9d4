"""Training text, vocabulary and the evaluation protocol of the C model.

Training text: the C headers that Debian's ``linux-libc-dev`` package
installs (the Linux kernel's user-space API: ``/usr/include/linux``,
``/usr/include/asm-generic``, ``/usr/include/<triplet>/asm``, ``drm``,
``rdma``, ``sound``, ...).  Nothing of it is committed: a fresh Debian
machine gets the same files with ``apt-get install linux-libc-dev``.

* File list: ``dpkg -L linux-libc-dev``, keeping the paths that end in
  ``.h`` and are regular files (symbolic links dropped), sorted by path
  (Python string order, i.e. by code point).
* Split by file: the file at index ``i`` of that sorted list is held out
  when ``i % 10 == 9``, otherwise it is training text.
* Each file is read as UTF-8 (invalid bytes replaced by U+FFFD); a split's
  text is its files' contents concatenated in list order, nothing between.

Vocabulary (``vocab.json``, id = index): id 0 is the unknown token (written
as U+FFFD), 1 is ``\\t``, 2 is ``\\n``, 3..97 are the printable ASCII
characters ``' '`` (0x20) .. ``'~'`` (0x7e) in code order.  Any other
character (``\\r``, form feed, non-ASCII) is encoded as id 0.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGES = ("linux-libc-dev",)
HELDOUT_EVERY = 10
HELDOUT_INDEX = 9
WINDOW = 256

UNKNOWN = 0
VOCAB = ["\ufffd", "\t", "\n"] + [chr(c) for c in range(0x20, 0x7F)]

_LUT = np.zeros(128, dtype=np.int64)
for _i, _c in enumerate(VOCAB[1:], start=1):
    _LUT[ord(_c)] = _i


def encode(text: str) -> np.ndarray:
    """Token ids of ``text`` (characters outside the vocabulary -> 0)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    ids = np.zeros(len(codes), dtype=np.int64)
    ascii_ = codes < 128
    ids[ascii_] = _LUT[codes[ascii_]]
    return ids


def write_vocab(path: Path) -> None:
    path.write_text(json.dumps(VOCAB, ensure_ascii=True) + "\n")


def package_version(pkg: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version} ${Architecture}", pkg],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def source_files(packages=PACKAGES) -> list[str]:
    files: set[str] = set()
    for pkg in packages:
        out = subprocess.run(["dpkg", "-L", pkg], check=True, capture_output=True, text=True)
        for line in out.stdout.splitlines():
            p = line.strip()
            if p.endswith(".h") and os.path.isfile(p) and not os.path.islink(p):
                files.add(p)
    if not files:
        raise SystemExit(f"no .h files from {packages}: apt-get install {' '.join(packages)}")
    return sorted(files)


def split_files(files: list[str]) -> tuple[list[str], list[str]]:
    train = [f for i, f in enumerate(files) if i % HELDOUT_EVERY != HELDOUT_INDEX]
    held = [f for i, f in enumerate(files) if i % HELDOUT_EVERY == HELDOUT_INDEX]
    return train, held


def read_text(files: list[str]) -> str:
    return "".join(Path(f).read_bytes().decode("utf-8", errors="replace") for f in files)


def provenance() -> dict:
    files = source_files()
    train, held = split_files(files)
    train_text, held_text = read_text(train), read_text(held)
    return {
        "packages": {p: package_version(p) for p in PACKAGES},
        "file_rule": "dpkg -L linux-libc-dev | paths ending in '.h' that are regular files "
        "(not symlinks), sorted by code point",
        "split_rule": f"index i in that sorted list: held out iff i % {HELDOUT_EVERY} == {HELDOUT_INDEX}",
        "text_rule": "each file decoded as UTF-8 with errors replaced by U+FFFD; "
        "a split = its files concatenated in list order with nothing between",
        "files_total": len(files),
        "train_files": len(train),
        "heldout_files": len(held),
        "train_chars": len(train_text),
        "heldout_chars": len(held_text),
        "train_unknown_chars": int((encode(train_text) == UNKNOWN).sum()),
        "heldout_file_list": held,
        "train_file_list": train,
    }, train_text, held_text


EVAL_PROTOCOL = (
    "Read the text (eval.c: read as UTF-8 text, it is pure ASCII) and encode every "
    "character with vocab.json (id = index; characters not in it -> id 0). Cut the id "
    f"sequence into consecutive windows of {WINDOW} ids starting at 0 "
    f"([0,{WINDOW}), [{WINDOW},{2 * WINDOW}), ...); the last, shorter window is kept. Run "
    "each window alone through the ONNX model from zero state (h0 = c0 = zeros[1,1,128]; "
    "batching windows of equal length is equivalent). For a window of length n and every "
    "position t in 0..n-2, the prediction is argmax over the vocabulary of logits[0, t, :] "
    "(first maximum on ties) and it is correct when it equals the id at position t+1 of the "
    "same window; the last position of each window is not scored. accuracy = correct / "
    "scored, scored = sum over windows of (n - 1)."
)


def windows(ids: np.ndarray, window: int = WINDOW) -> list[np.ndarray]:
    return [ids[i : i + window] for i in range(0, len(ids), window)]


def onnx_accuracy(sess, ids: np.ndarray, hidden: int, chunk: int = 512) -> dict:
    """Accuracy of an onnxruntime session under ``EVAL_PROTOCOL``."""
    wins = windows(ids)
    correct = scored = 0
    groups: dict[int, list[np.ndarray]] = {}
    for w in wins:
        groups.setdefault(len(w), []).append(w)
    for n, ws in sorted(groups.items()):
        if n < 2:
            continue
        for s in range(0, len(ws), chunk):
            batch = np.stack(ws[s : s + chunk])
            z = np.zeros((1, len(batch), hidden), dtype=np.float32)
            logits = sess.run(["logits"], {"tokens": batch, "h0": z, "c0": z})[0]
            pred = logits[:, :-1, :].argmax(-1)
            correct += int((pred == batch[:, 1:]).sum())
            scored += pred.size
    return {
        "accuracy": correct / scored,
        "correct": correct,
        "scored": scored,
        "chars": int(len(ids)),
        "windows": len(wins),
    }
