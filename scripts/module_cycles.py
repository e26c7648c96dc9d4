#!/usr/bin/env python3
"""Lists the import edges between luigi-test's modules and any cycles.

    python3 scripts/module_cycles.py [--depth 1|2]

A module is a top-level module of the crate (depth 1: `score`, `expect`) or
a second-level one (depth 2: `score::engine`). An edge A -> B means a file
of A names `crate::B` (or `super::` resolving to B) outside its test code.
Exits 1 when a cycle exists at the chosen depth, so it can guard the layering.
"""
import os
import re
import sys

# crate-root re-exports of modules that live elsewhere
ALIASES = {"ranking": ["score", "ranking"], "_macro_support": ["expect", "macro_support"]}

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "luigi-test", "src")


def module_of(path, depth):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel[:depth])


def strip_tests(text):
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]


def resolve(parts, path):
    """parts: the file's module path (full); returns the absolute path a super:: chain names."""
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    is_mod = rel[-1] in ("mod", "lib")
    here = rel[:-1] if is_mod else rel
    return here


def main():
    depth = 1
    if "--depth" in sys.argv:
        depth = int(sys.argv[sys.argv.index("--depth") + 1])
    edges = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".rs") or f == "tests.rs" or dirpath.endswith("tests"):
                continue
            path = os.path.join(dirpath, f)
            src = module_of(path, depth)
            here = resolve(None, path)
            text = strip_tests(open(path, encoding="utf-8").read())
            # drop comments (doc links are not imports)
            text = "\n".join(l.split("//")[0] for l in text.splitlines())
            targets = set()
            for m in re.finditer(r"\bcrate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?", text):
                path = [x for x in m.groups() if x]
                # public re-exports at the crate root name the module they re-export
                path = ALIASES.get(path[0], [path[0]]) + path[1:]
                targets.add(tuple(path)[:depth])
            for m in re.finditer(r"\b((?:super::)+)([a-z_][a-z0-9_]*)?", text):
                ups = m.group(1).count("super::")
                base = here[: len(here) - ups]
                name = m.group(2)
                full = base + ([name] if name else [])
                targets.add(tuple(full[:depth]) if full else ())
            for t in targets:
                if not t or t == src or (len(t) < depth and t == src[: len(t)]):
                    continue
                # a path into a module below src at this depth is not an edge
                if t[: len(src)] == src:
                    continue
                edges.setdefault(src, set()).add(t)
    names = sorted(set(edges) | {t for ts in edges.values() for t in ts})
    for n in names:
        print("::".join(n) or "(root)", "->", ", ".join(sorted("::".join(t) for t in edges.get(n, ()))))
    # cycles by Tarjan's strongly connected components
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for n in names:
        if n not in index:
            strong(n)
    for c in comps:
        print("cycle:", " <-> ".join(sorted("::".join(x) for x in c)))
    print(f"{len(comps)} cycle(s) at depth {depth}")
    return 1 if comps else 0


if __name__ == "__main__":
    sys.exit(main())
