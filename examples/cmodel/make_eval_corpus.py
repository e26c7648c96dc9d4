"""Writes ``eval.c``: a deterministic, synthetic C evaluation corpus.

The text is generated from scratch by a small random grammar of C (seeded,
``random.Random(SEED)``), not copied from any code base.  It is meant to look
like kernel-style C and to exercise what the character model and its
hypothesis functions care about:

* block comments (``/* ... */``, single- and multi-line, kernel ``*``
  continuation style) and line comments (``// ...``);
* string literals with escapes (``\\n``, ``\\t``, ``\\"``, ``%d``) and char
  literals (``'a'``, ``'\\n'``, ``'\\0'``, ``'\\\\'``, ``'\\''``);
* nested parentheses (arithmetic, casts, calls inside calls, conditions) and
  nested braces (functions, ``if``/``else``, ``for``, ``while``, ``do``,
  ``switch``, struct and array initialisers);
* tab indentation that follows the brace depth;
* keywords: ``struct``, ``enum``, ``union``, ``typedef``, ``static``,
  ``const``, ``unsigned``, ``return``, ``if``, ``else``, ``for``, ``while``,
  ``do``, ``switch``, ``case``, ``break``, ``continue``, ``goto``,
  ``sizeof``, ``#include``, ``#define``, ``#ifdef``/``#endif``.

The program is syntactically plausible C; it is not meant to compile.  Only
printable ASCII, ``\\n`` and ``\\t`` are written, lines end with ``\\n``.

Command (from the repository root; byte-identical output on every run)::

    python3 examples/cmodel/make_eval_corpus.py
"""

from __future__ import annotations

import random
from pathlib import Path

SEED = 4242
TARGET_BYTES = 64 * 1024
HERE = Path(__file__).resolve().parent

NOUNS = (
    "buf len count node dev queue entry list head tail page frame slot port "
    "reg irq flag mode state ctx req resp packet msg key val index offset size "
    "table map cache block sector inode file path name id mask bit timer clock "
    "rate limit level stat err lock ref owner parent child link hash seq pos "
    "range width height data info desc ring chan addr base cfg opts"
).split()
VERBS = (
    "get set init free alloc read write parse check update reset flush find "
    "insert remove lookup copy fill clear start stop open close map unmap "
    "enable disable attach detach probe handle send recv push pop scan"
).split()
PREFIXES = "foo bar sys net io mm fs blk usb pci drm snd kvm".split()
SCALARS = [
    "int", "unsigned int", "long", "unsigned long", "size_t", "char",
    "unsigned char", "u8", "u16", "u32", "u64", "s32", "bool",
]
WORDS = (
    "the a this that each every caller callee buffer length value pointer "
    "entry list table lock must should may not be is are was held before "
    "after while when if we it returns holds points to from into with for "
    "of and or only always never first last next previous current new old "
    "zero negative error success failure count size index slot state device "
    "queue request reply page frame timeout retry limit bound range check "
    "update release acquire free allocate copy clear set reset"
).split()


class Gen:
    """The random C grammar; every method returns text."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.structs: list[tuple[str, list[tuple[str, str]]]] = []
        self.enums: list[list[str]] = []
        self.functions: list[str] = []
        self.macros: list[str] = []

    # ----- words -------------------------------------------------------
    def ident(self, parts: int | None = None) -> str:
        n = parts or self.r.choice([1, 1, 2, 2, 2, 3])
        pool = [self.r.choice(NOUNS) for _ in range(n)]
        return "_".join(pool)

    def var(self) -> str:
        return self.r.choice(
            [self.r.choice(NOUNS), self.ident(2), self.r.choice("ijkn"), "ret", "rc"]
        )

    def fname(self) -> str:
        return f"{self.r.choice(PREFIXES)}_{self.r.choice(VERBS)}_{self.ident(1)}"

    def sentence(self, lo: int = 4, hi: int = 12) -> str:
        words = [self.r.choice(WORDS) for _ in range(self.r.randint(lo, hi))]
        s = " ".join(words)
        return s[0].upper() + s[1:] + self.r.choice([".", ".", ".", ":", "?"])

    def ctype(self) -> str:
        if self.structs and self.r.random() < 0.3:
            return f"struct {self.r.choice(self.structs)[0]} *"
        t = self.r.choice(SCALARS)
        if self.r.random() < 0.25:
            t = ("const " if self.r.random() < 0.4 else "") + t + " *"
        return t

    # ----- literals -----------------------------------------------------
    def number(self) -> str:
        k = self.r.random()
        if k < 0.5:
            return str(self.r.randint(0, 64))
        if k < 0.75:
            return hex(self.r.randint(0, 0xFFFF))
        if k < 0.9:
            return str(self.r.choice([128, 256, 512, 1024, 4096, 65535]))
        return f"{self.r.randint(1, 32)}UL"

    def char_lit(self) -> str:
        return self.r.choice(
            ["'a'", "'z'", "'0'", "'9'", "' '", "'\\n'", "'\\t'", "'\\0'",
             "'\\\\'", "'\\''", "'\"'", "'/'", "'*'", "'('", "')'", "'{'",
             "'}'", "';'", "'x'", "'_'"]
        )

    def string_lit(self) -> str:
        words = [self.r.choice(WORDS) for _ in range(self.r.randint(1, 6))]
        s = " ".join(words)
        extras = ["", ": %d", " %s", " (%u)", " 0x%x", "\\n", "\\t%ld\\n",
                  " \\\"%s\\\"", ": %zu bytes\\n", " [%c]"]
        return '"' + s + self.r.choice(extras) + '"'

    # ----- expressions --------------------------------------------------
    def atom(self, depth: int = 1) -> str:
        k = self.r.random()
        if k < 0.35:
            return self.var()
        if k < 0.55:
            return self.number()
        if k < 0.65 and self.structs:
            name, fields = self.r.choice(self.structs)
            return f"{self.ident(1)}->{self.r.choice(fields)[1]}"
        if k < 0.72:
            return self.char_lit()
        if k < 0.78 and self.macros:
            return self.r.choice(self.macros)
        if k < 0.84:
            return f"sizeof({self.r.choice(['*' + self.var(), self.ctype().strip()])})"
        if depth <= 0:
            return self.var()
        return f"{self.r.choice(NOUNS)}[{self.expr(depth - 1)}]"

    def expr(self, depth: int = 3) -> str:
        if depth <= 0 or self.r.random() < 0.3:
            return self.atom(depth)
        k = self.r.random()
        if k < 0.45:
            op = self.r.choice(["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"])
            return f"{self.expr(depth - 1)} {op} {self.expr(depth - 1)}"
        if k < 0.7:
            return f"({self.expr(depth - 1)})"
        if k < 0.85:
            return self.call(depth - 1)
        if k < 0.92:
            return f"({self.r.choice(SCALARS)})({self.expr(depth - 1)})"
        return f"{self.expr(depth - 1)} ? {self.atom(0)} : {self.atom(0)}"

    def call(self, depth: int = 2) -> str:
        name = self.r.choice(self.functions) if self.functions and self.r.random() < 0.6 else self.fname()
        args = [self.expr(max(depth - 1, 0)) for _ in range(self.r.randint(0, 3))]
        return f"{name}({', '.join(args)})"

    def cond(self, depth: int = 2) -> str:
        k = self.r.random()
        if k < 0.4:
            op = self.r.choice(["==", "!=", "<", ">", "<=", ">="])
            return f"{self.expr(depth)} {op} {self.expr(depth)}"
        if k < 0.6:
            return f"!{self.call(1)}"
        if k < 0.8:
            return f"({self.cond(depth - 1)}) {self.r.choice(['&&', '||'])} ({self.cond(depth - 1)})"
        return self.var()

    # ----- statements ---------------------------------------------------
    def comment(self, ind: str) -> str:
        if self.r.random() < 0.5:
            return f"{ind}// {self.sentence(3, 9)}\n"
        if self.r.random() < 0.5:
            return f"{ind}/* {self.sentence(3, 9)} */\n"
        lines = [f"{ind}/*\n"]
        for _ in range(self.r.randint(1, 4)):
            lines.append(f"{ind} * {self.sentence()}\n")
        lines.append(f"{ind} */\n")
        return "".join(lines)

    def simple(self, ind: str) -> str:
        k = self.r.random()
        if k < 0.3:
            tail = ""
            if self.r.random() < 0.3:
                tail = f" /* {self.sentence(2, 5)} */"
            return f"{ind}{self.var()} {self.r.choice(['=', '+=', '-=', '|=', '&='])} {self.expr()};{tail}\n"
        if k < 0.5:
            return f"{ind}{self.call()};\n"
        if k < 0.65:
            return f'{ind}pr_{self.r.choice(["info", "err", "debug", "warn"])}({self.string_lit()}, {self.expr(1)});\n'
        if k < 0.75:
            return f"{ind}{self.var()}++;\n"
        if k < 0.85 and self.structs:
            name, fields = self.r.choice(self.structs)
            return f"{ind}{self.ident(1)}->{self.r.choice(fields)[1]} = {self.expr(2)};\n"
        return f"{ind}if ({self.cond(1)})\n{ind}\treturn {self.r.choice(['-EINVAL', '-ENOMEM', '-EBUSY', '0', self.expr(1)])};\n"

    def block(self, depth: int, budget: int) -> str:
        ind = "\t" * depth
        out = []
        for _ in range(budget):
            k = self.r.random()
            if k < 0.12:
                out.append(self.comment(ind))
            if depth >= 4 or k < 0.5:
                out.append(self.simple(ind))
            elif k < 0.65:
                out.append(f"{ind}if ({self.cond()}) {{\n")
                out.append(self.block(depth + 1, self.r.randint(1, 3)))
                if self.r.random() < 0.4:
                    out.append(f"{ind}}} else {{\n")
                    out.append(self.block(depth + 1, self.r.randint(1, 2)))
                out.append(f"{ind}}}\n")
            elif k < 0.77:
                v = self.r.choice("ijk")
                out.append(f"{ind}for ({v} = 0; {v} < {self.expr(1)}; {v}++) {{\n")
                out.append(self.block(depth + 1, self.r.randint(1, 3)))
                out.append(f"{ind}}}\n")
            elif k < 0.85:
                out.append(f"{ind}while ({self.cond(1)}) {{\n")
                out.append(self.block(depth + 1, self.r.randint(1, 3)))
                if self.r.random() < 0.3:
                    out.append(f"{ind}\t{self.r.choice(['break', 'continue'])};\n")
                out.append(f"{ind}}}\n")
            elif k < 0.9:
                out.append(f"{ind}do {{\n")
                out.append(self.block(depth + 1, self.r.randint(1, 2)))
                out.append(f"{ind}}} while ({self.cond(1)});\n")
            else:
                out.append(f"{ind}switch ({self.var()}) {{\n")
                for _ in range(self.r.randint(1, 4)):
                    label = self.r.choice([self.number(), self.char_lit()] + (self.r.choice(self.enums) if self.enums else []))
                    out.append(f"{ind}case {label}:\n")
                    out.append(self.block(depth + 1, 1))
                    out.append(f"{ind}\tbreak;\n")
                out.append(f"{ind}default:\n{ind}\tgoto out;\n{ind}}}\n")
        return "".join(out)

    # ----- top level ----------------------------------------------------
    def struct(self) -> str:
        name = self.ident(self.r.choice([1, 2]))
        fields = []
        out = [f"/* {self.sentence(3, 8)} */\n", f"struct {name} {{\n"]
        for _ in range(self.r.randint(2, 7)):
            t, f = self.ctype(), self.ident(self.r.choice([1, 1, 2]))
            fields.append((t, f))
            arr = f"[{self.r.choice(['16', '32', 'NR_' + self.r.choice(NOUNS).upper() + 'S'])}]" if self.r.random() < 0.15 else ""
            sep = "" if t.endswith("*") else " "
            note = f"\t/* {self.sentence(2, 5)} */" if self.r.random() < 0.35 else ""
            out.append(f"\t{t}{sep}{f}{arr};{note}\n")
        if self.r.random() < 0.3:
            out.append(f"\tunion {{\n\t\tu32 {self.ident(1)};\n\t\tvoid *{self.ident(1)};\n\t}};\n")
        out.append("};\n\n")
        self.structs.append((name, fields))
        return "".join(out)

    def enum(self) -> str:
        base = self.r.choice(PREFIXES).upper() + "_" + self.r.choice(NOUNS).upper()
        names = [f"{base}_{self.r.choice(NOUNS + VERBS).upper()}" for _ in range(self.r.randint(2, 6))]
        names = list(dict.fromkeys(names))
        self.enums.append(names)
        body = "".join(f"\t{n} = {i},\n" if self.r.random() < 0.5 else f"\t{n},\n" for i, n in enumerate(names))
        return f"enum {self.ident(1)}_{self.r.choice(NOUNS)} {{\n{body}}};\n\n"

    def define(self) -> str:
        name = (self.r.choice(PREFIXES) + "_" + self.ident(2)).upper()
        self.macros.append(name)
        if self.r.random() < 0.6:
            return f"#define {name}\t{self.number()}\n"
        a, b = self.r.choice(NOUNS), self.r.choice(NOUNS)
        if a == b:
            b = b + "2"
        return f"#define {name}({a}, {b})\t((({a}) {self.r.choice(['+', '<<', '&', '|'])} ({b})) & {self.number()})\n"

    def function(self) -> str:
        name = self.fname()
        params = []
        for _ in range(self.r.randint(0, 4)):
            t = self.ctype()
            params.append(f"{t}{'' if t.endswith('*') else ' '}{self.ident(1)}")
        ret = self.r.choice(["int", "int", "void", "long", "bool", "size_t", "u32"])
        out = []
        if self.r.random() < 0.7:
            out.append("/**\n")
            out.append(f" * {name}() - {self.sentence(3, 7)}\n")
            for p in params:
                out.append(f" * @{p.split()[-1].lstrip('*')}: {self.sentence(2, 6)}\n")
            out.append(" *\n")
            out.append(f" * Return: {self.sentence(3, 8)}\n */\n")
        static = "static " if self.r.random() < 0.7 else ""
        inline = "inline " if static and self.r.random() < 0.2 else ""
        out.append(f"{static}{inline}{ret} {name}({', '.join(params) or 'void'})\n{{\n")
        for _ in range(self.r.randint(1, 4)):
            t = self.r.choice(SCALARS)
            init = f" = {self.number()}" if self.r.random() < 0.5 else ""
            out.append(f"\t{t} {self.var()}{init};\n")
        if self.r.random() < 0.3:
            out.append(f"\tstatic const char *{self.ident(1)}_names[] = {{\n")
            for _ in range(self.r.randint(2, 4)):
                out.append(f"\t\t{self.string_lit()},\n")
            out.append("\t};\n")
        out.append("\n")
        out.append(self.block(1, self.r.randint(3, 8)))
        out.append("out:\n")
        out.append("\treturn;\n" if ret == "void" else f"\treturn {self.expr(2)};\n")
        out.append("}\n\n")
        self.functions.append(name)
        return "".join(out)

    def file(self, target: int) -> str:
        out = [
            "/*\n * eval.c - synthetic evaluation corpus for the character model.\n",
            " * Generated by examples/cmodel/make_eval_corpus.py; do not edit.\n */\n\n",
        ]
        for h in ["linux/types.h", "linux/kernel.h", "linux/list.h", "linux/slab.h", "linux/errno.h"]:
            out.append(f"#include <{h}>\n")
        out.append('#include "eval_local.h"\n\n')
        size = sum(map(len, out))
        while size < target:
            k = self.r.random()
            if k < 0.15:
                part = "".join(self.define() for _ in range(self.r.randint(1, 4))) + "\n"
            elif k < 0.3:
                part = self.struct()
            elif k < 0.38:
                part = self.enum()
            elif k < 0.42:
                m = self.r.choice(PREFIXES).upper()
                part = f"#ifdef CONFIG_{m}_DEBUG\n{self.define()}#else\n{self.define()}#endif /* CONFIG_{m}_DEBUG */\n\n"
            else:
                part = self.function()
            out.append(part)
            size += len(part)
        return "".join(out)


def main() -> None:
    text = Gen(SEED).file(TARGET_BYTES)
    assert all(c in "\n\t" or " " <= c <= "~" for c in text)
    (HERE / "eval.c").write_text(text)
    print(f"wrote {HERE / 'eval.c'}: {len(text)} chars, {text.count(chr(10))} lines")


if __name__ == "__main__":
    main()
