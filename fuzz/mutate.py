"""Token-level mutation of real specs: delete, duplicate, swap, truncate, replace numbers and names."""

from __future__ import annotations

import random
import re

# Comments, whitespace runs, numbers and sizes, identifiers, strings, operators, anything else.
_TOKEN = re.compile(
    r"#[^\n]*|\n|[ \t]+|\d+(?:x\d+)+|\d+\.\d*|\d+|[A-Za-z_][A-Za-z0-9_]*|\"[^\"\n]*\"|->|==|!=|<=|>=|.",
    re.S,
)
NUMBERS = [
    "0",
    "-1",
    "1",
    "2",
    "3",
    "1000000000000",
    "99999999999999999999",
    "0.5",
    "1e999",
    "7x7",
    "0x0",
    "3x3x3",
]
NAMES = [
    "conv", "relu", "residual", "branch", "basic", "bottleneck", "classes", "stride", "width", "A", "none",
    "identity", "layer1", "x", "__import__", "class", "self", "forward", "downsample", "std", "network",
    "block", "stage", "input", "classifier", "imagenet", "a" * 80,
]  # fmt: skip
JUNK = ["{", "}", "(", ")", ":", ",", "->", "=", "\n", '"', "'", "\\", "\x00", "é", "а", "\t", ";", "@", "$"]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _significant(toks: list[str]) -> list[int]:
    return [i for i, t in enumerate(toks) if not t.isspace()]


def mutate(text: str, rng: random.Random, rounds: int = 1) -> str:
    toks = tokens(text)
    for _ in range(rounds):
        idx = _significant(toks)
        if not idx:
            break
        i = rng.choice(idx)
        kind = rng.randrange(8)
        if kind == 0:  # delete
            del toks[i]
        elif kind == 1:  # duplicate
            toks.insert(i, toks[i])
        elif kind == 2:  # swap with another token
            j = rng.choice(idx)
            toks[i], toks[j] = toks[j], toks[i]
        elif kind == 3:  # truncate the file
            toks = toks[:i]
        elif kind == 4:  # a number becomes another, maybe absurd
            nums = [k for k in idx if toks[k][0].isdigit()] or [i]
            toks[rng.choice(nums)] = rng.choice(NUMBERS)
        elif kind == 5:  # a name becomes another
            names = [k for k in idx if toks[k][0].isalpha() or toks[k][0] == "_"] or [i]
            toks[rng.choice(names)] = rng.choice(NAMES)
        elif kind == 6:  # junk inserted
            toks.insert(i, rng.choice(JUNK))
        else:  # duplicate a whole line
            lines = "".join(toks).split("\n")
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k])
            toks = tokens("\n".join(lines))
    return "".join(toks)
