"""An on-disk cache of parsed files, like mypy's and ruff's: `check` in a loop parses nothing twice.

Entries are keyed by a hash of everything that decides the result: resdsl's version, the
grammar, the source of the parser and of the syntax tree classes, the file's path and its text.
They live in a private folder (``RESDSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/resdsl`` or
``~/.cache/resdsl``; an empty ``RESDSL_CACHE_DIR`` turns caching off), are written atomically,
and any entry that fails to load is simply ignored and parsed again.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .resources import grammar_path


@cache
def cache_dir() -> Path | None:
    folder = os.environ.get("RESDSL_CACHE_DIR")
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "resdsl")
    if not folder:
        return None
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return Path(folder) if os.access(folder, os.W_OK) else None


@cache
def _salt() -> bytes:
    here = Path(__file__).resolve().parent
    parts = [__version__.encode(), grammar_path().read_bytes()]
    parts += [(here / name).read_bytes() for name in ("parser.py", "ast.py", "source.py")]
    return hashlib.sha256(b"\0".join(parts)).digest()


def _entry(path: str, text: str) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256(_salt() + path.encode() + b"\0" + text.encode("utf-8", "surrogatepass")).hexdigest()
    return folder / "ast" / f"{key[:32]}.pickle"


def load(path: str, text: str) -> Any | None:
    entry = _entry(path, text)
    if entry is None:
        return None
    try:
        with open(entry, "rb") as handle:
            return pickle.load(handle)
    except Exception:  # a missing, truncated or stale entry: parse again
        return None


def store(path: str, text: str, value: Any) -> None:
    entry = _entry(path, text)
    if entry is None:
        return
    try:
        from .fsutil import atomic_write

        entry.parent.mkdir(mode=0o700, exist_ok=True)
        atomic_write(entry, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except (OSError, pickle.PicklingError, RecursionError):
        pass  # caching is an optimisation; never a reason to fail
