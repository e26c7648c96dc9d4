"""Training text, vocabulary and the evaluation protocol of the C model.

Training text, part 1 (and the held-out text): the C headers that
Debian's ``linux-libc-dev`` package
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

Training text, part 2: the C of the Linux kernel itself, from Debian's
``linux-source-6.1`` package, version ``KERNEL_VERSION`` (fetched with
``apt-get download`` into ``~/.cache/luigi-cmodel``, or taken from
``$LUIGI_KERNEL_SOURCE``).  Files: the ``.c`` and ``.h`` files under
``KERNEL_DIRS``, none under a ``uapi`` directory (those are where
``linux-libc-dev``'s headers come from), sorted by path; a file is dropped
when it shares too many long lines with the held-out headers (see
``kernel_files``).  Only training uses it; nothing is held out from it.

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


# Extra training text: the C of the Linux kernel itself, from Debian's
# ``linux-source-6.1`` package (a tarball of the kernel tree).  Pinned so
# that the file list is the same on every machine.
KERNEL_PACKAGE = "linux-source-6.1"
KERNEL_VERSION = "6.1.170-3"
KERNEL_DIRS = ("block", "crypto", "fs", "include", "init", "ipc", "kernel", "lib", "mm",
               "net", "security")
# A kernel file is dropped when at least this share (and at least 5) of its
# lines of 40 or more characters (stripped) also occur in the held-out headers.
OVERLAP_SHARE = 0.05
OVERLAP_MIN_LINES = 5
OVERLAP_LINE_CHARS = 40
# Held-out kernel C (the model's held-out accuracy): index i of the kept
# kernel files is held out iff i % KERNEL_HELDOUT_EVERY == KERNEL_HELDOUT_INDEX.
KERNEL_HELDOUT_EVERY = 50
KERNEL_HELDOUT_INDEX = 49


def kernel_tree() -> Path:
    """The extracted kernel tree: ``$LUIGI_KERNEL_SOURCE`` if set, else a cache
    under ``$XDG_CACHE_HOME`` (``~/.cache``) filled with ``apt-get download``."""
    env = os.environ.get("LUIGI_KERNEL_SOURCE")
    if env:
        root = Path(env)
        if not (root / "kernel").is_dir():
            raise SystemExit(f"LUIGI_KERNEL_SOURCE={env}: no kernel/ directory there")
        return root
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    base = cache / "luigi-cmodel" / f"{KERNEL_PACKAGE}_{KERNEL_VERSION}"
    root = base / "usr" / "src" / KERNEL_PACKAGE
    if (root / "kernel").is_dir():
        return root
    base.mkdir(parents=True, exist_ok=True)
    deb = f"{KERNEL_PACKAGE}_{KERNEL_VERSION}_all.deb"
    print(f"fetching {KERNEL_PACKAGE}={KERNEL_VERSION} into {base}", flush=True)
    if not (base / deb).exists():
        subprocess.run(["apt-get", "download", f"{KERNEL_PACKAGE}={KERNEL_VERSION}"],
                       check=True, cwd=base)
    subprocess.run(["dpkg-deb", "-x", deb, "."], check=True, cwd=base)
    tarball = base / "usr" / "src" / f"{KERNEL_PACKAGE}.tar.xz"
    subprocess.run(["tar", "xf", tarball.name], check=True, cwd=tarball.parent)
    tarball.unlink()
    if not (root / "kernel").is_dir():
        raise SystemExit(f"{root}: the package did not unpack to a kernel tree")
    return root


def _source_files(root: Path, top: str, suffixes: tuple[str, ...]) -> list[str]:
    """Regular files (not symlinks) under ``root / top`` whose names end in one
    of ``suffixes``, outside any ``uapi`` directory, relative to ``root``, in
    ``os.walk`` order (callers sort)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root / top):
        rel_dir = Path(dirpath).relative_to(root)
        if "uapi" in rel_dir.parts:
            dirnames[:] = []
            continue
        for f in filenames:
            p = Path(dirpath) / f
            if f.endswith(suffixes) and p.is_file() and not p.is_symlink():
                found.append(str(rel_dir / f))
    return found


def _long_lines(text: str) -> list[str]:
    return [s for s in (line.strip() for line in text.splitlines()) if len(s) >= OVERLAP_LINE_CHARS]


def kernel_files(root: Path, held_text: str) -> tuple[list[str], list[str]]:
    """(kept, dropped) kernel files, as paths relative to ``root``: the ``.c`` and
    ``.h`` regular files under ``KERNEL_DIRS`` outside any ``uapi`` directory
    (those are the sources of ``linux-libc-dev``), sorted by code point, minus
    those that share too many lines with the held-out headers."""
    held_lines = set(_long_lines(held_text))
    kept, dropped = [], []
    candidates = []
    for d in KERNEL_DIRS:
        candidates.extend(_source_files(root, d, (".c", ".h")))
    for rel in sorted(candidates):
        lines = _long_lines((root / rel).read_bytes().decode("utf-8", errors="replace"))
        shared = sum(line in held_lines for line in lines)
        if lines and shared >= OVERLAP_MIN_LINES and shared / len(lines) >= OVERLAP_SHARE:
            dropped.append(rel)
        else:
            kept.append(rel)
    return kept, dropped


def split_kernel_files(kept: list[str]) -> tuple[list[str], list[str]]:
    """(train, held out): index ``i`` of the kept list is held out iff
    ``i % KERNEL_HELDOUT_EVERY == KERNEL_HELDOUT_INDEX``."""
    train = [f for i, f in enumerate(kept) if i % KERNEL_HELDOUT_EVERY != KERNEL_HELDOUT_INDEX]
    held = [f for i, f in enumerate(kept) if i % KERNEL_HELDOUT_EVERY == KERNEL_HELDOUT_INDEX]
    return train, held


# A second, stricter held-out kernel text: every HELDOUT_KERNEL_EVERY-th ``.c`` file (sorted by
# path) under ``drivers/``, a directory that no training file comes from.
HELDOUT_KERNEL_DIR = "drivers"
HELDOUT_KERNEL_EVERY = 300


def heldout_drivers_files(root: Path) -> list[str]:
    """Held-out driver files, relative to ``root`` (see ``HELDOUT_KERNEL_DIR``)."""
    found = _source_files(root, HELDOUT_KERNEL_DIR, (".c",))
    return sorted(found)[::HELDOUT_KERNEL_EVERY]


def heldout_drivers_provenance() -> tuple[dict, str]:
    root = kernel_tree()
    files = heldout_drivers_files(root)
    text = read_text([str(root / f) for f in files])
    return {
        "file_rule": f"files ending in .c under {HELDOUT_KERNEL_DIR}/ of the kernel tree (no "
        f"training file comes from there), regular files, no 'uapi' directory, sorted by code "
        f"point; every {HELDOUT_KERNEL_EVERY}th, starting with the first",
        "files": len(files),
        "chars": len(text),
        "file_list": files,
    }, text


def kernel_provenance(held_text: str) -> tuple[dict, str, str]:
    """(provenance, training text, held-out text) of the kernel C."""
    root = kernel_tree()
    kept, dropped = kernel_files(root, held_text)
    train, held = split_kernel_files(kept)
    text = read_text([str(root / f) for f in train])
    held_out = read_text([str(root / f) for f in held])
    return {
        "package": f"{KERNEL_PACKAGE} {KERNEL_VERSION} all (Debian bookworm; apt-get download "
        f"{KERNEL_PACKAGE}={KERNEL_VERSION}, then usr/src/{KERNEL_PACKAGE}.tar.xz)",
        "file_rule": f"files ending in .c or .h under {', '.join(KERNEL_DIRS)} of the kernel "
        "tree, regular files, no path with a 'uapi' directory, sorted by code point",
        "overlap_rule": f"dropped when >= {OVERLAP_MIN_LINES} and >= {OVERLAP_SHARE:.0%} of its "
        f"stripped lines of >= {OVERLAP_LINE_CHARS} characters occur in the held-out headers",
        "split_rule": f"index i in the list of kept files: held out iff i % "
        f"{KERNEL_HELDOUT_EVERY} == {KERNEL_HELDOUT_INDEX}",
        "text_rule": "each file decoded as UTF-8 with errors replaced by U+FFFD; "
        "a split = its files concatenated in list order with nothing between",
        "train_files": len(train),
        "train_chars": len(text),
        "heldout_files": len(held),
        "heldout_chars": len(held_out),
        "train_unknown_chars": int((encode(text) == UNKNOWN).sum()),
        "heldout_file_list": held,
        "dropped_for_overlap": dropped,
    }, text, held_out


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


def state_layers(sess) -> int:
    """The leading dim of the session's `h0` input (LSTM layers stacked)."""
    shape = next(i.shape for i in sess.get_inputs() if i.name == "h0")
    return shape[0] if isinstance(shape[0], int) else 1


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
            layers = state_layers(sess)
            z = np.zeros((layers, len(batch), hidden), dtype=np.float32)
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
